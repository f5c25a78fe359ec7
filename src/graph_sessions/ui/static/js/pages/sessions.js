// The sessions list (a first version: helpers replace it with facets, filters, search,
// sort, cursor pages and live updates).

import { api } from "../api.js";
import { fmtAgo, h, replace, statusBadge } from "../dom.js";

export default async function render(main) {
  const rows = h("tbody");
  replace(
    main,
    h("h1", { text: "Sessions" }),
    h(
      "table",
      { class: "sessions" },
      h(
        "thead",
        {},
        h("tr", {}, ["Session", "Status", "Graph", "Owner", "Updated"].map((t) => h("th", { scope: "col", text: t }))),
      ),
      rows,
    ),
  );
  const page = await api("GET", "/sessions", { query: { limit: 50, sort: "updated_at" } });
  replace(
    rows,
    page.sessions.map((s) =>
      h(
        "tr",
        { dataset: { session: s.session_id } },
        h("td", {}, h("a", { href: `#/sessions/${encodeURIComponent(s.session_id)}`, text: s.session_id })),
        h("td", {}, statusBadge(s.status)),
        h("td", { text: s.graph_id }),
        h("td", { text: s.owner ?? "" }),
        h("td", { title: s.updated_at, text: fmtAgo(s.updated_at) }),
      ),
    ),
  );
}
