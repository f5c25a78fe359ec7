// The chat panel: send input to the graph (POST /stream, SSE) and watch it run node by node;
// Cancel aborts the stream (the server's on_disconnect decides what happens to the run).

import { sessionPath, sse } from "../api.js";
import { h, preview, replace } from "../dom.js";

/** The input key to suggest for a state (and the session's pending interrupt). */
export function defaultKey(values, row) {
  if (values && Array.isArray(values.messages)) return "messages";
  const pending = (row && row.interrupts) || [];
  for (const item of pending) {
    if (item.value && typeof item.value.resume_key === "string") return item.value.resume_key;
  }
  for (const [key, value] of Object.entries(values || {})) {
    if (typeof value === "string") return key;
  }
  return "input";
}

/** The run's input for `text` under `key` ("messages": one user message). */
export function buildInput(key, text) {
  if (key === "messages") return { messages: [{ role: "user", content: text }] };
  return { [key]: text };
}

/** The chat panel; `update(state, row)` keeps its suggested key up to date. */
export function chatPanel(ctx) {
  const text = h("textarea", { id: "chat-input", rows: 3, placeholder: "Ctrl+Enter sends" });
  const key = h("input", { id: "chat-key", list: "chat-keys", autocomplete: "off", size: 14 });
  const keys = h("datalist", { id: "chat-keys" });
  const cancelOnStop = h("input", { type: "checkbox", id: "chat-cancel-run" });
  const send = h("button", { type: "submit", class: "primary", id: "chat-send", text: "Send" });
  const cancel = h("button", { type: "button", id: "chat-cancel", text: "Cancel", disabled: true });
  const log = h("ol", { class: "stream-log", id: "chat-stream", role: "log", "aria-live": "polite", "aria-label": "run output" });
  let keyTouched = false;
  let running = null;
  key.addEventListener("input", () => {
    keyTouched = true;
  });

  const line = (kind, label, detail) => {
    log.append(h("li", { class: `chunk chunk-${kind}`, dataset: { kind } }, h("span", { class: "chunk-label", text: label }), detail ? h("span", { class: "mono chunk-preview", text: detail }) : null));
    log.scrollTop = log.scrollHeight;
  };

  const run = async () => {
    const input = buildInput(key.value.trim() || "input", text.value);
    const controller = new AbortController();
    const stop = () => controller.abort();
    ctx.signal.addEventListener("abort", stop);
    running = controller;
    send.disabled = true;
    cancel.disabled = false;
    replace(log);
    try {
      const body = { input, mode: ["updates", "custom"] };
      if (cancelOnStop.checked) body.on_disconnect = "cancel";
      for await (const { event, data } of sse("POST", sessionPath(ctx.id, "/stream"), { body, signal: controller.signal })) {
        if (event === "start") line("start", "run started");
        else if (event === "updates") {
          for (const [node, update] of Object.entries(data || {})) line("update", node, preview(update, 200));
        } else if (event === "custom") line("custom", "custom", preview(data, 200));
        else if (event === "result") line("result", `result: ${data.status}`, data.output == null ? "" : preview(data.output, 200));
        else if (event === "error") line("error", `error: ${data.error || data.status}`, data.message || "");
        else line("other", event, preview(data, 200));
      }
      text.value = "";
    } catch (error) {
      if (error.name === "AbortError") {
        if (!ctx.signal.aborted) line("cancelled", "cancelled", cancelOnStop.checked ? "the run is cancelled" : "the run goes on on the server");
      } else {
        line("error", "error", error.message);
        ctx.error(error);
      }
    } finally {
      ctx.signal.removeEventListener("abort", stop);
      running = null;
      send.disabled = false;
      cancel.disabled = true;
      if (!ctx.signal.aborted) ctx.refresh().catch(ctx.error);
    }
  };

  cancel.addEventListener("click", () => running && running.abort());
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!running) run();
    }
  });

  const element = h(
    "section",
    { class: "panel", id: "chat-panel", "aria-labelledby": "chat-title" },
    h("h2", { id: "chat-title", text: "Chat" }),
    h(
      "form",
      {
        class: "stack",
        onsubmit: (event) => {
          event.preventDefault();
          if (!running) run();
        },
      },
      h("label", { for: "chat-input", text: "Input" }),
      text,
      h("div", { class: "row" }, h("label", { for: "chat-key", text: "Input key" }), key, keys, h("label", { class: "check" }, cancelOnStop, " cancel the run on Cancel")),
      h("div", { class: "row" }, send, cancel),
    ),
    log,
  );

  return {
    element,
    update(state, row) {
      const values = (state && state.values) || {};
      replace(keys, ["messages", ...Object.keys(values)].filter((k, i, all) => all.indexOf(k) === i).map((k) => h("option", { value: k })));
      if (!keyTouched) key.value = defaultKey(values, row);
    },
  };
}
