// Building the page from nodes, never from HTML strings: every value from the server becomes a text node, so
// a session's state or metadata can hold any markup and it shows as text.

/**
 * An element: h("a", {href: "#/x", class: "link", onclick: fn}, "text", child, ...).
 * Attributes: `class`, `text`, `on<event>` (a listener), `dataset` (an object), booleans
 * (set when true), anything else through setAttribute. Children: nodes, strings (as text),
 * numbers, null/false (skipped), arrays (flattened).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = String(value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value") el.value = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Append children (see `h`) to `el`. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A local date-time for an ISO string ("" for none). */
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** "3 s", "5 min", "2 h", "4 d" for a number of seconds. */
export function fmtSpan(seconds) {
  const s = Math.abs(seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(s < 36000 ? 1 : 0)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** "5 min ago" / "in 2 h" for an ISO time. */
export function fmtAgo(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = (new Date(iso).getTime() - now) / 1000;
  return seconds < 0 ? `${fmtSpan(seconds)} ago` : `in ${fmtSpan(seconds)}`;
}

/** A status badge. */
export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, text: status });
}

/** Any JSON value as short one-line text. */
export function preview(value, max = 120) {
  let text;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A dialog asking to confirm `question`; resolves true when confirmed. */
export function confirmDialog(question, action = "Confirm") {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-label": question },
      h("p", { text: question }),
      h(
        "form",
        { method: "dialog" },
        h("button", { value: "cancel", type: "submit" }, "Cancel"),
        h("button", { value: "ok", type: "submit", class: "danger" }, action),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
