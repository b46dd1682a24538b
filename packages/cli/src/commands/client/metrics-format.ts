/**
 * Text of `sanlock-ts client metrics`: the daemon's snapshot (daemon metrics.ts, sent as JSON by
 * the metrics request, docs/wire.md §15) as plain lines, or in the Prometheus text exposition
 * format (version 0.0.4) for scrapers: counters as `sanlock_ts_<name>`, histograms in seconds
 * with `_bucket{le=...}`, `_sum` and `_count`.
 */

interface Labels {
  readonly [name: string]: string;
}
interface Counter {
  readonly labels: Labels;
  readonly value: number;
}
interface Histogram {
  readonly labels: Labels;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly buckets: readonly { readonly le: number | "+Inf"; readonly count: number }[];
}
export interface Snapshot {
  readonly since: number;
  readonly now: number;
  readonly counters: Readonly<Record<string, readonly Counter[]>>;
  readonly histograms: Readonly<Record<string, readonly Histogram[]>>;
}

/** Checks the shape the daemon sends; a malformed snapshot is an error, not a partial print. */
export function asSnapshot(value: unknown): Snapshot {
  const v = value as Partial<Snapshot> | null;
  if (v === null || typeof v !== "object" || typeof v.counters !== "object" || typeof v.histograms !== "object") {
    throw new Error("metrics: the daemon's reply is not a metrics snapshot");
  }
  return v as Snapshot;
}

function labelText(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

const ms = (value: number): string => value.toFixed(3);

/** One line per counter and histogram: `name labels value` / `name labels count= sum_ms= min_ms= max_ms= mean_ms=`. */
export function plainText(s: Snapshot): string[] {
  const lines = [`metrics since ${s.since.toFixed(0)} now ${s.now.toFixed(0)} (monotonic seconds)`];
  for (const name of Object.keys(s.counters).sort()) {
    for (const c of s.counters[name] ?? []) lines.push(`${name} ${labelText(c.labels)} ${c.value}`);
  }
  for (const name of Object.keys(s.histograms).sort()) {
    for (const h of s.histograms[name] ?? []) {
      const mean = h.count === 0 ? 0 : h.sum / h.count;
      lines.push(`${name} ${labelText(h.labels)} count=${h.count} sum=${ms(h.sum)} min=${ms(h.min)} max=${ms(h.max)} mean=${ms(mean)}`);
    }
  }
  return lines;
}

function promName(name: string): string {
  return `sanlock_ts_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

function promLabels(labels: Labels, extra: Labels = {}): string {
  const all = { ...labels, ...extra };
  const text = Object.entries(all)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`)
    .join(",");
  return text === "" ? "" : `{${text}}`;
}

/** Histograms in milliseconds become `_seconds` (Prometheus base unit); counts of I/Os stay plain. */
function promHistogram(name: string): { name: string; scale: number } {
  if (name.endsWith("_ms")) return { name: `${promName(name.slice(0, -3))}_seconds`, scale: 1 / 1000 };
  return { name: promName(name), scale: 1 };
}

export function prometheusText(s: Snapshot): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(s.counters).sort()) {
    const metric = promName(name);
    lines.push(`# TYPE ${metric} counter`);
    for (const c of s.counters[name] ?? []) lines.push(`${metric}${promLabels(c.labels)} ${c.value}`);
  }
  for (const name of Object.keys(s.histograms).sort()) {
    const { name: metric, scale } = promHistogram(name);
    lines.push(`# TYPE ${metric} histogram`);
    for (const h of s.histograms[name] ?? []) {
      for (const b of h.buckets) {
        const le = b.le === "+Inf" ? "+Inf" : String(b.le * scale);
        lines.push(`${metric}_bucket${promLabels(h.labels, { le })} ${b.count}`);
      }
      lines.push(`${metric}_sum${promLabels(h.labels)} ${h.sum * scale}`);
      lines.push(`${metric}_count${promLabels(h.labels)} ${h.count}`);
    }
  }
  return lines;
}
