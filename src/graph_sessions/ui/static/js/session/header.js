// The session's header: id, status, owner, graph, task, times, the TTL counting down, run
// count, last error; its metadata (editable: PATCH with merge); suspend / unsuspend / delete.

import { api, sessionPath } from "../api.js";
import { confirmDialog, fmtTime, h, replace, statusBadge } from "../dom.js";
import { clippedText } from "./state_tree.js";

/** "1 h 02 min 05 s" for a number of seconds (>= 0). */
export function countdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d) return `${d} d ${hours} h ${pad(min)} min`;
  if (hours) return `${hours} h ${pad(min)} min ${pad(sec)} s`;
  if (min) return `${min} min ${pad(sec)} s`;
  return `${sec} s`;
}

/** A metadata value typed as JSON when it parses, else the text itself. */
export function typedValue(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function shownValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The header panel; `update(row)` shows a session row, `stop()` ends the countdown. */
export function sessionHeader(ctx) {
  const title = h("h1", { id: "session-title" });
  const facts = h("dl", { class: "facts", id: "session-facts" });
  const ttl = h("span", { id: "ttl", "aria-live": "off" });
  const actions = h("div", { class: "row", id: "session-actions" });
  const metaBody = h("tbody", { id: "metadata-rows" });
  let metaShown = null;
  let row = null;

  const tick = () => {
    if (!row) return;
    if (!row.expires_at) ttl.textContent = "never";
    else {
      const left = (new Date(row.expires_at).getTime() - Date.now()) / 1000;
      ttl.textContent = left > 0 ? `in ${countdown(left)}` : "expired";
      ttl.title = fmtTime(row.expires_at);
    }
  };
  const timer = setInterval(tick, 1000);

  const patch = async (metadata, merge) => {
    const updated = await api("PATCH", sessionPath(ctx.id), { body: { metadata, merge }, signal: ctx.signal });
    metaShown = null;
    ctx.refresh(updated);
  };

  const keyInput = h("input", { id: "meta-key", "aria-label": "new metadata key", placeholder: "key", autocomplete: "off" });
  const valueInput = h("input", { id: "meta-value", "aria-label": "new metadata value (JSON or text)", placeholder: "value (JSON or text)", autocomplete: "off" });
  const addForm = h(
    "form",
    {
      class: "row",
      id: "meta-add",
      onsubmit: (event) => {
        event.preventDefault();
        const key = keyInput.value.trim();
        if (!key) return;
        patch({ [key]: typedValue(valueInput.value) }, true)
          .then(() => {
            keyInput.value = "";
            valueInput.value = "";
          })
          .catch(ctx.error);
      },
    },
    keyInput,
    valueInput,
    h("button", { type: "submit", text: "Add" }),
  );

  const metaRows = (metadata) => {
    const entries = Object.entries(metadata || {});
    if (!entries.length) return [h("tr", {}, h("td", { colspan: 3, class: "muted", text: "No metadata." }))];
    return entries.map(([key, value]) => {
      const input = h("input", { "aria-label": `value of ${key}`, value: shownValue(value), dataset: { metaValue: key }, autocomplete: "off" });
      return h(
        "tr",
        { dataset: { metaKey: key } },
        h("th", { scope: "row", class: "mono" }, clippedText(key, "meta-key")),
        h("td", {}, input),
        h(
          "td",
          { class: "row" },
          h("button", { type: "button", "aria-label": `save ${key}`, text: "Save", onclick: () => patch({ [key]: typedValue(input.value) }, true).catch(ctx.error) }),
          h("button", {
            type: "button",
            class: "danger",
            "aria-label": `remove ${key}`,
            text: "Remove",
            onclick: () => {
              const rest = { ...row.metadata };
              delete rest[key];
              patch(rest, false).catch(ctx.error);
            },
          }),
        ),
      );
    });
  };

  const act = (fn) => () => fn().catch(ctx.error);
  const suspend = act(async () => {
    await api("POST", sessionPath(ctx.id, "/suspend"), { body: {}, signal: ctx.signal });
    await ctx.refresh();
  });
  const unsuspend = act(async () => {
    await api("POST", sessionPath(ctx.id, "/resume"), { body: {}, signal: ctx.signal });
    await ctx.refresh();
  });
  const remove = act(async () => {
    if (!(await confirmDialog(`Delete session ${ctx.id}? Its state, checkpoints, runs and events go too.`, "Delete"))) return;
    await api("DELETE", sessionPath(ctx.id), { signal: ctx.signal });
    ctx.deleted();
  });

  const element = h(
    "section",
    { class: "panel session-header", id: "header-panel", "aria-labelledby": "session-title" },
    title,
    facts,
    actions,
    h("h2", { id: "metadata-title", text: "Metadata" }),
    h("table", { class: "metadata", "aria-labelledby": "metadata-title" }, metaBody),
    addForm,
  );

  const fact = (label, value, id) => [h("dt", { text: label }), h("dd", id ? { id } : {}, value)];

  return {
    element,
    update(next) {
      row = next;
      replace(title, h("span", { class: "session-id", text: row.session_id }), " ", h("span", { id: "status" }, statusBadge(row.status)));
      replace(
        facts,
        fact("owner", row.owner ?? "—", "fact-owner"),
        fact("graph", h("a", { href: `#/graphs/${encodeURIComponent(row.graph_id)}`, text: row.graph_id }), "fact-graph"),
        fact("task", row.task_id ?? "—", "fact-task"),
        fact("created", fmtTime(row.created_at)),
        fact("updated", fmtTime(row.updated_at)),
        fact("expires", ttl),
        fact("runs", String(row.run_count), "fact-runs"),
        row.suspend_reason ? fact("suspended because", row.suspend_reason) : null,
        fact("last error", row.last_error ? clippedText(row.last_error, "error-text") : "—", "fact-error"),
      );
      tick();
      replace(
        actions,
        row.status === "suspended"
          ? h("button", { type: "button", id: "unsuspend", text: "Unsuspend", onclick: unsuspend })
          : h("button", { type: "button", id: "suspend", text: "Suspend", disabled: row.status === "running" || row.status === "created", onclick: suspend }),
        h("button", { type: "button", id: "delete", class: "danger", text: "Delete", onclick: remove }),
      );
      const json = JSON.stringify(row.metadata || {});
      if (json !== metaShown) {
        metaShown = json;
        replace(metaBody, metaRows(row.metadata));
      }
    },
    stop() {
      clearInterval(timer);
    },
  };
}
