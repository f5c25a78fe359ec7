// The state panel: the head's values as a tree (./state_tree.js), and copy as JSON.

import { h, replace } from "../dom.js";
import { valueTree } from "./state_tree.js";
import { showNotice } from "../app.js";

/** The state panel; `update(state)` shows a GET /state answer, keeping opened nodes open. */
export function statePanel(ctx) {
  const open = new Set();
  const tree = h("div", { id: "state-tree" });
  const meta = h("p", { class: "muted", id: "state-checkpoint" });
  let values = {};
  let shown = null;
  const copy = h("button", {
    type: "button",
    id: "state-copy",
    text: "Copy as JSON",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(JSON.stringify(values, null, 2));
        showNotice("State copied as JSON.", "info");
      } catch (error) {
        ctx.error(new Error(`could not copy: ${error.message}`));
      }
    },
  });
  return {
    element: h("section", { class: "panel", id: "state-panel", "aria-labelledby": "state-title" }, h("div", { class: "row spread" }, h("h2", { id: "state-title", text: "State" }), copy), meta, tree),
    update(state) {
      values = state.values || {};
      meta.textContent = state.checkpoint_id ? `checkpoint ${state.checkpoint_id}` : "no checkpoint yet";
      const key = state.checkpoint_id || JSON.stringify(values);
      if (key === shown) return; // unchanged: keep the tree (and what the person opened)
      shown = key;
      replace(tree, valueTree(values, { open, openDepth: 1 }));
    },
  };
}
