// Overview (a first version): totals by status.

import { api } from "../api.js";
import { h, replace, statusBadge } from "../dom.js";

export default async function render(main) {
  const stats = await api("GET", "/stats");
  replace(
    main,
    h("h1", { text: "Overview" }),
    h("p", { text: `${stats.total} sessions` }),
    h(
      "ul",
      { class: "by-status" },
      Object.entries(stats.by_status).map(([status, n]) => h("li", {}, statusBadge(status), ` ${n}`)),
    ),
  );
}
