// The shell: a hash router (#/sessions, #/sessions/<id>, #/overview, #/graphs[/<id>],
// #/signin), the sign-in state and the page-wide notice. Each page is a module whose
// default export renders into <main> and may return a cleanup function.

import { api, ApiError, credential, onUnauthorized, setCredential } from "./api.js";
import { h, replace } from "./dom.js";

const ROUTES = [
  [/^\/sessions\/(.+)$/, "sessions", () => import("./pages/session.js")],
  [/^\/sessions\/?(?:\?.*)?$/, "sessions", () => import("./pages/sessions.js")],
  [/^\/overview\/?$/, "overview", () => import("./pages/overview.js")],
  [/^\/graphs(?:\/(.+))?$/, "graphs", () => import("./pages/graph.js")],
  [/^\/signin$/, "", () => import("./pages/signin.js")],
];

const main = document.getElementById("main");
const notice = document.getElementById("notice");
let cleanup = null;
let renderId = 0;

/** Who is signed in: {scope: "all" | "owner"} once known (from GET /stats). */
export const session = { scope: null };
let shellStats = null; // the GET /stats the sign-in check read, until a page takes it
let shellStatsAt = 0;

/** The /stats answer the shell read in the last 5 s, once: the first page after a load
 * or a sign-in need not ask again (null otherwise: ask the server). */
export function freshStats() {
  const stats = Date.now() - shellStatsAt < 5000 ? shellStats : null;
  shellStats = null;
  return stats;
}

/** Show `message` at the top of the page (kind "error" or "info"); empty hides it. */
export function showNotice(message, kind = "error") {
  notice.hidden = !message;
  notice.className = `notice ${kind}`;
  notice.textContent = message || "";
}

/** Go to `hash` ("#/sessions/x"). */
export function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

// The hash as written (ids in it percent-encoded once): routes match it raw and decode only
// what they capture, so an id holding "%" or "/" reaches its page intact.
function currentPath() {
  return window.location.hash.replace(/^#/, "") || "/sessions";
}

function decodePart(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a hand-typed malformed escape: take the text as it is
  }
}

async function refreshWho() {
  const who = document.getElementById("who");
  const signout = document.getElementById("signout");
  signout.hidden = !credential();
  try {
    const stats = await api("GET", "/stats");
    shellStats = stats;
    shellStatsAt = Date.now();
    session.scope = stats.scope;
    who.textContent = stats.scope === "all" ? "all sessions (admin)" : "your sessions";
  } catch (error) {
    session.scope = null;
    who.textContent = "";
    if (!(error instanceof ApiError && error.status === 401)) throw error;
  }
}

async function route() {
  const id = ++renderId;
  const path = currentPath();
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  showNotice("");
  for (const [pattern, nav, load] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    document.querySelectorAll("[data-nav]").forEach((a) => {
      if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    const page = await load();
    if (id !== renderId) return; // the person went elsewhere meanwhile
    // each render gets its own container: a page still loading when the person moves on
    // writes into a detached one, never over the next page
    const container = h("div", { class: "page" });
    replace(main, container);
    try {
      const done = await page.default(container, match.slice(1).map((p) => p && decodePart(p)));
      if (id === renderId) cleanup = done;
      else if (typeof done === "function") done(); // moved on meanwhile: stop it now
    } catch (error) {
      if (id === renderId) showError(error);
    }
    return;
  }
  replace(main, h("h1", { text: "Not found" }), h("p", {}, h("a", { href: "#/sessions" }, "Sessions")));
}

/** Show an error of a call (401s go to the sign-in page instead). */
export function showError(error) {
  if (error instanceof ApiError && error.status === 401) return;
  if (error && error.name === "AbortError") return;
  showNotice(error instanceof ApiError ? `${error.message} (${error.code || error.status})` : String(error));
}

onUnauthorized(() => {
  if (currentPath() !== "/signin") {
    sessionStorage.setItem("graph-sessions.return", window.location.hash || "#/sessions");
    navigate("#/signin");
  }
});

/** Signed in with `value` (tried on GET /stats first): go back where the person was. */
export async function signIn(value) {
  setCredential(value);
  try {
    await refreshWho();
  } catch (error) {
    setCredential(null);
    throw error;
  }
  if (session.scope === null) {
    setCredential(null);
    throw new Error("the server refused this key or token");
  }
  const back = sessionStorage.getItem("graph-sessions.return") || "#/sessions";
  sessionStorage.removeItem("graph-sessions.return");
  navigate(back === "#/signin" ? "#/sessions" : back);
}

document.getElementById("signout").addEventListener("click", () => {
  setCredential(null);
  session.scope = null;
  navigate("#/signin");
  refreshWho().catch(showError);
});

window.addEventListener("hashchange", () => route());
window.addEventListener("unhandledrejection", (event) => showError(event.reason));
refreshWho()
  .catch(showError)
  .finally(() => route());
