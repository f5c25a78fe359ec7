// Overview: totals by status (GET /stats), expired not yet swept, runs total, the 20 most
// recently updated failed sessions, and runs per 10 s while the page is open: /stats'
// runs_total sampled every 10 s, the deltas drawn as a sparkline (no per-minute history is
// kept by the server, so the line starts when the page opens).

import { freshStats } from "../app.js";
import { api } from "../api.js";
import { fmtAgo, fmtTime, h, preview, replace, statusBadge } from "../dom.js";
import { STATUSES } from "./sessions.js";

const SAMPLE_MS = 10_000;
const KEEP = 60; // samples (10 minutes)
const SVG = "http://www.w3.org/2000/svg";

function card(name, value, key, href) {
  const body = [h("span", { class: "value", text: value === null || value === undefined ? "—" : String(value) }), h("span", { class: "name", text: name })];
  return h(
    "div",
    { class: "stat-card", dataset: { stat: key } },
    href ? h("a", { href, class: "plain" }, body) : body,
  );
}

function sparkline(deltas) {
  const w = 360;
  const hgt = 64;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `runs per 10 s, last ${deltas.length} samples: ${deltas.join(", ")}`);
  const base = document.createElementNS(SVG, "line");
  for (const [k, v] of Object.entries({ x1: 0, y1: hgt - 1, x2: w, y2: hgt - 1 })) base.setAttribute(k, v);
  svg.append(base);
  if (deltas.length) {
    const max = Math.max(1, ...deltas);
    const step = deltas.length > 1 ? w / (deltas.length - 1) : w;
    const points = deltas.map((d, i) => `${(i * step).toFixed(1)},${(hgt - 2 - (d / max) * (hgt - 6)).toFixed(1)}`);
    if (points.length === 1) points.push(`${w},${points[0].split(",")[1]}`);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
  return svg;
}

export default async function render(main) {
  const controller = new AbortController();
  const signal = controller.signal;
  const loading = h("p", { class: "muted", text: "Loading…" });
  replace(main, loading);
  const [stats, failed] = await Promise.all([
    freshStats() ?? api("GET", "/stats", { signal }),
    api("GET", "/sessions", { query: { status: ["failed"], sort: "updated_at", order: "desc", limit: 20 }, signal }),
  ]);
  if (!loading.isConnected) return null; // the person went elsewhere meanwhile
  const by = stats.by_status || {};
  const cards = h(
    "div",
    { class: "stat-cards", id: "stat-cards" },
    card("sessions", stats.total, "total", "#/sessions"),
    STATUSES.filter((s) => s !== "expired" || by.expired).map((s) =>
      card(s, by[s] || 0, s, `#/sessions?status=${s}`),
    ),
    card("expired, not yet swept", stats.expired, "expired-unswept", null),
    card("runs total", stats.runs_total ?? null, "runs_total", null),
  );
  const failures = failed.sessions.length
    ? h(
        "table",
        { class: "failures", id: "failures", "aria-label": "Recent failures" },
        h("thead", {}, h("tr", {}, ["Session", "Status", "Graph", "Updated", "Last error"].map((t) => h("th", { scope: "col", text: t })))),
        h(
          "tbody",
          {},
          failed.sessions.map((s) =>
            h(
              "tr",
              { dataset: { session: s.session_id } },
              h("td", {}, h("a", { class: "session-id", href: `#/sessions/${encodeURIComponent(s.session_id)}`, text: s.session_id })),
              h("td", {}, statusBadge(s.status)),
              h("td", { text: s.graph_id }),
              h("td", { title: `${fmtTime(s.updated_at)} (${s.updated_at})`, text: fmtAgo(s.updated_at) }),
              h("td", { class: "error-preview", title: s.last_error || null, text: preview(s.last_error || "", 160) }),
            ),
          ),
        ),
      )
    : h("p", { class: "panel empty-state", id: "failures", text: "No failed sessions." });

  const spark = h("div", { id: "runs-rate" });
  const samples = [];
  let timer = null;
  function drawRate() {
    if (stats.runs_total === undefined || stats.runs_total === null) {
      replace(spark, h("p", { class: "muted", text: "Runs per 10 s: only an admin's /stats counts runs." }));
      return;
    }
    const deltas = samples.slice(1).map((n, i) => Math.max(0, n - samples[i]));
    replace(
      spark,
      sparkline(deltas),
      h("p", {
        class: "muted",
        text: deltas.length
          ? `runs in the last 10 s: ${deltas[deltas.length - 1]} (sampled every 10 s since this page opened)`
          : "Runs per 10 s: sampling /stats every 10 s while this page is open…",
      }),
    );
  }
  async function sample() {
    if (document.visibilityState !== "visible") return;
    try {
      const now = await api("GET", "/stats", { signal });
      if (typeof now.runs_total !== "number") return;
      samples.push(now.runs_total);
      if (samples.length > KEEP + 1) samples.shift();
      drawRate();
    } catch {
      /* the next sample tries again */
    }
  }
  if (typeof stats.runs_total === "number") samples.push(stats.runs_total);
  drawRate();
  timer = setInterval(sample, SAMPLE_MS);

  replace(
    main,
    h("h1", { text: "Overview" }),
    h("p", { class: "muted", text: stats.scope === "all" ? "Every session (admin)." : "Your sessions." }),
    cards,
    h("h2", { text: "Runs" }),
    spark,
    h("h2", {}, "Recent failures ", h("a", { href: "#/sessions?status=failed", class: "muted", text: "(all failed)" })),
    failures,
  );
  return () => {
    clearInterval(timer);
    controller.abort();
  };
}
