// Graphs: #/graphs lists the graphs the server serves; #/graphs/<id> draws one
// (GET /graphs/{id}) with js/graph_view.js.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { drawGraph } from "../graph_view.js";

async function list(main) {
  const loading = h("p", { class: "muted", text: "Loading…" });
  replace(main, loading);
  const graphs = await api("GET", "/graphs");
  if (!loading.isConnected) return; // the person went elsewhere meanwhile
  replace(
    main,
    h("h1", { text: "Graphs" }),
    graphs.graphs.length
      ? h(
          "ul",
          { class: "graph-list" },
          graphs.graphs.map((g) =>
            h(
              "li",
              { dataset: { graph: g } },
              h("a", { href: `#/graphs/${encodeURIComponent(g)}`, text: g }),
              g === graphs.default ? h("span", { class: "muted", text: " (default)" }) : null,
            ),
          ),
        )
      : h("p", { class: "panel empty-state", text: "This server serves no graph." }),
  );
}

export default async function render(main, [graphId]) {
  if (!graphId) return list(main);
  const loading = h("p", { class: "muted", text: "Loading…" });
  replace(main, loading);
  const graph = await api("GET", `/graphs/${encodeURIComponent(graphId)}`);
  if (!loading.isConnected) return; // the person went elsewhere meanwhile
  const view = h("div", { class: "graph-view panel", id: "graph-view" });
  const conditional = graph.edges.filter((e) => e.conditional).length;
  replace(
    main,
    h("p", {}, h("a", { href: "#/graphs", text: "← Graphs" })),
    h("h1", {}, "Graph ", h("span", { class: "mono", text: graph.graph_id })),
    h("p", {
      class: "muted graph-legend",
      text: `${graph.nodes.length} nodes, ${graph.edges.length} edges (${conditional} conditional, dashed). Layers top-down by longest path from __start__.`,
    }),
    view,
    h(
      "p",
      {},
      h("a", { href: `#/sessions?graph=${encodeURIComponent(graph.graph_id)}`, text: `Sessions of ${graph.graph_id}` }),
    ),
  );
  drawGraph(view, graph);
}
