/**
 * The daemon's counters and latency histograms, fed by its diagnostics channels
 * (diagnostics.ts), so that what a subscriber sees and what `sanlock-ts client metrics` reports
 * are the same events. Channels are per process: two daemons embedded in one process share
 * them, and each one's metrics then count both (one daemon per process is the normal case).
 *
 * Histograms have fixed bucket bounds in milliseconds plus count, sum, min and max; label sets
 * (lockspace, device path, operation) are bounded per metric, extra ones are counted under
 * OTHER_LABEL. The snapshot is JSON (the metrics request, docs/wire.md §15); the CLI renders it
 * as text or in the Prometheus format.
 */
import { subscribeTo, type ChannelKey, type ChannelMessages } from "./diagnostics.js";

/** Upper bounds (ms) of the histogram buckets; a last +Inf bucket is implied. */
export const BUCKET_BOUNDS_MS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 60_000];
/** Label sets kept per metric (a bound on memory); more are merged into OTHER_LABEL. */
export const MAX_LABEL_SETS = 256;
export const OTHER_LABEL = "(other)";

export type Labels = Readonly<Record<string, string>>;

export interface HistogramSnapshot {
  readonly labels: Labels;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** Cumulative counts per upper bound, as Prometheus buckets; the last bound is "+Inf". */
  readonly buckets: readonly { readonly le: number | "+Inf"; readonly count: number }[];
}

export interface CounterSnapshot {
  readonly labels: Labels;
  readonly value: number;
}

export interface MetricsSnapshot {
  readonly daemon: "sanlock-ts";
  /** Monotonic seconds when counting began (daemon start). */
  readonly since: number;
  readonly now: number;
  readonly counters: Readonly<Record<string, readonly CounterSnapshot[]>>;
  readonly histograms: Readonly<Record<string, readonly HistogramSnapshot[]>>;
}

class Histogram {
  private count = 0;
  private sum = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private readonly perBucket = new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0);

  record(valueMs: number): void {
    if (!Number.isFinite(valueMs)) return;
    this.count++;
    this.sum += valueMs;
    this.min = Math.min(this.min, valueMs);
    this.max = Math.max(this.max, valueMs);
    let index = BUCKET_BOUNDS_MS.findIndex((bound) => valueMs <= bound);
    if (index < 0) index = BUCKET_BOUNDS_MS.length;
    this.perBucket[index] = (this.perBucket[index] ?? 0) + 1;
  }

  snapshot(labels: Labels): HistogramSnapshot {
    let cumulative = 0;
    const buckets = this.perBucket.map((n, i) => {
      cumulative += n;
      return { le: BUCKET_BOUNDS_MS[i] ?? ("+Inf" as const), count: cumulative };
    });
    const empty = this.count === 0;
    return { labels, count: this.count, sum: this.sum, min: empty ? 0 : this.min, max: empty ? 0 : this.max, buckets };
  }
}

/** One metric's values by label set, bounded to MAX_LABEL_SETS. */
class Family<T> {
  private readonly byKey = new Map<string, { labels: Labels; value: T }>();

  constructor(private readonly make: () => T) {}

  get(labels: Labels): T {
    let key = JSON.stringify(labels);
    let entry = this.byKey.get(key);
    if (entry === undefined && this.byKey.size >= MAX_LABEL_SETS) {
      const other = Object.fromEntries(Object.keys(labels).map((name) => [name, OTHER_LABEL]));
      key = JSON.stringify(other);
      entry = this.byKey.get(key) ?? { labels: other, value: this.make() };
    }
    entry ??= { labels, value: this.make() };
    this.byKey.set(key, entry);
    return entry.value;
  }

  entries(): { labels: Labels; value: T }[] {
    return [...this.byKey.values()];
  }
}

function outcome(result: number): string {
  return result === 0 ? "ok" : String(result);
}

export class DaemonMetrics {
  private readonly since: number;
  private readonly counters = new Map<string, Family<{ n: number }>>();
  private readonly histograms = new Map<string, Family<Histogram>>();
  private readonly unsubscribes: (() => void)[] = [];

  constructor(private readonly now: () => number) {
    this.since = now();
    this.on("renewal", (m) => {
      this.count("renewals_total", { lockspace: m.lockspace, result: outcome(m.result) });
      this.observe("renewal_duration_ms", { lockspace: m.lockspace }, m.durationMs);
      this.observe("renewal_lateness_ms", { lockspace: m.lockspace }, m.latenessMs);
      // The renewal's own I/O ran on the worker thread: its read and write times are the lockspace device's.
      if (m.result === 0) {
        this.observe("io_latency_ms", { device: m.path, op: "read" }, m.readMs);
        this.observe("io_latency_ms", { device: m.path, op: "write" }, m.writeMs);
      }
    });
    for (const op of ["acquire", "release", "convert"] as const) {
      this.on(op, (m) => {
        this.count(`${op}s_total`, { lockspace: m.lockspace, mode: m.mode, result: outcome(m.result) });
        this.observe(`${op}_latency_ms`, { lockspace: m.lockspace }, m.durationMs);
        this.observe(`${op}_io_count`, { lockspace: m.lockspace }, m.ioCount);
      });
    }
    this.on("io", (m) => this.observe("io_latency_ms", { device: m.path, op: m.op }, m.durationMs));
    this.on("ioTimeout", (m) => this.count("io_timeouts_total", { device: m.path, op: m.op }));
    this.on("killStep", (m) => this.count("kill_steps_total", { lockspace: m.lockspace, action: m.action }));
    this.on("lockspaceJoined", (m) => this.count("lockspace_joins_total", { lockspace: m.lockspace }));
    this.on("lockspaceFailed", (m) => this.count("lockspace_failures_total", { lockspace: m.lockspace }));
    this.on("lockspaceLeft", (m) => this.count("lockspace_leaves_total", { lockspace: m.lockspace }));
  }

  private on<K extends ChannelKey>(key: K, listener: (message: ChannelMessages[K]) => void): void {
    this.unsubscribes.push(subscribeTo(key, listener));
  }

  private count(name: string, labels: Labels): void {
    let family = this.counters.get(name);
    if (family === undefined) {
      family = new Family(() => ({ n: 0 }));
      this.counters.set(name, family);
    }
    family.get(labels).n++;
  }

  private observe(name: string, labels: Labels, valueMs: number): void {
    let family = this.histograms.get(name);
    if (family === undefined) {
      family = new Family(() => new Histogram());
      this.histograms.set(name, family);
    }
    family.get(labels).record(valueMs);
  }

  snapshot(): MetricsSnapshot {
    const counters: Record<string, CounterSnapshot[]> = {};
    for (const [name, family] of this.counters) counters[name] = family.entries().map((e) => ({ labels: e.labels, value: e.value.n }));
    const histograms: Record<string, HistogramSnapshot[]> = {};
    for (const [name, family] of this.histograms) histograms[name] = family.entries().map((e) => e.value.snapshot(e.labels));
    return { daemon: "sanlock-ts", since: this.since, now: this.now(), counters, histograms };
  }

  /** Stops counting (daemon exit). */
  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }
}
