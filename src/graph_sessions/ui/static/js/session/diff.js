// The difference between two JSON values: added, removed and changed paths, recursively.

import { h, preview } from "../dom.js";

/** At most this many differences are listed. */
export const MAX_CHANGES = 500;

function plain(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function same(a, b) {
  if (a === b) return true;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}

function childPath(path, key, isIndex) {
  if (isIndex) return `${path}[${key}]`;
  return path ? `${path}.${key}` : String(key);
}

/**
 * The differences from `before` to `after`: [{kind: "added"|"removed"|"changed", path,
 * before, after}], objects and lists compared key by key (lists by index).
 */
export function diffValues(before, after, path = "", out = []) {
  if (out.length >= MAX_CHANGES || same(before, after)) return out;
  if (plain(before) && plain(after)) {
    for (const key of Object.keys(before)) {
      if (!Object.hasOwn(after, key)) out.push({ kind: "removed", path: childPath(path, key), before: before[key] });
      else diffValues(before[key], after[key], childPath(path, key), out);
    }
    for (const key of Object.keys(after)) {
      if (!Object.hasOwn(before, key)) out.push({ kind: "added", path: childPath(path, key), after: after[key] });
    }
  } else if (Array.isArray(before) && Array.isArray(after)) {
    const n = Math.max(before.length, after.length);
    for (let i = 0; i < n && out.length < MAX_CHANGES; i++) {
      const p = childPath(path, i, true);
      if (i >= before.length) out.push({ kind: "added", path: p, after: after[i] });
      else if (i >= after.length) out.push({ kind: "removed", path: p, before: before[i] });
      else diffValues(before[i], after[i], p, out);
    }
  } else {
    out.push({ kind: "changed", path: path || "(whole state)", before, after });
  }
  return out.slice(0, MAX_CHANGES);
}

/** The differences as a table (values as text). */
export function diffTable(changes) {
  if (!changes.length) return h("p", { class: "muted", id: "diff-none", text: "No differences." });
  return h(
    "table",
    { class: "diff", id: "diff-table" },
    h("thead", {}, h("tr", {}, h("th", { text: "change" }), h("th", { text: "key" }), h("th", { text: "older" }), h("th", { text: "newer" }))),
    h(
      "tbody",
      {},
      changes.map((c) =>
        h(
          "tr",
          { class: `diff-${c.kind}`, dataset: { kind: c.kind, path: c.path } },
          h("td", {}, h("span", { class: `badge diff-${c.kind}`, text: c.kind })),
          h("td", { class: "mono", text: c.path }),
          h("td", { class: "mono", text: c.kind === "added" ? "" : preview(c.before, 300) }),
          h("td", { class: "mono", text: c.kind === "removed" ? "" : preview(c.after, 300) }),
        ),
      ),
    ),
  );
}
