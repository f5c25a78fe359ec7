// One session (a first version: helpers replace it with the state tree, the interrupt
// form, chat, checkpoints, events, runs, transcript and actions).

import { api, sessionPath } from "../api.js";
import { h, replace, statusBadge } from "../dom.js";

export default async function render(main, [id]) {
  const [row, state] = await Promise.all([
    api("GET", sessionPath(id)),
    api("GET", sessionPath(id, "/state")),
  ]);
  replace(
    main,
    h("h1", {}, h("span", { class: "session-id", text: row.session_id }), " ", statusBadge(row.status)),
    h("h2", { text: "State" }),
    h("pre", { class: "state", text: JSON.stringify(state.values, null, 2) }),
  );
}
