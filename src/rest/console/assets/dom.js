// Small DOM helpers: escaping for HTML built from strings, in-place updates that keep
// keyboard focus, state badges, and notices.

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML content and attribute values. */
export const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ESC[c]);

/**
 * Plugin documentation as HTML: escaped, then the few tags Kafka Connect's own docs use
 * (<code>, <br>, <p>, <em>, <b>) are let back in, without attributes.
 */
export function docHtml(text) {
  return esc(text).replace(/&lt;(\/?)(code|br|p|em|b|i|strong)\s*\/?&gt;/gi, (_, close, tag) => {
    const t = tag.toLowerCase();
    if (t === "br") return "<br>";
    if (t === "p") return close ? "" : "<br>";
    return `<${close}${t}>`;
  });
}

/**
 * Replaces `el`'s content with `html` when it differs, keeping the focus on the element with
 * the same `data-key` (and the caret in a text field) so that auto-refresh never takes the
 * keyboard user's place away.
 */
export function patch(el, html) {
  if (!el || el._html === html) return;
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.key : undefined;
  const caret = key && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null;
  el.innerHTML = html;
  el._html = html;
  if (key) {
    const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) {
      again.focus({ preventScroll: true });
      if (caret) {
        try {
          again.setSelectionRange(...caret);
        } catch {
          // not a text field
        }
      }
    }
  }
}

/** The colour class of a Connect state. */
export function stateClass(state) {
  switch (state) {
    case "RUNNING":
      return "ok";
    case "FAILED":
      return "bad";
    case "PAUSED":
    case "STOPPED":
      return "idle";
    default:
      return "busy";
  }
}

export const badge = (state) =>
  `<span class="badge ${stateClass(state)}" data-state="${esc(state)}">${esc(state || "UNKNOWN")}</span>`;

/** A short message that goes away by itself. */
export function notify(text, kind = "info") {
  const box = document.getElementById("toasts");
  const note = document.createElement("div");
  note.className = `toast ${kind}`;
  note.setAttribute("role", kind === "error" ? "alert" : "status");
  note.textContent = text;
  box.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 8000 : 4000);
}

/** Formats a number of records per second, or lag, compactly. */
export function num(v, digits = 0) {
  if (v == null || Number.isNaN(v)) return "–";
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(digits);
}

/** Reads `#/path?query` into its parts. */
export function parseHash(hash) {
  const raw = hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}
