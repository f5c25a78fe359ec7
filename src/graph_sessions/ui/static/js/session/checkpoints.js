// Checkpoints as a timeline (newest first, pages of 20, "load older"); two selected → the
// diff of their states; "Fork from here" makes a copy of one the head.

import { api, sessionPath } from "../api.js";
import { confirmDialog, fmtTime, h, replace } from "../dom.js";
import { diffTable, diffValues } from "./diff.js";

/** Checkpoints per page. */
export const PAGE = 20;

function writer(item, older) {
  const writes = item.metadata && item.metadata.writes;
  if (writes && typeof writes === "object") return Object.keys(writes).join(", ");
  if (older && Array.isArray(older.next) && older.next.length) return older.next.join(", ");
  return item.source === "input" ? "(input)" : "";
}

/** The checkpoints panel; `refresh()` reloads the newest page. */
export function checkpointsPanel(ctx) {
  let items = [];
  let more = false;
  let head = null;
  const selected = new Set();
  const body = h("tbody", { id: "checkpoint-rows" });
  const older = h("button", { type: "button", id: "checkpoints-older", text: "Load older", hidden: true });
  const compare = h("button", { type: "button", id: "checkpoints-compare", text: "Compare selected", disabled: true });
  const diffBox = h("div", { id: "diff", "aria-live": "polite" });

  const load = async (before) => {
    const page = await api("GET", sessionPath(ctx.id, "/checkpoints"), { query: { limit: PAGE + 1, before }, signal: ctx.signal });
    more = page.length > PAGE;
    return page.slice(0, PAGE);
  };

  const fork = async (item) => {
    if (!(await confirmDialog(`Fork from checkpoint step ${item.step}? A copy of it becomes the session's head; the next run continues from there.`, "Fork"))) return;
    await api("POST", sessionPath(ctx.id, "/fork"), { body: { checkpoint_id: item.checkpoint_id }, signal: ctx.signal });
    selected.clear();
    replace(diffBox);
    await ctx.refresh();
  };

  const draw = () => {
    for (const id of [...selected]) if (!items.some((c) => c.checkpoint_id === id)) selected.delete(id);
    compare.disabled = selected.size !== 2;
    older.hidden = !more;
    if (!items.length) {
      replace(body, h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No checkpoints yet." })));
      return;
    }
    replace(
      body,
      items.map((item, i) => {
        const box = h("input", {
          type: "checkbox",
          "aria-label": `select checkpoint step ${item.step}`,
          checked: selected.has(item.checkpoint_id),
          onchange: (event) => {
            if (event.target.checked) {
              selected.add(item.checkpoint_id);
              if (selected.size > 2) selected.delete(selected.values().next().value);
            } else selected.delete(item.checkpoint_id);
            draw();
          },
        });
        const isHead = item.checkpoint_id === head;
        return h(
          "tr",
          { dataset: { checkpointId: item.checkpoint_id, step: String(item.step) }, class: isHead ? "head" : "" },
          h("td", {}, box),
          h("td", { text: String(item.step) }, isHead ? h("span", { class: "badge", text: "head" }) : null),
          h("td", { text: item.source || "" }),
          h("td", { class: "mono", text: writer(item, items[i + 1]) }),
          h("td", { class: "hide-narrow", text: fmtTime(item.created_at) }),
          h("td", {}, h("button", { type: "button", class: "fork", "aria-label": `fork from checkpoint step ${item.step}`, text: "Fork from here", disabled: isHead, onclick: () => fork(item).catch(ctx.error) })),
        );
      }),
    );
  };

  older.addEventListener("click", async () => {
    try {
      items = items.concat(await load(items[items.length - 1].checkpoint_id));
      draw();
    } catch (error) {
      ctx.error(error);
    }
  });

  compare.addEventListener("click", async () => {
    const ids = items.filter((c) => selected.has(c.checkpoint_id)).map((c) => c.checkpoint_id);
    try {
      const [newer, older_] = await Promise.all(ids.map((id) => api("GET", sessionPath(ctx.id, "/state"), { query: { checkpoint_id: id }, signal: ctx.signal })));
      const step = (id) => items.find((c) => c.checkpoint_id === id).step;
      replace(
        diffBox,
        h("h3", { text: `From step ${step(ids[1])} to step ${step(ids[0])}` }),
        diffTable(diffValues(older_.values, newer.values)),
      );
    } catch (error) {
      ctx.error(error);
    }
  });

  const element = h(
    "section",
    { class: "panel", id: "checkpoints-panel", "aria-labelledby": "checkpoints-title" },
    h("h2", { id: "checkpoints-title", text: "Checkpoints" }),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "checkpoints" },
        h("thead", {}, h("tr", {}, h("th", { text: "pick" }), h("th", { text: "step" }), h("th", { text: "source" }), h("th", { text: "node" }), h("th", { class: "hide-narrow", text: "created" }), h("th", { text: "" }))),
        body,
      ),
    ),
    h("div", { class: "row" }, older, compare),
    diffBox,
  );

  return {
    element,
    async refresh(state) {
      head = state ? state.checkpoint_id : head;
      const count = Math.max(PAGE, items.length);
      let page = await load();
      // keep as many as the person loaded
      while (more && page.length < count) page = page.concat(await load(page[page.length - 1].checkpoint_id));
      items = page;
      draw();
    },
  };
}
