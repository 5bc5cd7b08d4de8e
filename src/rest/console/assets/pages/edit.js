// Create and edit: a form generated from the plugin's ConfigDef, with groups, docs, defaults
// and types. Every change is checked with PUT /connector-plugins/{p}/config/validate, whose
// errors appear next to their field; a raw JSON mode edits the same values.

import { api, ApiError, get, seg } from "../api.js";
import { docHtml, esc, notify } from "../dom.js";

/** Keys shown first, in the "Connector" group. */
const TOP_KEYS = ["name", "connector.class", "tasks.max"];
const VALIDATE_DELAY_MS = 250;

function pickPlugin(root) {
  root.innerHTML = `<h1>New connector</h1><p>Choose the connector plugin to configure.</p><div id="choices" class="choices"><p class="muted">Loading…</p></div>`;
  get("/connector-plugins").then(
    (plugins) => {
      root.querySelector("#choices").innerHTML = ["source", "sink"]
        .map((type) => {
          const list = plugins.filter((p) => p.type === type);
          if (!list.length) return "";
          return `<section><h2>${type === "source" ? "Source connectors" : "Sink connectors"}</h2><ul class="plain">${list
            .map((p) => `<li><a class="choice" href="#/new/${encodeURIComponent(p.class)}">${esc(p.class)}</a> <span class="muted">${esc(p.version || "")}</span></li>`)
            .join("")}</ul></section>`;
        })
        .join("");
    },
    (e) => {
      root.querySelector("#choices").innerHTML = `<p class="error">${esc(e.message)}</p>`;
    },
  );
  return {};
}

function inputFor(def, value, { readonly }) {
  const id = `f-${def.name}`;
  const common = `id="${esc(id)}" name="${esc(def.name)}" data-key="${esc(id)}" aria-describedby="${esc(`d-${def.name}`)} ${esc(`e-${def.name}`)}" ${readonly ? "readonly" : ""}`;
  const placeholder = def.default_value != null && def.default_value !== "" ? `default: ${def.default_value}` : def.required ? "required" : "";
  switch (def.type) {
    case "BOOLEAN": {
      const opt = (v, label) => `<option value="${v}" ${value === v ? "selected" : ""}>${label}</option>`;
      return `<select ${common} ${readonly ? "disabled" : ""}>${opt("", `default${def.default_value != null ? ` (${esc(def.default_value)})` : ""}`)}${opt("true", "true")}${opt("false", "false")}</select>`;
    }
    case "PASSWORD":
      return `<input type="password" autocomplete="new-password" ${common} value="${esc(value)}" placeholder="${esc(placeholder)}">`;
    case "INT":
    case "SHORT":
    case "LONG":
    case "DOUBLE":
      return `<input type="text" inputmode="${def.type === "DOUBLE" ? "decimal" : "numeric"}" ${common} value="${esc(value)}" placeholder="${esc(placeholder)}">`;
    default:
      return `<input type="text" spellcheck="false" autocomplete="off" list="${esc(`r-${def.name}`)}" ${common} value="${esc(value)}" placeholder="${esc(placeholder)}"><datalist id="${esc(`r-${def.name}`)}"></datalist>`;
  }
}

function field(def, value, readonly) {
  const label = def.display_name && def.display_name !== def.name ? `${def.display_name} <span class="mono sub">${esc(def.name)}</span>` : `<span class="mono">${esc(def.name)}</span>`;
  return `<div class="field" data-field="${esc(def.name)}">
    <label for="${esc(`f-${def.name}`)}">${label}${def.required ? ` <span class="req" title="required">*</span>` : ""}
      <span class="type">${esc(def.type)}</span>${def.importance === "HIGH" ? `<span class="type high">high importance</span>` : ""}</label>
    <p class="doc" id="${esc(`d-${def.name}`)}">${docHtml(def.documentation || "")}</p>
    ${inputFor(def, value, { readonly })}
    <p class="field-error" id="${esc(`e-${def.name}`)}" data-error-for="${esc(def.name)}" aria-live="polite"></p>
  </div>`;
}

export function mount(root, { name, plugin: chosen }) {
  if (!name && !chosen) return pickPlugin(root);
  const editing = Boolean(name);
  const values = new Map();
  let plugin = chosen;
  let own = new Set(); // keys of the plugin's own ConfigDef
  let infos = null; // last validate answer
  let shape = ""; // which fields are rendered
  let timer = null;
  let sequence = 0;
  let mode = "form";
  let submitting = false;

  root.innerHTML = `<div class="title"><h1>${editing ? `Edit ${esc(name)}` : "New connector"}</h1>
      <div class="row" role="group" aria-label="Editor mode"><button type="button" data-mode="form" aria-pressed="true">Form</button><button type="button" data-mode="json" aria-pressed="false">JSON</button></div></div>
    <p class="summary mono" id="plugin-name"></p>
    <form id="editor" novalidate>
      <div id="fields" class="reserve"><p class="muted">Loading the plugin's settings…</p></div>
      <div id="json" hidden><label for="raw">Config as JSON</label><textarea id="raw" rows="24" spellcheck="false" data-key="raw"></textarea><p class="field-error" id="raw-error" aria-live="polite"></p></div>
      <div class="form-foot"><p id="error-count" class="muted" aria-live="polite"></p><p id="form-error" class="error" role="alert"></p>
        <div class="row"><button type="submit" class="primary" id="save">${editing ? "Save config" : "Create connector"}</button>
        <a class="button" href="${editing ? `#/connectors/${encodeURIComponent(name)}` : "#/new"}">Cancel</a></div></div>
    </form>`;
  const $ = (sel) => root.querySelector(sel);

  const config = () => {
    const out = Object.fromEntries(values);
    out["connector.class"] = plugin;
    return out;
  };

  function renderFields() {
    const defs = infos.configs.filter((c) => c.value.visible !== false).map((c) => c.definition);
    const byName = new Map(defs.map((d) => [d.name, d]));
    const newShape = defs.map((d) => `${d.name}:${d.type}`).join("|");
    if (newShape === shape) return;
    shape = newShape;
    const groups = new Map();
    for (const d of defs) {
      if (TOP_KEYS.includes(d.name)) continue;
      const g = d.group || (own.has(d.name) ? "Settings" : "Other");
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(d);
    }
    for (const list of groups.values()) list.sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
    const order = [...groups.keys()].sort((a, b) => {
      const ownA = groups.get(a).some((d) => own.has(d.name));
      const ownB = groups.get(b).some((d) => own.has(d.name));
      if (ownA !== ownB) return ownA ? -1 : 1;
      const ia = infos.groups.indexOf(a);
      const ib = infos.groups.indexOf(b);
      return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib);
    });
    const top = TOP_KEYS.map((k) => byName.get(k)).filter(Boolean);
    const html = [
      `<fieldset class="group"><legend>Connector</legend>${top
        .map((d) => field(d, values.get(d.name) ?? "", (d.name === "name" && editing) || d.name === "connector.class"))
        .join("")}</fieldset>`,
      ...order.map((g) => {
        const list = groups.get(g);
        const isOwn = list.some((d) => own.has(d.name));
        const used = list.some((d) => values.has(d.name));
        const body = list.map((d) => field(d, values.get(d.name) ?? "", false)).join("");
        if (isOwn) return `<fieldset class="group"><legend>${esc(g)}</legend>${body}</fieldset>`;
        return `<details class="group" ${used ? "open" : ""} data-group="${esc(g)}"><summary>${esc(g)} <span class="muted">(${list.length})</span></summary>${body}</details>`;
      }),
    ].join("");
    const fields = $("#fields");
    const openGroups = new Set([...fields.querySelectorAll("details[open]")].map((d) => d.dataset.group));
    const active = document.activeElement;
    const key = active && fields.contains(active) ? active.dataset.key : null;
    fields.innerHTML = html;
    for (const d of fields.querySelectorAll("details")) if (openGroups.has(d.dataset.group)) d.open = true;
    if (name) values.set("name", name);
    const nameInput = fields.querySelector('[name="name"]');
    if (nameInput) nameInput.value = values.get("name") ?? "";
    const classInput = fields.querySelector('[name="connector.class"]');
    if (classInput) classInput.value = plugin;
    if (key) fields.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus({ preventScroll: true });
  }

  function showErrors() {
    let count = 0;
    const shown = new Set();
    for (const c of infos.configs) {
      const errs = c.value.errors;
      const el = root.querySelector(`[data-error-for="${CSS.escape(c.value.name)}"]`);
      const input = root.querySelector(`#${CSS.escape(`f-${c.value.name}`)}`);
      // A required key the user has not reached yet is not an error to shout about.
      const quiet = !values.has(c.value.name) && !touched.has(c.value.name) && !submitted;
      const text = quiet ? "" : errs.join(" ");
      if (errs.length && !quiet) count += 1;
      if (el && !shown.has(c.value.name)) {
        el.textContent = text;
        shown.add(c.value.name);
      }
      if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
      const list = root.querySelector(`#${CSS.escape(`r-${c.value.name}`)}`);
      if (list) {
        const options = c.value.recommended_values.map((v) => `<option value="${esc(v)}"></option>`).join("");
        if (list.innerHTML !== options) list.innerHTML = options;
      }
    }
    $("#error-count").textContent = count ? `${count} setting${count > 1 ? "s" : ""} with errors` : "No errors";
  }

  const touched = new Set();
  let submitted = false;

  async function validate() {
    const mine = ++sequence;
    try {
      const answer = await api("PUT", `/connector-plugins/${seg(plugin)}/config/validate`, config());
      if (mine !== sequence) return; // a newer check is on its way
      infos = answer;
      if (mode === "form") renderFields();
      showErrors();
      $("#form-error").textContent = "";
    } catch (e) {
      if (mine === sequence) $("#form-error").textContent = `Cannot check the config: ${e.message}`;
    }
  }

  function scheduleValidate() {
    clearTimeout(timer);
    timer = setTimeout(validate, VALIDATE_DELAY_MS);
  }

  function onInput(e) {
    const input = e.target;
    if (input.id === "raw") {
      try {
        const parsed = JSON.parse(input.value);
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the config must be a JSON object");
        values.clear();
        for (const [k, v] of Object.entries(parsed)) {
          if (k === "connector.class") plugin = String(v);
          else values.set(k, typeof v === "string" ? v : JSON.stringify(v));
        }
        if (name) values.set("name", name);
        $("#raw-error").textContent = "";
        scheduleValidate();
      } catch (err) {
        $("#raw-error").textContent = `Not valid JSON: ${err.message}`;
      }
      return;
    }
    if (!input.name || input.readOnly) return;
    touched.add(input.name);
    if (input.value === "") values.delete(input.name);
    else values.set(input.name, input.value);
    scheduleValidate();
  }

  function setMode(next) {
    mode = next;
    for (const b of root.querySelectorAll("[data-mode]")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    $("#fields").hidden = mode !== "form";
    $("#json").hidden = mode !== "json";
    if (mode === "json") {
      $("#raw").value = JSON.stringify(config(), null, 2);
      $("#raw-error").textContent = "";
    } else {
      shape = "";
      if (infos) {
        renderFields();
        showErrors();
      }
      validate();
    }
  }

  async function save(e) {
    e.preventDefault();
    if (submitting) return;
    submitted = true;
    const body = config();
    const target = editing ? name : (values.get("name") || "").trim();
    if (!target) {
      $("#form-error").textContent = "The connector needs a name.";
      if (infos) showErrors();
      return;
    }
    submitting = true;
    $("#save").disabled = true;
    try {
      if (editing) await api("PUT", `/connectors/${seg(name)}/config`, body);
      else await api("POST", "/connectors", { name: target, config: body });
      notify(editing ? `Saved ${target}` : `Created ${target}`);
      location.hash = `#/connectors/${encodeURIComponent(target)}`;
    } catch (err) {
      $("#form-error").textContent = err.message;
      await validate();
    } finally {
      submitting = false;
      $("#save").disabled = false;
    }
  }

  async function start() {
    try {
      if (editing) {
        const current = await get(`/connectors/${seg(name)}/config`);
        plugin = current["connector.class"];
        for (const [k, v] of Object.entries(current)) if (k !== "connector.class") values.set(k, v);
        values.set("name", name);
      }
      $("#plugin-name").textContent = plugin;
      const keys = await get(`/connector-plugins/${seg(plugin)}/config`);
      own = new Set(keys.map((k) => k.name));
      await validate();
    } catch (e) {
      const what = e instanceof ApiError && e.status === 404 ? `Not found: ${e.message}` : e.message;
      $("#fields").innerHTML = `<p class="error">${esc(what)}</p>`;
    }
  }

  root.addEventListener("input", onInput);
  root.addEventListener("change", onInput);
  root.addEventListener("click", (e) => {
    const b = e.target.closest("[data-mode]");
    if (b) setMode(b.dataset.mode);
  });
  $("#editor").addEventListener("submit", save);
  start();
  return { unmount: () => clearTimeout(timer) };
}
