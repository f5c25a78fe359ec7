// A JSON value as a collapsible tree of text: objects and lists are <details> whose children
// are built only when opened, lists come in windows of 100 items ("show 100 more"), long
// strings are clipped with "show all". Nothing is ever parsed as HTML.

import { h } from "../dom.js";

/** Items of a list shown per window. */
export const WINDOW = 100;
/** Characters of a string shown before "show all". */
export const CLIP = 300;

function kindOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  return typeof value;
}

function isBranch(value) {
  return value !== null && typeof value === "object";
}

/** A string clipped to CLIP characters with a "show all" button. */
export function clippedText(text, cls = "tree-string") {
  if (text.length <= CLIP) return h("span", { class: cls, text });
  const span = h("span", { class: cls, text: `${text.slice(0, CLIP)}…` });
  const more = h("button", {
    type: "button",
    class: "link",
    "aria-label": `show all ${text.length} characters`,
    onclick: () => {
      span.textContent = text;
      more.remove();
    },
    text: `show all (${text.length})`,
  });
  return h("span", {}, span, " ", more);
}

function leaf(value) {
  if (typeof value === "string") return clippedText(value);
  return h("span", { class: `tree-${kindOf(value)}`, text: JSON.stringify(value) ?? String(value) });
}

function summaryText(value) {
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? "" : "s"}]`;
  const n = Object.keys(value).length;
  return `{${n} key${n === 1 ? "" : "s"}}`;
}

/**
 * The tree of `value`. `open` is a Set of paths kept open across re-renders (the tree adds
 * and removes paths as the person opens and closes nodes); `openDepth` opens the first levels.
 */
export function valueTree(value, { open = new Set(), openDepth = 1 } = {}) {
  const root = h("div", { class: "tree", role: "group" });
  if (!isBranch(value)) {
    root.append(leaf(value));
    return root;
  }
  fillChildren(root, value, "$", open, openDepth, 1);
  return root;
}

function fillChildren(container, value, path, open, openDepth, depth) {
  const entries = Array.isArray(value) ? null : Object.entries(value);
  const total = entries ? entries.length : value.length;
  if (total === 0) {
    container.append(h("div", { class: "muted tree-empty", text: Array.isArray(value) ? "empty list" : "no keys" }));
    return;
  }
  const list = h("ul", { class: "tree-list" });
  container.append(list);
  let shown = 0;
  const more = h("button", { type: "button", class: "link tree-more" });
  const showWindow = () => {
    const end = Math.min(total, shown + WINDOW);
    const items = [];
    for (let i = shown; i < end; i++) {
      const [key, child] = entries ? entries[i] : [i, value[i]];
      const childPath = entries ? `${path}.${key}` : `${path}[${i}]`;
      items.push(node(String(key), child, childPath, open, openDepth, depth));
    }
    list.append(...items);
    shown = end;
    if (shown < total) {
      more.textContent = `show ${Math.min(WINDOW, total - shown)} more (${total - shown} left)`;
      if (!more.isConnected) container.append(more);
    } else more.remove();
  };
  more.addEventListener("click", showWindow);
  showWindow();
}

function node(key, value, path, open, openDepth, depth) {
  const label = h("span", { class: "tree-key", text: key });
  if (!isBranch(value)) return h("li", { dataset: { path } }, label, h("span", { class: "muted", text: ": " }), leaf(value));
  const details = h(
    "details",
    { dataset: { path } },
    h("summary", {}, label, " ", h("span", { class: "muted", text: summaryText(value) })),
  );
  let filled = false;
  const fill = () => {
    if (filled) return;
    filled = true;
    fillChildren(details, value, path, open, openDepth, depth + 1);
  };
  details.addEventListener("toggle", () => {
    if (details.open) {
      open.add(path);
      fill();
    } else open.delete(path);
  });
  if (open.has(path) || depth < openDepth) {
    fill();
    details.open = true;
  }
  return h("li", {}, details);
}
