// Live series of the worker's metrics and small SVG charts of them.
//
// The console polls GET /conveyor/metrics?scope=cluster (every worker's task counters) and
// keeps a short history per connector here, so charts fill as time passes and survive moving
// between pages. Rates are computed from counter differences; a counter that went down (its
// task restarted) counts as 0 for that step.

const KEEP = 90; // samples (3 minutes at one every 2 seconds)
const history = new Map(); // connector -> [{t, total, lag}]
let workers = []; // the last answer's workers [{worker_id, ok, error}]

function sum(tasks) {
  const out = new Map();
  for (const t of tasks) {
    const o = out.get(t.connector) || { total: 0, lag: 0, sink: false, failures: 0, dlq: 0 };
    o.total += t.source_record_write_total + t.sink_record_read_total;
    o.lag += t.records_lag;
    o.sink ||= t.sink_record_read_total > 0 || t.records_lag > 0;
    o.failures += t.total_record_failures;
    o.dlq += t.deadletterqueue_produce_requests;
    out.set(t.connector, o);
  }
  return out;
}

/** Adds one /conveyor/metrics answer. */
export function record(answer) {
  workers = answer.workers.map(({ worker_id, ok, error }) => ({ worker_id, ok, error }));
  const tasks = answer.workers.flatMap((w) => w.tasks || []);
  const t = answer.time_ms;
  for (const [name, o] of sum(tasks)) {
    const series = history.get(name) || [];
    const prev = series[series.length - 1];
    const rate = prev && t > prev.t ? Math.max(0, o.total - prev.total) / ((t - prev.t) / 1000) : null;
    series.push({ t, total: o.total, rate, lag: o.lag, sink: o.sink, failures: o.failures, dlq: o.dlq });
    if (series.length > KEEP) series.shift();
    history.set(name, series);
  }
}

export const reportingWorkers = () => workers;

/** The latest numbers of a connector: {rate, lag, sink, failures, dlq}, or null. */
export function latest(name) {
  const series = history.get(name);
  return series ? series[series.length - 1] : null;
}

/**
 * An SVG sparkline of a connector's `field` ("rate" or "lag"), in a box of fixed size so
 * that nothing moves when it fills.
 */
export function sparkline(name, field, label) {
  const series = (history.get(name) || []).filter((s) => s[field] != null);
  const w = 120;
  const h = 28;
  const values = series.map((s) => s[field]);
  const max = Math.max(1, ...values);
  const step = w / (KEEP - 1);
  const start = w - (values.length - 1) * step;
  const points = values
    .map((v, i) => `${(start + i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`)
    .join(" ");
  const last = values.length ? values[values.length - 1] : null;
  const title = `${label}: ${last == null ? "no data yet" : last.toFixed(field === "rate" ? 1 : 0)} (max ${max.toFixed(0)} over the last ${values.length} samples)`;
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${title}"><title>${title}</title>${
    values.length > 1
      ? `<line x1="0" y1="${h - 1.5}" x2="${w}" y2="${h - 1.5}" class="base" /><polyline points="${points}" />`
      : `<line x1="0" y1="${h - 2}" x2="${w}" y2="${h - 2}" class="empty" />`
  }</svg>`;
}
