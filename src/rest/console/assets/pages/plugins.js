// Plugins: every connector, transform, predicate and converter the worker can load, built-in
// or Python, with the documentation of each of its settings.

import { get, seg } from "../api.js";
import { docHtml, esc } from "../dom.js";

const TYPES = [
  ["source", "Source connectors"],
  ["sink", "Sink connectors"],
  ["transformation", "Transforms"],
  ["predicate", "Predicates"],
  ["converter", "Converters"],
  ["header_converter", "Header converters"],
];

function keysTable(keys) {
  if (!keys.length) return `<p class="muted">No settings of its own.</p>`;
  return `<table class="list plugin-keys"><thead><tr><th>Setting</th><th>Type</th><th>Default</th><th>Documentation</th></tr></thead><tbody>${keys
    .map(
      (k) => `<tr><td data-label="Setting" class="mono">${esc(k.name)}${k.required ? ` <span class="req" title="required">*</span>` : ""}</td>
      <td data-label="Type">${esc(k.type)}</td><td data-label="Default" class="mono">${esc(k.default_value ?? "")}</td>
      <td data-label="Documentation"><span>${docHtml(k.documentation)}</span></td></tr>`,
    )
    .join("")}</tbody></table>`;
}

export function mount(root) {
  root.innerHTML = `<div class="title"><h1>Plugins</h1>
      <label class="filter"><span>Filter</span><input type="search" id="filter" placeholder="class name" data-key="filter"></label></div>
    <div id="plugins" class="reserve"><p class="muted">Loading…</p></div>`;
  const box = root.querySelector("#plugins");
  let plugins = [];

  function render() {
    const q = root.querySelector("#filter").value.trim().toLowerCase();
    const shown = plugins.filter((p) => !q || p.class.toLowerCase().includes(q));
    box.innerHTML =
      TYPES.map(([type, title]) => {
        const list = shown.filter((p) => p.type === type);
        if (!list.length) return "";
        return `<section><h2>${title} <span class="muted">(${list.length})</span></h2>${list
          .map(
            (p) => `<details class="plugin" data-class="${esc(p.class)}"><summary><span class="mono">${esc(p.class)}</span> <span class="muted">${esc(p.version || "")}</span>
              ${type === "source" || type === "sink" ? `<a class="button small" href="#/new/${encodeURIComponent(p.class)}">Create</a>` : ""}</summary>
              <div class="plugin-body"><p class="muted">Loading…</p></div></details>`,
          )
          .join("")}</section>`;
      }).join("") || `<p class="empty">No plugin matches.</p>`;
  }

  box.addEventListener(
    "toggle",
    async (e) => {
      const d = e.target;
      if (!d.open || d.dataset.loaded) return;
      d.dataset.loaded = "1";
      const body = d.querySelector(".plugin-body");
      try {
        body.innerHTML = keysTable(await get(`/connector-plugins/${seg(d.dataset.class)}/config`));
      } catch (err) {
        body.innerHTML = `<p class="error">${esc(err.message)}</p>`;
      }
    },
    true,
  );
  root.querySelector("#filter").addEventListener("input", render);
  get("/connector-plugins?connectorsOnly=false").then(
    (list) => {
      plugins = list;
      render();
    },
    (e) => {
      box.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    },
  );
  return {};
}
