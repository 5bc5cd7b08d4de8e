// The console's shell: hash routing between pages, one refresh loop (no full reloads), the
// "worker unreachable" banner and keyboard shortcuts. Every page is a module exporting
// `mount(root, params)`, which returns `{refresh, unmount}`.

import { get, onReachability } from "./api.js";
import { record } from "./chart.js";
import { esc, parseHash } from "./dom.js";
import * as cluster from "./pages/cluster.js";
import * as connector from "./pages/connector.js";
import * as edit from "./pages/edit.js";
import * as loggers from "./pages/loggers.js";
import * as peek from "./pages/peek.js";
import * as plugins from "./pages/plugins.js";

const REFRESH_MS = 2000;

/** Route table: a pattern over the hash path, the page, the nav entry it lights up. */
const ROUTES = [
  [/^\/$/, cluster, "cluster", () => ({})],
  [/^\/connectors\/([^/]+)\/edit$/, edit, "cluster", (m) => ({ name: decodeURIComponent(m[1]) })],
  [/^\/connectors\/([^/]+)$/, connector, "cluster", (m) => ({ name: decodeURIComponent(m[1]) })],
  [/^\/new$/, edit, "new", () => ({})],
  [/^\/new\/([^/]+)$/, edit, "new", (m) => ({ plugin: decodeURIComponent(m[1]) })],
  [/^\/plugins$/, plugins, "plugins", () => ({})],
  [/^\/peek$/, peek, "peek", () => ({})],
  [/^\/loggers$/, loggers, "loggers", () => ({})],
];

const main = document.getElementById("main");
let current = null;
let timer = null;
let refreshing = false;

function route() {
  const { path, query } = parseHash(location.hash);
  for (const [pattern, page, nav, params] of ROUTES) {
    const m = path.match(pattern);
    if (m) return { page, nav, params: { ...params(m), query } };
  }
  return null;
}

async function refresh() {
  if (refreshing || document.hidden) return;
  refreshing = true;
  try {
    const metrics = get("/conveyor/metrics?scope=cluster", { timeoutMs: 10000 })
      .then(record)
      .catch(() => {});
    await Promise.allSettled([metrics, current?.refresh?.()]);
  } finally {
    refreshing = false;
  }
}

function show() {
  current?.unmount?.();
  current = null;
  const found = route();
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (found && a.dataset.nav === found.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.innerHTML = "";
  main._html = undefined;
  if (!found) {
    main.innerHTML = `<h1>Not found</h1><p>No page at <code>${esc(location.hash)}</code>. <a href="#/">Back to the cluster</a>.</p>`;
    return;
  }
  current = found.page.mount(main, found.params);
  // Move the keyboard and screen reader focus to the new page's heading.
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
  refresh();
}

function banner(ok, lastContact) {
  const el = document.getElementById("banner");
  document.body.classList.toggle("offline", !ok);
  if (ok) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  const since = lastContact ? ` Last answer at ${lastContact.toLocaleTimeString()}.` : "";
  el.textContent = `The worker at ${location.host} is not answering; what you see may be out of date. Retrying every ${REFRESH_MS / 1000} s.${since}`;
  el.hidden = false;
}

async function header() {
  try {
    const [root, workers] = await Promise.all([get("/"), get("/conveyor/workers")]);
    const leader = workers.leader_url ? ` · leader ${workers.leader_url}` : "";
    const el = document.getElementById("worker");
    el.textContent = `worker ${workers.worker_id} · Conveyor ${root.version}${root.kafka_cluster_id ? ` · Kafka cluster ${root.kafka_cluster_id}` : ""}${leader}`;
    el.title = el.textContent;
  } catch {
    setTimeout(header, REFRESH_MS);
  }
}

// Single-key shortcuts, when not typing in a field.
const KEYS = { c: "#/", n: "#/new", p: "#/plugins", k: "#/peek", l: "#/loggers" };
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)) return;
  if (KEYS[e.key]) {
    location.hash = KEYS[e.key];
  } else if (e.key === "r") {
    refresh();
  } else {
    return;
  }
  e.preventDefault();
});

// The skip link focuses the content without touching the hash (which holds the route).
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});

onReachability(banner);
window.addEventListener("hashchange", show);
document.addEventListener("visibilitychange", () => !document.hidden && refresh());
show();
header();
timer = setInterval(refresh, REFRESH_MS);
window.conveyorConsole = { refresh, stop: () => clearInterval(timer) };
