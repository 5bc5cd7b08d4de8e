// Cluster: the workers, every connector with its state, its tasks counted by state, and its
// records/s and consumer lag as live charts from the workers' own metrics.

import { get } from "../api.js";
import { latest, reportingWorkers, sparkline } from "../chart.js";
import { badge, esc, num, patch, stateClass } from "../dom.js";

const TASK_STATES = ["RUNNING", "FAILED", "PAUSED", "STOPPED", "UNASSIGNED", "RESTARTING"];

function taskCounts(tasks) {
  const counts = {};
  for (const t of tasks) counts[t.state] = (counts[t.state] || 0) + 1;
  const parts = TASK_STATES.filter((s) => counts[s]).map(
    (s) => `<span class="count ${stateClass(s)}" title="${counts[s]} ${s.toLowerCase()}">${counts[s]} ${s.toLowerCase()}</span>`,
  );
  return parts.length ? parts.join(" ") : `<span class="muted">no tasks</span>`;
}

function connectorRows(connectors) {
  const names = Object.keys(connectors).sort();
  if (!names.length) {
    return `<p class="empty">No connectors yet. <a href="#/new">Create one</a>.</p>`;
  }
  const rows = names
    .map((name) => {
      const { status = {}, info = {} } = connectors[name];
      const c = status.connector || {};
      const m = latest(name);
      const type = info.type || status.type || "";
      return `<tr data-connector="${esc(name)}">
        <td data-label="Connector"><div><a href="#/connectors/${encodeURIComponent(name)}" data-key="c:${esc(name)}">${esc(name)}</a>
          <div class="sub">${esc((info.config || {})["connector.class"] || "")}</div></div></td>
        <td data-label="Type"><span>${esc(type)}</span></td>
        <td data-label="State">${badge(c.state)}</td>
        <td data-label="Tasks"><div>${taskCounts(status.tasks || [])}</div></td>
        <td data-label="Worker" class="mono">${esc(c.worker_id || "")}</td>
        <td data-label="Records/s" class="chart"><span class="chart-in"><span class="figure">${num(m?.rate, 1)}</span>${sparkline(name, "rate", "records per second")}</span></td>
        <td data-label="Lag" class="chart"><span class="chart-in">${
          type === "source"
            ? `<span class="figure muted" title="source connectors have no consumer lag">–</span><span class="spark-space"></span>`
            : `<span class="figure">${num(m?.lag)}</span>${sparkline(name, "lag", "consumer lag (records)")}`
        }</span></td>
      </tr>`;
    })
    .join("");
  return `<table class="list connectors">
    <thead><tr><th>Connector</th><th>Type</th><th>State</th><th>Tasks</th><th>Worker</th><th>Records/s</th><th>Lag</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

function workerRows(workers, connectors) {
  const load = new Map();
  const bump = (id, key) => {
    const l = load.get(id) || { connectors: 0, tasks: 0 };
    l[key] += 1;
    load.set(id, l);
  };
  for (const { status } of Object.values(connectors)) {
    if (!status) continue;
    if (status.connector?.worker_id) bump(status.connector.worker_id, "connectors");
    for (const t of status.tasks || []) if (t.worker_id) bump(t.worker_id, "tasks");
  }
  const metrics = new Map(reportingWorkers().map((w) => [w.worker_id, w]));
  const ids = new Set([...workers.workers.map((w) => w.worker_id), ...load.keys()]);
  const rows = [...ids]
    .sort()
    .map((id) => {
      const w = workers.workers.find((x) => x.worker_id === id) || {};
      const l = load.get(id) || { connectors: 0, tasks: 0 };
      const m = metrics.get(id);
      const roles = [];
      if (id === workers.worker_id) roles.push("this worker");
      if (w.url && workers.leader_url === w.url) roles.push("leader");
      if (!workers.leader_url && workers.workers.length > 1 && id === workers.worker_id) roles.push("leader");
      const health = m
        ? m.ok
          ? `<span class="badge ok">answering</span>`
          : `<span class="badge bad" title="${esc(m.error)}">not answering</span>`
        : `<span class="badge idle">unknown</span>`;
      return `<tr><td data-label="Worker" class="mono"><span>${esc(id)}</span></td><td data-label="Role"><span>${esc(roles.join(", "))}</span></td>
        <td data-label="Connectors"><span>${l.connectors}</span></td><td data-label="Tasks"><span>${l.tasks}</span></td><td data-label="Metrics">${health}</td></tr>`;
    })
    .join("");
  return `<table class="list workers"><thead><tr><th>Worker</th><th>Role</th><th>Connectors</th><th>Tasks</th><th>Metrics</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function mount(root) {
  root.innerHTML = `<div class="title"><h1>Cluster</h1><a class="button primary" href="#/new">New connector</a></div>
    <section aria-labelledby="h-connectors"><h2 id="h-connectors">Connectors</h2><div id="connectors" class="reserve" aria-live="off"><p class="muted">Loading…</p></div></section>
    <section aria-labelledby="h-workers"><h2 id="h-workers">Workers</h2><div id="workers" class="reserve-small"><p class="muted">Loading…</p></div></section>`;
  const connectorsEl = root.querySelector("#connectors");
  const workersEl = root.querySelector("#workers");
  let workers = null;
  let lastWorkers = 0;
  return {
    async refresh() {
      const connectors = await get("/connectors?expand=status&expand=info");
      if (!workers || Date.now() - lastWorkers > 10000) {
        workers = await get("/conveyor/workers").catch(() => workers);
        lastWorkers = Date.now();
      }
      patch(connectorsEl, connectorRows(connectors));
      if (workers) patch(workersEl, workerRows(workers, connectors));
    },
  };
}
