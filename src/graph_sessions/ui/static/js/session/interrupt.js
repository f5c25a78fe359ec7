// The pending interrupt(s): each value (the question) and a form that answers them (POST
// /resume): one answer as is, or several as {interrupt id: answer} (parallel interrupts).

import { api, sessionPath } from "../api.js";
import { h, replace } from "../dom.js";
import { clippedText, valueTree } from "./state_tree.js";

function question(value) {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    for (const key of ["question", "message", "prompt", "text"]) {
      if (typeof value[key] === "string") return value[key];
    }
  }
  return null;
}

/**
 * The `value` of POST /resume for the answers typed (one per pending interrupt, in order),
 * each parsed as JSON when `asJson`: the one answer itself, or {interrupt id: answer}.
 * Throws when an answer is not JSON.
 */
export function resumeValue(pending, texts, asJson) {
  const values = texts.map((text, i) => {
    if (!asJson) return text;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(`answer ${i + 1} is not JSON: ${error.message}`);
    }
  });
  if (pending.length <= 1) return values[0];
  return Object.fromEntries(pending.map((item, i) => [item.id, values[i]]));
}

/** The interrupt panel; `update(row)` shows the row's pending interrupts. */
export function interruptPanel(ctx) {
  const body = h("div", { id: "interrupt-body" });
  const element = h("section", { class: "panel", id: "interrupt-panel", "aria-labelledby": "interrupt-title" }, h("h2", { id: "interrupt-title", text: "Pending interrupt" }), body);
  let shown = null;

  const form = (pending) => {
    const answers = pending.map((item, i) =>
      h("textarea", { id: i ? `answer-${i + 1}` : "answer", rows: 2, "aria-describedby": "answer-help", dataset: { interruptId: item.id || "" } }),
    );
    const asJson = h("input", { type: "checkbox", id: "answer-json" });
    const send = h("button", { type: "submit", class: "primary", text: "Answer" });
    return h(
      "form",
      {
        id: "interrupt-form",
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          let value;
          try {
            value = resumeValue(pending, answers.map((a) => a.value), asJson.checked);
          } catch (error) {
            ctx.error(error);
            return;
          }
          send.disabled = true;
          try {
            const out = await api("POST", sessionPath(ctx.id, "/resume"), { body: { value }, signal: ctx.signal });
            shown = null;
            await ctx.refresh(out.session);
          } catch (error) {
            ctx.error(error);
          } finally {
            send.disabled = false;
          }
        },
      },
      answers.map((answer, i) => [h("label", { for: answer.id, text: pending.length > 1 ? `Answer ${i + 1}` : "Answer" }), answer]),
      h("div", { class: "row" }, h("label", { class: "check" }, asJson, " JSON"), h("span", { id: "answer-help", class: "muted", text: "sent as text, or parsed as JSON when ticked" })),
      h("div", { class: "row" }, send),
    );
  };

  return {
    element,
    update(row) {
      const pending = row.status === "interrupted" ? row.interrupts || [] : [];
      const key = JSON.stringify(pending);
      if (key === shown) return;
      shown = key;
      element.classList.toggle("attention", pending.length > 0);
      if (!pending.length) {
        replace(body, h("p", { class: "muted", id: "no-interrupt", text: "No pending interrupt." }));
        return;
      }
      replace(
        body,
        pending.map((item, i) => {
          const q = question(item.value);
          return h(
            "div",
            { class: "interrupt", dataset: { interruptId: item.id || "" } },
            pending.length > 1 ? h("h3", { text: `Interrupt ${i + 1}` }) : null,
            q !== null ? h("p", { class: "question", id: i ? `interrupt-question-${i + 1}` : "interrupt-question" }, clippedText(q)) : null,
            valueTree(item.value, { openDepth: 1 }),
          );
        }),
        form(pending),
      );
    },
  };
}
