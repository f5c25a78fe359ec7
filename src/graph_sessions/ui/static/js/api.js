// The inspector's only way to the server: its public REST/SSE routes, with the credential
// the person signed in with (kept in sessionStorage: this tab only, gone when it closes).

const STORE = "graph-sessions.credential";

/** The credential sent as `Authorization: Bearer` (an API key or a JWT), or null. */
export function credential() {
  return sessionStorage.getItem(STORE);
}

export function setCredential(value) {
  if (value) sessionStorage.setItem(STORE, value);
  else sessionStorage.removeItem(STORE);
}

/** An error answer of the server: `status`, `code` (the API's error code), `message`. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const listeners = new Set();
/** `fn(error)` is called for every 401 (the page then asks to sign in). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  const cred = credential();
  if (cred) out.Authorization = `Bearer ${cred}`;
  return out;
}

/** `/sessions/<id>` with the id percent-encoded. */
export function sessionPath(id, rest = "") {
  return `/sessions/${encodeURIComponent(id)}${rest}`;
}

// The API's root: the folder above the page's own (/ui/), so an app mounted under a prefix
// (/gs/ui/ calls /gs/sessions) works as well as one at the root.
const API_ROOT = new URL("../", document.baseURI);

function url(path, query) {
  const u = new URL(path.replace(/^\//, ""), API_ROOT);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => u.searchParams.append(key, v));
    else u.searchParams.set(key, typeof value === "object" ? JSON.stringify(value) : value);
  }
  return u;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const detail = body && (body.message || body.detail);
  const message =
    typeof detail === "string" ? detail : `${response.status} ${response.statusText}`.trim();
  const error = new ApiError(response.status, body && body.error, message, body);
  if (response.status === 401) listeners.forEach((fn) => fn(error));
  return error;
}

/**
 * One JSON request: api("GET", "/sessions", {query: {limit: 50}}), api("POST", path,
 * {body: {...}}). Resolves to the decoded answer (null for 204); rejects with ApiError.
 */
export async function api(method, path, { query, body, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, query), init);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

/**
 * An SSE answer read with fetch (EventSource cannot send the Authorization header):
 * for await (const {event, data, id} of sse("GET", path, {query, signal})) ...
 * `data` is JSON-decoded when it parses. Ends when the server ends the stream.
 */
export async function* sse(method, path, { query, body, signal } = {}) {
  const init = { method, headers: headers({ Accept: "text/event-stream" }), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, query), init);
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { event: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (line === "") {
        if (event.data.length) {
          const raw = event.data.join("\n");
          let data = raw;
          try {
            data = JSON.parse(raw);
          } catch {
            /* not JSON: the text itself */
          }
          yield { event: event.event, data, id: event.id };
        }
        event = { event: "message", data: [], id: null };
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") event.data.push(text);
        else if (field === "event") event.event = text;
        else if (field === "id") event.id = text;
      }
    }
  }
}
