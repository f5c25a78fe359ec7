// The pending interrupt: its value (the question) and a form that answers it (POST /resume).

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

/** The interrupt panel; `update(row)` shows the row's pending interrupts. */
export function interruptPanel(ctx) {
  const body = h("div", { id: "interrupt-body" });
  const element = h("section", { class: "panel", id: "interrupt-panel", "aria-labelledby": "interrupt-title" }, h("h2", { id: "interrupt-title", text: "Pending interrupt" }), body);
  let shown = null;

  const form = () => {
    const answer = h("textarea", { id: "answer", rows: 2, "aria-describedby": "answer-help" });
    const asJson = h("input", { type: "checkbox", id: "answer-json" });
    const send = h("button", { type: "submit", class: "primary", text: "Answer" });
    return h(
      "form",
      {
        id: "interrupt-form",
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          let value = answer.value;
          if (asJson.checked) {
            try {
              value = JSON.parse(answer.value);
            } catch (error) {
              ctx.error(new Error(`the answer is not JSON: ${error.message}`));
              return;
            }
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
      h("label", { for: "answer", text: "Answer" }),
      answer,
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
        pending.map((item) => {
          const q = question(item.value);
          return h(
            "div",
            { class: "interrupt", dataset: { interruptId: item.id || "" } },
            q !== null ? h("p", { class: "question", id: "interrupt-question" }, clippedText(q)) : null,
            valueTree(item.value, { openDepth: 1 }),
          );
        }),
        form(),
      );
    },
  };
}
