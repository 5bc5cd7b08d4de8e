// The REST API, in the same origin as the page: Kafka Connect's resources and the
// Conveyor-only ones under /conveyor/. Every call reports whether the worker answered, so
// the page can say when it is unreachable.

const listeners = new Set();
let reachable = true;
let lastContact = null;

/** Calls `fn(reachable, lastContact)` whenever reachability changes. */
export function onReachability(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setReachable(ok) {
  if (ok) lastContact = new Date();
  if (ok !== reachable) {
    reachable = ok;
    for (const fn of listeners) fn(ok, lastContact);
  }
}

/** An error answered by the API: Connect's {"error_code", "message"}. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Encodes one path segment (connector and plugin names may hold any character). */
export const seg = (s) => encodeURIComponent(s);

/**
 * Sends a request and returns the parsed JSON (null for an empty answer). Throws ApiError
 * for an error status, and a TypeError when the worker cannot be reached.
 */
export async function api(method, path, body, { timeoutMs = 30000 } = {}) {
  const init = {
    method,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    signal: AbortSignal.timeout(timeoutMs),
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    setReachable(false);
    throw e;
  }
  setReachable(true);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === "object" && data.message) ||
      (typeof data === "string" && data) ||
      `HTTP ${response.status}`;
    throw new ApiError(response.status, message, data);
  }
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
