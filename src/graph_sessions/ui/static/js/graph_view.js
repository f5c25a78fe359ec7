// Drawing a graph (GET /graphs/{id}: {nodes: [{id, name}], edges: [{source, target,
// conditional}]}) as SVG built node by node (no library, no markup strings): a layered
// top-down layout where a node's layer is its longest path from __start__ (edges that close
// a cycle are left out of that count and drawn round the right side), boxes with the node
// names, edges as curves, conditional edges dashed.

const SVG = "http://www.w3.org/2000/svg";
const BOX_H = 32;
const LAYER_GAP = 64;
const NODE_GAP = 28;
const MARGIN = 16;
let drawings = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function boxWidth(name) {
  return Math.max(64, Math.round(String(name).length * 8.2) + 24);
}

/**
 * Where every node goes: {positions: Map(id → {x, y, w, h, layer}), back: Set("src\u0000dst"),
 * width, height}. Layers by longest path from __start__ over the edges that do not close a
 * cycle; nodes __start__ cannot reach start a layer of their own at the top; __end__ is
 * put on the last layer.
 */
export function layoutGraph(graph) {
  const ids = graph.nodes.map((n) => n.id);
  const names = new Map(graph.nodes.map((n) => [n.id, n.name ?? n.id]));
  const known = new Set(ids);
  const out = new Map(ids.map((id) => [id, []]));
  for (const e of graph.edges) {
    if (known.has(e.source) && known.has(e.target)) out.get(e.source).push(e.target);
  }
  // depth-first from __start__ (then from every node not reached): an edge to a node on the
  // current path closes a cycle
  const back = new Set();
  const seen = new Set();
  const onPath = new Set();
  const roots = [...(known.has("__start__") ? ["__start__"] : []), ...ids];
  for (const root of roots) {
    if (seen.has(root)) continue;
    const stack = [[root, 0]];
    seen.add(root);
    onPath.add(root);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      const targets = out.get(node);
      if (i >= targets.length) {
        onPath.delete(node);
        stack.pop();
        continue;
      }
      top[1] += 1;
      const target = targets[i];
      if (onPath.has(target)) back.add(`${node}\u0000${target}`);
      else if (!seen.has(target)) {
        seen.add(target);
        onPath.add(target);
        stack.push([target, 0]);
      }
    }
  }
  // longest path over the forward edges (Kahn's order)
  const indegree = new Map(ids.map((id) => [id, 0]));
  for (const [source, targets] of out) {
    for (const t of targets) if (!back.has(`${source}\u0000${t}`) && source !== t) indegree.set(t, indegree.get(t) + 1);
  }
  const layer = new Map(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indegree.get(id) === 0);
  while (queue.length) {
    const node = queue.shift();
    for (const t of out.get(node)) {
      if (back.has(`${node}\u0000${t}`) || node === t) continue;
      layer.set(t, Math.max(layer.get(t), layer.get(node) + 1));
      indegree.set(t, indegree.get(t) - 1);
      if (indegree.get(t) === 0) queue.push(t);
    }
  }
  const last = Math.max(0, ...layer.values());
  if (known.has("__end__")) {
    const others = ids.filter((id) => id !== "__end__" && layer.get(id) === last);
    layer.set("__end__", others.length ? last + 1 : last);
  }
  const layers = [];
  for (const id of ids) {
    const l = layer.get(id);
    (layers[l] ||= []).push(id);
  }
  // order within a layer: one pass of barycentres of the nodes above
  const index = new Map();
  const inbound = new Map(ids.map((id) => [id, []]));
  for (const [source, targets] of out) for (const t of targets) inbound.get(t).push(source);
  layers.forEach((members, l) => {
    if (l > 0) {
      const centre = (id) => {
        const above = inbound.get(id).filter((s) => index.has(s) && layer.get(s) < l);
        return above.length ? above.reduce((a, s) => a + index.get(s), 0) / above.length : Infinity;
      };
      const keyed = members.map((id, i) => [centre(id), i, id]);
      keyed.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
      layers[l] = keyed.map((k) => k[2]);
    }
    (layers[l] || []).forEach((id, i) => index.set(id, i));
  });
  const rowWidths = layers.map((members) =>
    (members || []).reduce((sum, id) => sum + boxWidth(names.get(id)), 0) + NODE_GAP * Math.max(0, (members || []).length - 1),
  );
  const inner = Math.max(0, ...rowWidths);
  const hasBack = back.size > 0 || graph.edges.some((e) => e.source === e.target);
  const width = inner + 2 * MARGIN + (hasBack ? 60 : 0);
  const positions = new Map();
  layers.forEach((members, l) => {
    let x = MARGIN + (inner - rowWidths[l]) / 2;
    for (const id of members || []) {
      const w = boxWidth(names.get(id));
      positions.set(id, { x, y: MARGIN + l * (BOX_H + LAYER_GAP), w, h: BOX_H, layer: l });
      x += w + NODE_GAP;
    }
  });
  const height = 2 * MARGIN + layers.length * BOX_H + Math.max(0, layers.length - 1) * LAYER_GAP;
  return { positions, back, width, height, names };
}

function edgePath(a, b, isBack, self) {
  if (self) {
    const x = a.x + a.w;
    const y = a.y + a.h / 2;
    return `M ${x} ${y - 8} C ${x + 36} ${y - 26}, ${x + 36} ${y + 26}, ${x} ${y + 8}`;
  }
  if (isBack || b.layer <= a.layer) {
    const x1 = a.x + a.w;
    const y1 = a.y + a.h / 2;
    const x2 = b.x + b.w;
    const y2 = b.y + b.h / 2;
    const bulge = Math.max(x1, x2) + 40 + 8 * Math.abs(a.layer - b.layer);
    return `M ${x1} ${y1} C ${bulge} ${y1}, ${bulge} ${y2}, ${x2} ${y2}`;
  }
  const x1 = a.x + a.w / 2;
  const y1 = a.y + a.h;
  const x2 = b.x + b.w / 2;
  const y2 = b.y;
  const dy = (y2 - y1) / 2;
  return `M ${x1} ${y1} C ${x1} ${y1 + dy}, ${x2} ${y2 - dy}, ${x2} ${y2}`;
}

/**
 * Draw `graph` ({graph_id, nodes: [{id, name}], edges: [{source, target, conditional}]})
 * into `container` (its children replaced) as an SVG; `highlight` names a node (its id or
 * name) drawn as the current one. Returns the <svg> element; every node is a
 * `g.gnode[data-node=<id>]`, every edge a `path.gedge[data-source][data-target]`.
 */
export function drawGraph(container, graph, { highlight = null } = {}) {
  const { positions, back, width, height, names } = layoutGraph(graph);
  const marker = `garrow-${++drawings}`;
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": `graph ${graph.graph_id ?? ""}: ${graph.nodes.length} nodes, ${graph.edges.length} edges`,
    class: "graph-svg",
  });
  svg.append(
    el(
      "defs",
      {},
      el(
        "marker",
        { id: marker, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "garrow" }),
      ),
    ),
  );
  const edges = el("g", { class: "gedges" });
  for (const e of graph.edges) {
    const a = positions.get(e.source);
    const b = positions.get(e.target);
    if (!a || !b) continue;
    const isBack = back.has(`${e.source}\u0000${e.target}`);
    edges.append(
      el(
        "path",
        {
          d: edgePath(a, b, isBack, e.source === e.target),
          class: e.conditional ? "gedge conditional" : "gedge",
          "marker-end": `url(#${marker})`,
          "data-source": e.source,
          "data-target": e.target,
          "data-conditional": e.conditional ? "true" : "false",
        },
        el("title", {}, `${names.get(e.source)} → ${names.get(e.target)}${e.conditional ? " (conditional)" : ""}`),
      ),
    );
  }
  const nodes = el("g", { class: "gnodes" });
  for (const n of graph.nodes) {
    const p = positions.get(n.id);
    const name = n.name ?? n.id;
    const current = highlight !== null && (highlight === n.id || highlight === name);
    const classes = ["gnode"];
    if (n.id === "__start__" || n.id === "__end__") classes.push("terminal");
    if (current) classes.push("current");
    nodes.append(
      el(
        "g",
        {
          class: classes.join(" "),
          transform: `translate(${p.x} ${p.y})`,
          "data-node": n.id,
          "aria-current": current ? "step" : null,
        },
        el("title", {}, current ? `${name} (current)` : name),
        el("rect", { width: p.w, height: p.h, rx: 6, ry: 6 }),
        el("text", { x: p.w / 2, y: p.h / 2, "text-anchor": "middle", "dominant-baseline": "central" }, name),
      ),
    );
  }
  svg.append(edges, nodes);
  container.replaceChildren(svg);
  return svg;
}
