// Graphs (a first version): the graphs the server serves.

import { api } from "../api.js";
import { h, replace } from "../dom.js";

export default async function render(main) {
  const graphs = await api("GET", "/graphs");
  replace(
    main,
    h("h1", { text: "Graphs" }),
    h("ul", {}, graphs.graphs.map((g) => h("li", { text: g === graphs.default ? `${g} (default)` : g }))),
  );
}
