// The sessions list: status facets with counts, filters (status, owner for admins, graph,
// metadata key=value, created/updated ranges, id prefix), sort, cursor pages and live
// updates. Every filter lives in the hash (#/sessions?status=failed&graph=work) so a
// filtered view can be bookmarked and Back goes to the previous one.

import { api } from "../api.js";
import { freshStats, session as who, showError } from "../app.js";
import { fmtAgo, fmtSpan, fmtTime, h, preview, replace, statusBadge } from "../dom.js";

export const STATUSES = ["created", "running", "interrupted", "completed", "failed", "suspended", "expired"];
const SORTS = [
  ["updated_at:desc", "Updated, newest first"],
  ["updated_at:asc", "Updated, oldest first"],
  ["created_at:desc", "Created, newest first"],
  ["created_at:asc", "Created, oldest first"],
  ["expires_at:asc", "Expires, soonest first"],
  ["expires_at:desc", "Expires, latest first"],
];
const PAGE_SIZE = 50;
/** The performance mark set when the list first shows rows (time to first render). */
const FIRST_ROWS = "graph-sessions:first-rows";
const POLL_MS = 2000;
const RANGES = ["created_after", "created_before", "updated_after", "updated_before"];

/** The filters of the hash's query ("#/sessions?status=failed&graph=work"). */
export function filtersFromHash(hash = window.location.hash) {
  const at = hash.indexOf("?");
  const q = new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
  const f = {
    status: q.getAll("status").filter((s) => STATUSES.includes(s)),
    owner: q.get("owner") || "",
    graph: q.get("graph") || "",
    meta: q.get("meta") || "",
    id: q.get("id") || "",
    sort: q.get("sort") || "updated_at",
    order: q.get("order") === "asc" ? "asc" : "desc",
  };
  for (const name of RANGES) f[name] = q.get(name) || "";
  if (!SORTS.some(([v]) => v === `${f.sort}:${f.order}`)) {
    f.sort = "updated_at";
    f.order = "desc";
  }
  return f;
}

/** The hash of the list with filters `f` (empty values left out). */
export function hashOf(f) {
  const q = new URLSearchParams();
  f.status.forEach((s) => q.append("status", s));
  for (const name of ["id", "owner", "graph", "meta", ...RANGES]) if (f[name]) q.set(name, f[name]);
  if (f.sort !== "updated_at" || f.order !== "desc") {
    q.set("sort", f.sort);
    q.set("order", f.order);
  }
  const text = q.toString();
  return text ? `#/sessions?${text}` : "#/sessions";
}

/** "plan=pro, tier=2" → {plan: "pro", tier: 2} (values that parse as JSON are JSON). */
export function parseMeta(text) {
  const out = {};
  for (const part of text.split(",")) {
    if (!part.trim()) continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`metadata filter "${part.trim()}" is not key=value`);
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    let value = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[key] = value;
  }
  return out;
}

/** The API query of filters `f` (no page, no sort). */
function apiFilters(f) {
  const query = {};
  if (f.status.length) query.status = f.status;
  if (f.owner && who.scope === "all") query.owner = f.owner;
  if (f.graph) query.graph_id = f.graph;
  if (f.id) query.id_prefix = f.id;
  if (f.meta) {
    const meta = parseMeta(f.meta);
    if (Object.keys(meta).length) query.metadata = meta;
  }
  for (const name of RANGES) {
    if (!f[name]) continue;
    const d = new Date(f[name]);
    if (Number.isNaN(d.getTime())) throw new Error(`${name.replace("_", " ")}: not a date`);
    query[name] = d.toISOString();
  }
  if (f.status.includes("expired")) query.include_expired = true;
  return query;
}

function ttlLeft(s, now) {
  if (!s.expires_at) return { text: "never", title: "no TTL" };
  const left = (new Date(s.expires_at).getTime() - now) / 1000;
  return {
    text: left <= 0 ? "expired" : fmtSpan(left),
    title: `expires ${fmtTime(s.expires_at)} (${s.expires_at})`,
  };
}

function sessionRow(s, now = Date.now()) {
  const ttl = ttlLeft(s, now);
  const error = s.status === "failed" && s.last_error ? preview(s.last_error, 80) : "";
  const meta = s.metadata && Object.keys(s.metadata).length ? preview(s.metadata, 60) : "";
  return h(
    "tr",
    { dataset: { session: s.session_id, status: s.status, updated: s.updated_at, revision: String(s.revision ?? "") } },
    h("td", {}, h("a", { class: "session-id", href: `#/sessions/${encodeURIComponent(s.session_id)}`, text: s.session_id })),
    h("td", {}, statusBadge(s.status)),
    h("td", { text: s.graph_id }),
    h("td", { class: "hide-narrow", text: s.owner ?? "" }),
    h("td", { class: "hide-narrow", text: s.task_id ?? "" }),
    h("td", { title: `${fmtTime(s.updated_at)} (${s.updated_at})`, text: fmtAgo(s.updated_at, now) }),
    h("td", { class: "num", text: String(s.run_count ?? 0) }),
    h("td", { class: "hide-narrow", title: ttl.title, text: ttl.text }),
    h("td", { class: "hide-narrow meta", title: meta ? JSON.stringify(s.metadata) : null, text: meta }),
    h("td", { class: "error-preview", title: error ? s.last_error : null, text: error }),
  );
}

function label(forId, text) {
  return h("label", { for: forId, text });
}

export default async function render(main) {
  const f = filtersFromHash();
  const controller = new AbortController();
  const signal = controller.signal;
  let timer = null;
  let stopped = false;
  const cursors = [null]; // the cursor of each page seen; the last is the page shown
  let nextCursor = null;
  let newest = null; // the newest updated_at seen (where polling starts)
  let polling = false;

  // facets ---------------------------------------------------------------------------
  const facets = h("div", { class: "facets row", role: "group", "aria-label": "Filter by status" });
  function drawFacets(stats) {
    const by = stats.by_status || {};
    const shown = STATUSES.filter((s) => by[s] || f.status.includes(s) || s === "expired");
    replace(
      facets,
      h(
        "button",
        { type: "button", class: "facet", "aria-pressed": String(!f.status.length), dataset: { facet: "" }, onclick: () => go({ ...f, status: [] }) },
        "all ",
        h("span", { class: "count", text: String(stats.total ?? 0) }),
      ),
      shown.map((s) =>
        h(
          "button",
          {
            type: "button",
            class: `facet status-${s}`,
            "aria-pressed": String(f.status.length === 1 && f.status[0] === s),
            dataset: { facet: s },
            onclick: () => go({ ...f, status: [s] }),
          },
          `${s} `,
          h("span", { class: "count", text: String(s === "expired" ? (by.expired || 0) + (stats.expired || 0) : by[s] || 0) }),
        ),
      ),
    );
  }
  async function refreshFacets() {
    drawFacets(await api("GET", "/stats", { signal }));
  }

  // the form ---------------------------------------------------------------------------
  const idInput = h("input", { id: "f-id", type: "search", value: f.id, autocomplete: "off", placeholder: "id prefix", spellcheck: "false" });
  const statusBoxes = STATUSES.map((s) =>
    h("input", { type: "checkbox", id: `f-status-${s}`, value: s, checked: f.status.includes(s) }),
  );
  const ownerInput = h("input", { id: "f-owner", type: "text", value: f.owner, autocomplete: "off" });
  const graphSelect = h("select", { id: "f-graph" }, h("option", { value: "", text: "any" }));
  const metaInput = h("input", { id: "f-meta", type: "text", value: f.meta, placeholder: "key=value, key2=value2", autocomplete: "off" });
  const rangeInputs = Object.fromEntries(
    RANGES.map((name) => [name, h("input", { id: `f-${name}`, type: "datetime-local", value: f[name] })]),
  );
  const sortSelect = h(
    "select",
    { id: "f-sort" },
    SORTS.map(([value, text]) => h("option", { value, text, selected: value === `${f.sort}:${f.order}` })),
  );
  const ownerField = who.scope === "all" ? h("div", { class: "field" }, label("f-owner", "Owner"), ownerInput) : null;

  function formFilters() {
    const [sort, order] = sortSelect.value.split(":");
    const out = {
      status: statusBoxes.filter((b) => b.checked).map((b) => b.value),
      owner: ownerInput.value.trim(),
      graph: graphSelect.value,
      meta: metaInput.value.trim(),
      id: idInput.value.trim(),
      sort,
      order,
    };
    for (const name of RANGES) out[name] = rangeInputs[name].value;
    return out;
  }

  const form = h(
    "form",
    { id: "filters", class: "filters panel", "aria-label": "Filters" },
    h("div", { class: "field grow" }, label("f-id", "Session id starts with"), idInput),
    h(
      "fieldset",
      { class: "field statuses" },
      h("legend", { text: "Status" }),
      STATUSES.map((s, i) => h("span", { class: "check" }, statusBoxes[i], label(`f-status-${s}`, s))),
    ),
    h("div", { class: "field" }, label("f-sort", "Sort"), sortSelect),
    h(
      "div",
      { class: "field actions row" },
      h("button", { type: "submit", class: "primary", text: "Apply" }),
      h("button", { type: "button", id: "f-reset", text: "Reset", onclick: () => go(filtersFromHash("#/sessions")) }),
    ),
    h(
      "details",
      { id: "more-filters", class: "more", open: Boolean(f.owner || f.graph || f.meta || RANGES.some((n) => f[n])) },
      h("summary", { text: "More filters" }),
      h(
        "div",
        { class: "filters-more" },
        ownerField,
        h("div", { class: "field" }, label("f-graph", "Graph"), graphSelect),
        h("div", { class: "field" }, label("f-meta", "Metadata"), metaInput),
        RANGES.map((name) =>
          h("div", { class: "field" }, label(`f-${name}`, name.replace("_", " ")), rangeInputs[name]),
        ),
      ),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(formFilters());
  });
  let typing = null;
  idInput.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => go(formFilters(), { replaceHistory: true }), 250);
  });

  // the table ------------------------------------------------------------------------
  const rows = h("tbody", { id: "session-rows" });
  const table = h(
    "table",
    { class: "sessions", "aria-label": "Sessions" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        [
          ["Session", ""],
          ["Status", ""],
          ["Graph", ""],
          ["Owner", "hide-narrow"],
          ["Task", "hide-narrow"],
          ["Updated", ""],
          ["Runs", "num"],
          ["TTL left", "hide-narrow"],
          ["Metadata", "hide-narrow"],
          ["Last error", ""],
        ].map(([t, cls]) => h("th", { scope: "col", class: cls || null, text: t })),
      ),
    ),
    rows,
  );
  const state = h("div", { id: "list-state", role: "status", "aria-live": "polite" });
  const pageLabel = h("span", { id: "page-number", class: "muted" });
  const prev = h("button", { type: "button", id: "page-prev", text: "Previous", disabled: true });
  const next = h("button", { type: "button", id: "page-next", text: "Next", disabled: true });
  const live = h("span", { id: "live", class: "muted" });
  prev.addEventListener("click", () => {
    if (cursors.length > 1) {
      cursors.pop();
      loadPage().catch(fail);
    }
  });
  next.addEventListener("click", () => {
    if (nextCursor) {
      cursors.push(nextCursor);
      loadPage().catch(fail);
    }
  });

  replace(
    main,
    h("h1", { text: "Sessions" }),
    facets,
    form,
    state,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager row" }, prev, pageLabel, next, live),
  );

  function go(filters, { replaceHistory = false } = {}) {
    const hash = hashOf(filters);
    if (hash === window.location.hash || (hash === "#/sessions" && !window.location.hash)) {
      if (!replaceHistory) window.dispatchEvent(new HashChangeEvent("hashchange"));
      return;
    }
    if (replaceHistory) {
      // typing in the id box: one history entry, the page keeps its focus
      history.replaceState(null, "", hash);
      Object.assign(f, filters);
      cursors.splice(1);
      loadPage().catch(fail);
    } else {
      window.location.hash = hash;
    }
  }

  function fail(error) {
    if (error && error.name === "AbortError") return;
    replace(rows);
    replace(
      state,
      h(
        "div",
        { class: "panel error-state" },
        h("p", {}, h("strong", { text: "The sessions could not be loaded: " }), error.message || String(error)),
        h("button", { type: "button", text: "Retry", onclick: () => loadPage().catch(fail) }),
      ),
    );
    showError(error);
  }

  let loads = 0; // the newest load wins: an older one answering late is dropped
  async function loadPage() {
    const seq = ++loads;
    const query = { ...apiFilters(f), sort: f.sort, order: f.order, limit: PAGE_SIZE };
    const cursor = cursors[cursors.length - 1];
    if (cursor) query.cursor = cursor;
    const page = await api("GET", "/sessions", { query, signal });
    if (stopped || seq !== loads) return;
    nextCursor = page.next_cursor;
    const now = Date.now();
    replace(rows, page.sessions.map((s) => sessionRow(s, now)));
    if (page.sessions.length && !performance.getEntriesByName(FIRST_ROWS).length) {
      performance.mark(FIRST_ROWS); // benchmarks/bench_ui.py reads it
    }
    for (const s of page.sessions) if (!newest || s.updated_at > newest) newest = s.updated_at;
    replace(
      state,
      page.sessions.length
        ? null
        : h("p", { class: "panel empty-state", text: cursors.length > 1 ? "No more sessions." : "No sessions match these filters." }),
    );
    prev.disabled = cursors.length <= 1;
    next.disabled = !nextCursor;
    pageLabel.textContent = `page ${cursors.length}`;
    rows.dataset.loads = String(Number(rows.dataset.loads || 0) + 1); // pages loaded (not live updates)
  }

  // live updates ------------------------------------------------------------------------
  async function poll() {
    if (stopped || polling || document.visibilityState !== "visible" || !newest) return;
    polling = true;
    try {
      let cursor = null;
      let changed = 0;
      for (let pages = 0; pages < 5; pages++) {
        const query = { updated_after: newest, sort: "updated_at", order: "asc", limit: 100 };
        if (f.owner && who.scope === "all") query.owner = f.owner;
        if (cursor) query.cursor = cursor;
        const page = await api("GET", "/sessions", { query, signal });
        if (stopped) return;
        const now = Date.now();
        for (const s of page.sessions) {
          const old = rows.querySelector(`tr[data-session="${CSS.escape(s.session_id)}"]`);
          if (old && old.dataset.updated === s.updated_at && old.dataset.revision === String(s.revision ?? "")) continue;
          changed += 1;
          if (old) old.replaceWith(sessionRow(s, now));
          else if (cursors.length === 1 && f.sort === "updated_at" && f.order === "desc" && matchesShown(s)) {
            rows.prepend(sessionRow(s, now));
            replace(state);
          }
        }
        const last = page.sessions[page.sessions.length - 1];
        if (last && last.updated_at > newest) newest = last.updated_at;
        cursor = page.next_cursor;
        if (!cursor) break;
      }
      if (changed) {
        live.textContent = `updated ${new Date().toLocaleTimeString()}`;
        await refreshFacets();
      }
    } catch (error) {
      if (error && error.name !== "AbortError") live.textContent = `live updates paused: ${error.message}`;
    } finally {
      polling = false;
    }
  }
  function matchesShown(s) {
    if (f.status.length && !f.status.includes(s.status)) return false;
    if (f.graph && s.graph_id !== f.graph) return false;
    if (f.id && !s.session_id.startsWith(f.id)) return false;
    if (f.meta || RANGES.some((name) => f[name])) return false; // not checked here: wait for a reload
    return true;
  }
  function onVisibility() {
    if (document.visibilityState === "visible") poll();
  }
  document.addEventListener("visibilitychange", onVisibility);

  const cleanup = () => {
    stopped = true;
    clearInterval(timer);
    clearTimeout(typing);
    controller.abort();
    document.removeEventListener("visibilitychange", onVisibility);
  };

  // first render -------------------------------------------------------------------
  // the rows need no facet counts: they load alongside
  const firstPage = loadPage().catch(fail);
  let stats;
  let graphs;
  let latest;
  try {
    [stats, graphs, latest] = await Promise.all([
      freshStats() ?? api("GET", "/stats", { signal }),
      api("GET", "/graphs", { signal }),
      api("GET", "/sessions", { query: { sort: "updated_at", order: "desc", limit: 1 }, signal }),
    ]);
  } catch (error) {
    fail(error);
    return cleanup;
  }
  if (!form.isConnected) {
    cleanup(); // the person went elsewhere (another page replaced this one) while it loaded
    return null;
  }
  drawFacets(stats);
  for (const g of graphs.graphs) graphSelect.append(h("option", { value: g, text: g, selected: g === f.graph }));
  const base = latest.sessions.length ? latest.sessions[0].updated_at : new Date(0).toISOString();
  if (!newest || base > newest) newest = base;
  await firstPage;
  timer = setInterval(poll, POLL_MS);
  return cleanup;
}
