// The session's execution log, live: GET /events?follow=true read as SSE, resumed with
// after=<last id> when the connection drops (or the server restarts), stopped by the page's
// AbortController.

import { api, ApiError, sessionPath, sse } from "../api.js";
import { fmtTime, h, preview } from "../dom.js";
import { valueTree } from "./state_tree.js";

/** Events kept on the page (the oldest go first). */
export const KEEP = 1000;

/** Types after which the session row and state are worth reading again. */
const CHANGES = new Set(["run_completed", "run_failed", "run_cancelled", "interrupted", "resumed", "suspended", "unsuspended", "state_updated", "forked", "metadata_updated", "repaired", "run_started", "expired"]);

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    signal.addEventListener("abort", stop, { once: true });
  });
}

function row(event) {
  const details = h(
    "details",
    {},
    h("summary", {}, h("span", { class: "event-type", text: event.type }), " ", h("span", { class: "muted", text: fmtTime(event.at) }), " ", h("span", { class: "mono event-preview", text: preview(event.data, 100) })),
    valueTree(event, { openDepth: 1 }),
  );
  return h("li", { dataset: { eventId: String(event.id), type: event.type } }, details);
}

/** The events panel; `start()` begins the live tail. */
export function eventsPanel(ctx) {
  const list = h("ol", { class: "events", id: "events-list", "aria-label": "events, newest last" });
  const state = h("span", { class: "muted", id: "events-state", text: "connecting…" });
  let after = null;

  // events come in bursts (the backlog first): they are added once per frame, with one
  // layout read for the whole batch
  let queue = [];
  const flush = () => {
    const batch = queue.slice(-KEEP);
    queue = [];
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    list.append(...batch.map(row));
    while (list.childElementCount > KEEP) list.firstElementChild.remove();
    if (stick) list.scrollTop = list.scrollHeight;
  };
  const add = (event) => {
    if (!queue.length) requestAnimationFrame(flush);
    queue.push(event);
  };

  const follow = async () => {
    let wait = 1000;
    let again = false;
    while (!ctx.signal.aborted) {
      try {
        if (again) {
          // back after a drop: is the server (and the session) there? then read what changed
          await api("GET", sessionPath(ctx.id), { signal: ctx.signal });
          state.textContent = "live";
          ctx.later();
        }
        again = true;
        for await (const { event, data, id } of sse("GET", sessionPath(ctx.id, "/events"), { query: { follow: "true", after }, signal: ctx.signal })) {
          state.textContent = "live";
          wait = 1000;
          if (event === "end") {
            if (data && data.reason === "server shutting down") break; // reconnect below
            state.textContent = "ended (the session is gone)";
            ctx.gone();
            return;
          }
          if (id) after = id;
          if (data && typeof data === "object" && data.type) {
            add(data);
            if (CHANGES.has(data.type)) ctx.later();
          }
        }
      } catch (error) {
        if (ctx.signal.aborted) return;
        if (error instanceof ApiError && error.status !== 503) {
          state.textContent = `stopped (${error.status})`;
          if (error.status === 404) ctx.gone();
          return;
        }
      }
      if (ctx.signal.aborted) return;
      state.textContent = "reconnecting…";
      await sleep(wait, ctx.signal);
      wait = Math.min(wait * 2, 15000);
    }
  };

  return {
    element: h("section", { class: "panel", id: "events-panel", "aria-labelledby": "events-title" }, h("h2", { id: "events-title" }, "Events ", state), list),
    start() {
      follow();
    },
  };
}
