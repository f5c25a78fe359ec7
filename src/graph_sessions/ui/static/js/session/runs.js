// The session's runs (GET /runs) and its transcript (GET /messages).

import { api, sessionPath } from "../api.js";
import { fmtSpan, fmtTime, h, preview, replace } from "../dom.js";
import { clippedText } from "./state_tree.js";

const STATUS_CLASS = { success: "completed", error: "failed", cancelled: "suspended", running: "running", interrupted: "interrupted" };

/** A run's duration: "340 ms", "2.5 s", then minutes and hours. */
export function duration(seconds) {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  return fmtSpan(seconds);
}

/** The runs panel; `refresh()` reads them again. */
export function runsPanel(ctx) {
  const body = h("tbody", { id: "run-rows" });
  return {
    element: h(
      "section",
      { class: "panel", id: "runs-panel", "aria-labelledby": "runs-title" },
      h("h2", { id: "runs-title", text: "Runs" }),
      h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["status", "kind", "started", "duration", "error"].map((t) => h("th", { text: t })))), body)),
    ),
    async refresh() {
      const runs = await api("GET", sessionPath(ctx.id, "/runs"), { query: { limit: 50 }, signal: ctx.signal });
      if (!runs.length) {
        replace(body, h("tr", {}, h("td", { colspan: 5, class: "muted", text: "No runs yet." })));
        return;
      }
      replace(
        body,
        runs.map((run) => {
          const took = run.finished_at ? duration((new Date(run.finished_at) - new Date(run.started_at)) / 1000) : "…";
          return h(
            "tr",
            { dataset: { runId: run.run_id, status: run.status } },
            h("td", {}, h("span", { class: `badge status-${STATUS_CLASS[run.status] || run.status}`, text: run.status })),
            h("td", { text: run.kind || "" }),
            h("td", { text: fmtTime(run.started_at) }),
            h("td", { text: took }),
            h("td", {}, run.error ? clippedText(String(run.error), "error-text") : ""),
          );
        }),
      );
    },
  };
}

/** The transcript panel (the last 200 messages); `refresh()` reads them again. */
export function transcriptPanel(ctx) {
  const list = h("ol", { class: "transcript", id: "transcript" });
  return {
    element: h("section", { class: "panel", id: "transcript-panel", "aria-labelledby": "transcript-title" }, h("h2", { id: "transcript-title", text: "Transcript" }), list),
    async refresh() {
      const messages = await api("GET", sessionPath(ctx.id, "/messages"), { query: { limit: 200 }, signal: ctx.signal });
      if (!messages.length) {
        replace(list, h("li", { class: "muted", text: "No messages." }));
        return;
      }
      replace(
        list,
        messages.map((m) =>
          h("li", { class: `message role-${String(m.role).replace(/[^a-z0-9_-]/gi, "")}` }, h("span", { class: "role", text: m.role }), " ", clippedText(typeof m.content === "string" ? m.content : preview(m.content, 100000), "content")),
        ),
      );
    },
  };
}
