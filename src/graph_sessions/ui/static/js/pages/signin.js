// Sign-in: an API key or a bearer token, kept for this tab only.

import { h, replace } from "../dom.js";
import { showNotice, signIn } from "../app.js";

export default function render(main) {
  const input = h("input", {
    id: "credential",
    type: "password",
    autocomplete: "off",
    required: true,
    "aria-describedby": "credential-help",
  });
  const form = h(
    "form",
    { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", text: "Sign in" }),
    h("label", { for: "credential", text: "API key or bearer token" }),
    input,
    h("p", {
      id: "credential-help",
      class: "muted",
      text: "Kept in this tab only (sessionStorage): closing the tab signs you out.",
    }),
    h("button", { type: "submit", text: "Sign in" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn(input.value.trim());
    } catch (error) {
      showNotice(`Sign-in failed: ${error.message}`);
      input.select();
    }
  });
  replace(main, form);
  input.focus();
}
