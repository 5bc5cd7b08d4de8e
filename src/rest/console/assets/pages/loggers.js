// Loggers: the worker's log levels (GET /admin/loggers), changed with PUT /admin/loggers/{name}.
// Levels are per worker, as in Kafka Connect.

import { api, get, seg } from "../api.js";
import { esc, notify, patch } from "../dom.js";

const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"];

function select(name, level) {
  return `<select data-logger="${esc(name)}" data-key="lv:${esc(name)}" aria-label="Level of ${esc(name)}">${LEVELS.map(
    (l) => `<option ${l === level ? "selected" : ""}>${l}</option>`,
  ).join("")}</select>`;
}

export function mount(root) {
  root.innerHTML = `<h1>Loggers</h1>
    <p class="hint">Levels apply to this worker only. A logger set here also applies to the loggers below it.</p>
    <div id="loggers" class="reserve-small"><p class="muted">Loading…</p></div>
    <form id="add" class="row"><label for="new-logger">Logger</label><input id="new-logger" placeholder="e.g. conveyor::runtime" required>
      <label for="new-level">Level</label><select id="new-level">${LEVELS.map((l) => `<option ${l === "DEBUG" ? "selected" : ""}>${l}</option>`).join("")}</select>
      <button type="submit" class="primary">Set level</button></form>`;
  const box = root.querySelector("#loggers");

  async function setLevel(name, level) {
    try {
      const changed = await api("PUT", `/admin/loggers/${seg(name)}`, { level });
      notify(`${name}: ${level}${Array.isArray(changed) && changed.length > 1 ? ` (${changed.length} loggers)` : ""}`);
      await refresh();
    } catch (e) {
      notify(`Setting ${name} failed: ${e.message}`, "error");
    }
  }

  async function refresh() {
    const loggers = await get("/admin/loggers");
    const names = Object.keys(loggers).sort((a, b) => (a === "root" ? -1 : b === "root" ? 1 : a.localeCompare(b)));
    patch(
      box,
      `<table class="list"><thead><tr><th>Logger</th><th>Level</th><th>Last changed</th></tr></thead><tbody>${names
        .map((n) => {
          const { level, last_modified: at } = loggers[n];
          return `<tr><td data-label="Logger" class="mono">${esc(n)}</td><td data-label="Level">${select(n, level)}</td>
            <td data-label="Last changed">${at ? esc(new Date(at).toLocaleString()) : `<span class="muted">–</span>`}</td></tr>`;
        })
        .join("")}</tbody></table>`,
    );
  }

  box.addEventListener("change", (e) => {
    const s = e.target.closest("select[data-logger]");
    if (s) setLevel(s.dataset.logger, s.value);
  });
  root.querySelector("#add").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = root.querySelector("#new-logger").value.trim();
    if (name) setLevel(name, root.querySelector("#new-level").value);
  });
  return { refresh };
}
