// Peek: the last (or first) records of a topic, for example a connector's topic or its dead
// letter queue, decoded with a chosen converter, with their headers (such as the
// __connect.errors.* context of a dead-lettered record). Reads GET /conveyor/peek.

import { get } from "../api.js";
import { esc } from "../dom.js";

const CONVERTERS = [
  ["auto", "Guess (JSON, else text, else bytes)"],
  ["org.apache.kafka.connect.json.JsonConverter", "JsonConverter"],
  ["org.apache.kafka.connect.storage.StringConverter", "StringConverter"],
  ["org.apache.kafka.connect.converters.ByteArrayConverter", "ByteArrayConverter"],
];

function options(selected) {
  return CONVERTERS.map(([v, label]) => `<option value="${esc(v)}" ${v === selected ? "selected" : ""}>${esc(label)}</option>`).join("");
}

function shown(part) {
  if (!part) return `<span class="muted">null</span>`;
  if (part.error) return `<span class="error">${esc(part.error)}</span><pre>${esc(part.payload ?? "")}</pre>`;
  const p = part.payload;
  if (p === null || p === undefined) return `<span class="muted">null</span>`;
  return `<pre>${esc(typeof p === "string" ? p : JSON.stringify(p, null, 2))}</pre>`;
}

function recordCard(r) {
  const headers = r.headers.length
    ? `<table class="kv headers"><tbody>${r.headers
        .map(
          (h) => `<tr class="${h.key.startsWith("__connect.errors.") ? "error-header" : ""}"><th scope="row" class="mono">${esc(h.key)}</th>
          <td><pre>${h.value === null ? `<span class="muted">null</span>` : esc(h.value)}</pre></td></tr>`,
        )
        .join("")}</tbody></table>`
    : `<p class="muted">No headers.</p>`;
  const when = r.timestamp != null ? new Date(r.timestamp).toISOString() : "no timestamp";
  return `<article class="record" data-offset="${r.offset}" data-partition="${r.partition}">
    <header><span class="mono">partition ${r.partition} · offset ${r.offset}</span> <span class="muted">${esc(when)}</span></header>
    <div class="record-body"><div><h3>Key</h3>${shown(r.key)}</div><div><h3>Value</h3>${shown(r.value)}</div>
    <div class="wide"><h3>Headers <span class="muted">(${r.headers.length})</span></h3>${headers}</div></div></article>`;
}

export function mount(root, { query }) {
  const topic = query.get("topic") || "";
  const n = query.get("n") || "20";
  const from = query.get("from") || "end";
  const valueConverter = query.get("value.converter") || "auto";
  const keyConverter = query.get("key.converter") || "auto";
  const schemas = query.get("schemas") || "true";
  root.innerHTML = `<h1>Peek</h1>
    <form id="peek-form" class="peek-form">
      <div class="field"><label for="topic">Topic</label><input id="topic" name="topic" required value="${esc(topic)}" list="known-topics" spellcheck="false" autocomplete="off"><datalist id="known-topics"></datalist></div>
      <div class="field small"><label for="n">Records</label><input id="n" name="n" inputmode="numeric" value="${esc(n)}"></div>
      <div class="field small"><label for="from">Which</label><select id="from" name="from"><option value="end" ${from === "end" ? "selected" : ""}>last</option><option value="start" ${from === "start" ? "selected" : ""}>first</option></select></div>
      <div class="field"><label for="key-converter">Key converter</label><select id="key-converter" name="key.converter">${options(keyConverter)}</select></div>
      <div class="field"><label for="value-converter">Value converter</label><select id="value-converter" name="value.converter">${options(valueConverter)}</select></div>
      <div class="field small"><label for="schemas">JSON schemas</label><select id="schemas" name="schemas"><option value="true" ${schemas === "true" ? "selected" : ""}>envelope</option><option value="false" ${schemas === "false" ? "selected" : ""}>none</option></select></div>
      <div class="field"><button type="submit" class="primary">Peek</button></div>
    </form>
    <p id="peek-status" class="muted" aria-live="polite"></p>
    <div id="records"></div>`;
  const form = root.querySelector("#peek-form");
  const status = root.querySelector("#peek-status");
  const box = root.querySelector("#records");

  // Offer the topics of the connectors as suggestions.
  get("/connectors?expand=info")
    .then(async (all) => {
      const topics = new Set();
      for (const { info } of Object.values(all)) {
        const c = info?.config || {};
        for (const k of ["topic", "topics", "errors.deadletterqueue.topic.name"]) {
          for (const t of (c[k] || "").split(",")) if (t.trim()) topics.add(t.trim());
        }
      }
      root.querySelector("#known-topics").innerHTML = [...topics].sort().map((t) => `<option value="${esc(t)}"></option>`).join("");
    })
    .catch(() => {});

  async function run() {
    const q = new URLSearchParams({ topic, n, from });
    if (keyConverter !== "auto") q.set("key.converter", keyConverter);
    if (valueConverter !== "auto") q.set("value.converter", valueConverter);
    q.set("converter.schemas.enable", schemas);
    status.textContent = `Reading ${topic}…`;
    try {
      const answer = await get(`/conveyor/peek?${q}`, { timeoutMs: 40000 });
      const count = answer.records.length;
      status.textContent = count
        ? `${count} record${count > 1 ? "s" : ""} of ${topic} (${from === "end" ? "the last ones, oldest first" : "from the start"}).`
        : `${topic} has no records.`;
      box.innerHTML = answer.records.map(recordCard).join("");
    } catch (e) {
      status.textContent = "";
      box.innerHTML = `<p class="error" role="alert">${esc(e.message)}</p>`;
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v !== "") q.set(k, v);
    const next = `#/peek?${q}`;
    if (location.hash === next) run();
    else location.hash = next;
  });
  if (topic) run();
  return {};
}
