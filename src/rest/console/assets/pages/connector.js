// One connector: state and actions (pause, resume, restart, stop, delete), its tasks with
// the full trace of a failed one, its config (secrets come masked from the API), its active
// topics, its offsets (reset or changed while STOPPED) and its live metrics.

import { api, ApiError, get, seg } from "../api.js";
import { latest, sparkline } from "../chart.js";
import { badge, esc, notify, num, patch } from "../dom.js";

const DLQ_KEY = "errors.deadletterqueue.topic.name";

function peekLink(topic, label = "Peek") {
  return `<a class="button small" href="#/peek?topic=${encodeURIComponent(topic)}" data-key="peek:${esc(topic)}">${esc(label)}</a>`;
}

function actions(state) {
  const button = (action, label, enabled, cls = "") =>
    `<button type="button" class="${cls}" data-action="${action}" data-key="a:${action}" ${enabled ? "" : "disabled"}>${label}</button>`;
  return [
    button("pause", "Pause", state === "RUNNING"),
    button("resume", "Resume", state === "PAUSED" || state === "STOPPED"),
    button("restart", "Restart", state !== "STOPPED"),
    button("restart-failed", "Restart failed tasks", state !== "STOPPED"),
    button("stop", "Stop", state !== "STOPPED"),
    button("delete", "Delete", true, "danger"),
  ].join("");
}

function tasksTable(tasks) {
  if (!tasks.length) return `<p class="muted">No tasks.</p>`;
  return tasks
    .map(
      (t) => `<div class="task" data-task="${t.id}">
        <div class="task-head"><span class="task-id">Task ${t.id}</span>${badge(t.state)}
          <span class="mono sub">${esc(t.worker_id || "")}</span>
          <button type="button" class="small" data-action="restart-task" data-task="${t.id}" data-key="rt:${t.id}">Restart task</button></div>
        ${
          t.trace
            ? `<details class="trace" ${t.state === "FAILED" ? "open" : ""}><summary>Trace</summary><pre tabindex="0" data-key="trace:${t.id}">${esc(t.trace)}</pre></details>`
            : ""
        }
      </div>`,
    )
    .join("");
}

function configTable(config) {
  const keys = Object.keys(config).sort();
  return `<table class="kv"><tbody>${keys
    .map((k) => `<tr><th scope="row" class="mono">${esc(k)}</th><td class="mono">${esc(config[k])}</td></tr>`)
    .join("")}</tbody></table>`;
}

function offsetsView(offsets, state) {
  const list = offsets?.offsets || [];
  const stopped = state === "STOPPED";
  const rows = list.length
    ? `<table class="list"><thead><tr><th>Partition</th><th>Offset</th></tr></thead><tbody>${list
        .map(
          (o) =>
            `<tr><td data-label="Partition" class="mono">${esc(JSON.stringify(o.partition))}</td><td data-label="Offset" class="mono">${esc(JSON.stringify(o.offset))}</td></tr>`,
        )
        .join("")}</tbody></table>`
    : `<p class="muted">No offsets committed yet.</p>`;
  const tools = stopped
    ? `<div class="row"><button type="button" data-action="reset-offsets" data-key="a:reset-offsets" class="danger">Reset all offsets</button>
       <button type="button" data-action="edit-offsets" data-key="a:edit-offsets">Change offsets…</button></div>`
    : `<p class="hint">Offsets can be reset or changed while the connector is STOPPED.</p>`;
  return rows + tools;
}

export function mount(root, { name }) {
  const path = `/connectors/${seg(name)}`;
  root.innerHTML = `<div class="title"><h1>${esc(name)}</h1><span id="state"></span>
      <a class="button" href="#/connectors/${encodeURIComponent(name)}/edit">Edit config</a></div>
    <div id="summary" class="summary"></div>
    <div id="actions" class="row actions" role="group" aria-label="Connector actions"></div>
    <div id="conn-trace"></div>
    <div class="grid">
      <section aria-labelledby="h-tasks"><h2 id="h-tasks">Tasks</h2><div id="tasks" class="reserve-small"></div></section>
      <section aria-labelledby="h-metrics"><h2 id="h-metrics">Metrics</h2><div id="metrics" class="metrics"></div></section>
      <section aria-labelledby="h-topics"><h2 id="h-topics">Active topics</h2><div id="topics"></div></section>
      <section aria-labelledby="h-offsets"><h2 id="h-offsets">Offsets</h2><div id="offsets"></div>
        <form id="offsets-form" hidden><label for="offsets-json">Offsets (JSON body of PATCH /offsets)</label>
        <textarea id="offsets-json" rows="8" spellcheck="false"></textarea>
        <div class="row"><button type="submit" class="primary">Save offsets</button><button type="button" data-action="cancel-offsets">Cancel</button></div></form></section>
      <section aria-labelledby="h-config" class="wide"><h2 id="h-config">Config</h2><div id="config"></div></section>
    </div>`;
  const el = (id) => root.querySelector(`#${id}`);
  let status = null;
  let offsets = null;
  let lastSlow = 0;
  let config = {};
  let gone = false;

  async function refreshSlow() {
    const [cfg, topics, offs] = await Promise.allSettled([
      get(`${path}/config`),
      get(`${path}/topics`),
      get(`${path}/offsets`),
    ]);
    if (cfg.status === "fulfilled") {
      config = cfg.value;
      patch(el("config"), configTable(config));
    }
    const active = topics.status === "fulfilled" ? topics.value[name]?.topics || [] : [];
    const dlq = config[DLQ_KEY];
    patch(
      el("topics"),
      (active.length
        ? `<ul class="topics">${active.map((t) => `<li><span class="mono">${esc(t)}</span> ${peekLink(t)}</li>`).join("")}</ul>`
        : `<p class="muted">No active topics recorded.</p>`) +
        (dlq ? `<p>Dead letter queue: <span class="mono">${esc(dlq)}</span> ${peekLink(dlq, "Peek DLQ")}</p>` : "") +
        (active.length ? `<button type="button" class="small" data-action="reset-topics" data-key="a:reset-topics">Reset active topics</button>` : ""),
    );
    if (offs.status === "fulfilled") offsets = offs.value;
    else if (offs.reason instanceof ApiError) offsets = { error: offs.reason.message };
    lastSlow = Date.now();
  }

  function render() {
    const c = status.connector || {};
    patch(el("state"), badge(c.state));
    patch(
      el("summary"),
      `<span>${esc(status.type || "")} connector</span> · <span class="mono">${esc(config["connector.class"] || "")}</span> · on <span class="mono">${esc(c.worker_id || "")}</span>`,
    );
    patch(el("actions"), actions(c.state));
    patch(
      el("conn-trace"),
      c.trace ? `<details class="trace" open><summary>Connector trace</summary><pre tabindex="0">${esc(c.trace)}</pre></details>` : "",
    );
    patch(el("tasks"), tasksTable(status.tasks || []));
    const m = latest(name);
    patch(
      el("metrics"),
      `<div class="metric"><span class="label">Records/s</span><span class="figure">${num(m?.rate, 1)}</span>${sparkline(name, "rate", "records per second")}</div>` +
        (status.type === "sink"
          ? `<div class="metric"><span class="label">Consumer lag</span><span class="figure">${num(m?.lag)}</span>${sparkline(name, "lag", "consumer lag")}</div>`
          : "") +
        `<div class="metric"><span class="label">Record failures</span><span class="figure">${num(m?.failures)}</span></div>` +
        `<div class="metric"><span class="label">Sent to the DLQ</span><span class="figure">${num(m?.dlq)}</span></div>`,
    );
    patch(el("offsets"), offsets?.error ? `<p class="muted">${esc(offsets.error)}</p>` : offsetsView(offsets, c.state));
  }

  async function refresh() {
    if (gone) return;
    try {
      status = await get(`${path}/status`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        gone = true;
        root.innerHTML = `<h1>${esc(name)}</h1><p>There is no connector ${esc(name)} (any more). <a href="#/">Back to the cluster</a>.</p>`;
        return;
      }
      throw e;
    }
    if (Date.now() - lastSlow > 10000) await refreshSlow();
    render();
  }

  async function act(action, button) {
    const calls = {
      pause: () => api("PUT", `${path}/pause`),
      resume: () => api("PUT", `${path}/resume`),
      stop: () => api("PUT", `${path}/stop`),
      restart: () => api("POST", `${path}/restart?includeTasks=true&onlyFailed=false`),
      "restart-failed": () => api("POST", `${path}/restart?includeTasks=true&onlyFailed=true`),
      "restart-task": () => api("POST", `${path}/tasks/${button.dataset.task}/restart`),
      "reset-topics": () => api("PUT", `${path}/topics/reset`),
      "reset-offsets": () => api("DELETE", `${path}/offsets`),
      delete: () => api("DELETE", path),
    };
    if (action === "delete" && !confirm(`Delete connector ${name}? Its config is removed and its tasks stop.`)) return;
    if (action === "reset-offsets" && !confirm(`Reset every offset of ${name}? It will start over from the beginning.`)) return;
    if (action === "edit-offsets") {
      el("offsets-json").value = JSON.stringify({ offsets: offsets?.offsets || [] }, null, 2);
      el("offsets-form").hidden = false;
      el("offsets-json").focus();
      return;
    }
    if (action === "cancel-offsets") {
      el("offsets-form").hidden = true;
      return;
    }
    button.disabled = true;
    try {
      const answer = await calls[action]();
      notify(answer?.message || `${button.textContent.trim()}: done`);
      if (action === "delete") {
        location.hash = "#/";
        return;
      }
      lastSlow = 0;
      await refresh();
    } catch (e) {
      notify(`${button.textContent.trim()} failed: ${e.message}`, "error");
      button.disabled = false;
    }
  }

  root.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (button && root.contains(button)) act(button.dataset.action, button);
  });
  el("offsets-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    let body;
    try {
      body = JSON.parse(el("offsets-json").value);
    } catch (err) {
      notify(`Not valid JSON: ${err.message}`, "error");
      return;
    }
    try {
      const answer = await api("PATCH", `${path}/offsets`, body);
      notify(answer?.message || "Offsets changed");
      el("offsets-form").hidden = true;
      lastSlow = 0;
      await refresh();
    } catch (err) {
      notify(`Changing the offsets failed: ${err.message}`, "error");
    }
  });
  return { refresh };
}
