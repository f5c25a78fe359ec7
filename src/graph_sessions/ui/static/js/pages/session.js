// One session: header and metadata, state tree, pending interrupt, chat, checkpoints with
// diff and fork, live events, runs and transcript. Each part is a module of ../session/;
// this page reads the session, lays the parts out and refreshes them together.

import { api, ApiError, sessionPath } from "../api.js";
import { navigate, showError, showNotice } from "../app.js";
import { h, replace } from "../dom.js";
import { drawGraph } from "../graph_view.js";
import { chatPanel } from "../session/chat.js";
import { checkpointsPanel } from "../session/checkpoints.js";
import { eventsPanel } from "../session/events.js";
import { sessionHeader } from "../session/header.js";
import { interruptPanel } from "../session/interrupt.js";
import { runsPanel, transcriptPanel } from "../session/runs.js";
import { statePanel } from "../session/state_panel.js";

function notFound(main, id) {
  replace(
    main,
    h(
      "section",
      { class: "panel not-found", id: "not-found" },
      h("h1", { text: "Session not found" }),
      h("p", {}, "There is no session ", h("span", { class: "session-id", text: id }), " for you: it may have expired, been deleted, or belong to someone else."),
      h("p", {}, h("a", { href: "#/sessions", text: "Back to the sessions" })),
    ),
  );
}

function graphPanel(signal) {
  const next = h("p", { id: "graph-next" });
  const drawing = h("div", { class: "graph-drawing" });
  let shape = null; // GET /graphs/{graph_id}, read once
  let shapeOf = null;
  return {
    element: h(
      "section",
      { class: "panel", id: "graph-panel", "aria-labelledby": "graph-title" },
      h("h2", { id: "graph-title", text: "Graph" }),
      next,
      drawing,
    ),
    async update(state, info) {
      const nodes = (state && state.next) || [];
      replace(next, nodes.length ? ["Next: ", h("span", { class: "mono", text: nodes.join(", ") })] : h("span", { class: "muted", text: "Next: nothing (the run is at its end)" }));
      if (!info || !info.graph_id) return;
      if (shapeOf !== info.graph_id) {
        try {
          shape = await api("GET", `/graphs/${encodeURIComponent(info.graph_id)}`, { signal });
        } catch (error) {
          shape = null;
          // a graph this server does not serve stays undrawn; other failures retry later
          if (!(error instanceof ApiError) || error.status !== 404) throw error;
        }
        shapeOf = info.graph_id;
      }
      if (shape) drawGraph(drawing, shape, { highlight: nodes[0] || null });
    },
  };
}

function jumpNav(panels) {
  return h(
    "nav",
    { class: "row jump", "aria-label": "Parts of the session" },
    panels.map(([label, el]) =>
      h("button", {
        type: "button",
        class: "link",
        text: label,
        onclick: () => {
          el.scrollIntoView({ block: "start" });
          const heading = el.querySelector("h2");
          if (heading) {
            heading.tabIndex = -1;
            heading.focus();
          }
        },
      }),
    ),
  );
}

export default async function render(main, [id]) {
  const controller = new AbortController();
  const { signal } = controller;
  let first;
  try {
    first = await api("GET", sessionPath(id), { signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      notFound(main, id);
      return () => controller.abort();
    }
    throw error;
  }

  let gone = false;
  let pending = null; // the refresh in flight
  let again = false; // another was asked meanwhile
  let laterTimer = null;

  const ctx = {
    id,
    signal,
    error: (error) => {
      if (!signal.aborted) showError(error);
    },
    /** Read the session (or take `row`) and its state, runs, transcript, checkpoints again. */
    refresh: (row) => {
      if (gone || signal.aborted) return Promise.resolve();
      if (pending) {
        again = true;
        return pending;
      }
      pending = refreshAll(row).finally(() => {
        pending = null;
        if (again && !gone && !signal.aborted) {
          again = false;
          ctx.refresh();
        }
      });
      return pending;
    },
    /** A refresh soon (events come in bursts). */
    later: () => {
      clearTimeout(laterTimer);
      laterTimer = setTimeout(() => ctx.refresh(), 150);
    },
    /** The session was deleted here: stop everything, back to the list. */
    deleted: () => {
      gone = true;
      controller.abort();
      showNotice(`Session ${id} deleted.`, "info");
      navigate("#/sessions");
    },
    /** The session went away elsewhere (deleted, expired). */
    gone: () => {
      if (gone) return;
      gone = true;
      showNotice(`Session ${id} is gone (deleted or expired).`, "info");
    },
  };

  const header = sessionHeader(ctx);
  const interrupt = interruptPanel(ctx);
  const state = statePanel(ctx);
  const chat = chatPanel(ctx);
  const graph = graphPanel(signal);
  const checkpoints = checkpointsPanel(ctx);
  const events = eventsPanel(ctx);
  const runs = runsPanel(ctx);
  const transcript = transcriptPanel(ctx);

  async function refreshAll(row) {
    try {
      const [info, values] = await Promise.all([
        row ? Promise.resolve(row) : api("GET", sessionPath(id), { signal }),
        api("GET", sessionPath(id, "/state"), { signal }),
      ]);
      header.update(info);
      interrupt.update(info);
      state.update(values);
      chat.update(values, info);
      graph.update(values, info).catch(showError);
      await Promise.all([runs.refresh(), transcript.refresh(), checkpoints.refresh(values)]);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) ctx.gone();
      else ctx.error(error);
    }
  }

  const parts = [
    ["Interrupt", interrupt.element],
    ["State", state.element],
    ["Chat", chat.element],
    ["Graph", graph.element],
    ["Checkpoints", checkpoints.element],
    ["Events", events.element],
    ["Runs", runs.element],
    ["Transcript", transcript.element],
  ];
  replace(main, header.element, jumpNav(parts), h("div", { class: "grid session-grid" }, parts.map(([, el]) => el)));
  header.update(first);
  interrupt.update(first);
  await ctx.refresh(first);
  events.start();

  return () => {
    gone = true;
    clearTimeout(laterTimer);
    header.stop();
    controller.abort();
  };
}
