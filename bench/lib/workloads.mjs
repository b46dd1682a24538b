// The measured workloads. Each takes the context { daemon, layout, sizes, ioTimeout, workDir }
// and returns plain figures; the same code drives both daemons through bench/worker.py.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { basename, join } from "node:path";
import { DAEMON_KINDS } from "./daemons.mjs";
import { HAVE_STRACE, ioPerOperation, periodicIoPerMinute, renewalLatenessMs, startTrace } from "./io-trace.mjs";
import { anonRssKiB, cpuSeconds, rssKiB } from "./proc-stats.mjs";
import { runWorker, startWorker } from "./python-worker.mjs";
import { HOST_ID, PARALLEL_CLIENTS } from "./layout.mjs";
import { renewalPeriodSeconds } from "./minimum-io.mjs";
import { addSamples, median, p99 } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Workers start this long after being spawned: python start-up, register and one warm cycle. */
const PARALLEL_START_DELAY_S = 3;
const HOLDERS = 8;
/** Seconds the held leases are kept before RSS is read a second time. */
export const HOLD_SETTLE_S = 10;
const STATUS_TIMEOUT_MS = 30_000;

const lockspaceArgs = (ctx, ls) => ({ ...ls, host_id: HOST_ID, io_timeout: ctx.ioTimeout });

/** Formats every lockspace and resource lease through the daemon (untimed). */
export async function formatLeases(ctx) {
  const { layout } = ctx;
  await runWorker(ctx.daemon, "init", {
    io_timeout: ctx.ioTimeout,
    lockspaces: [layout.main, ...layout.spaces],
    resources: layout.allResources,
  });
}

/** add_lockspace and rem_lockspace of the main lockspace, `reps` times; leaves it joined. */
export async function joinAndLeave(ctx) {
  const add = [];
  const rem = [];
  const args = lockspaceArgs(ctx, ctx.layout.main);
  for (let i = 0; i < ctx.sizes.joinReps; i++) {
    add.push((await runWorker(ctx.daemon, "add", args)).seconds);
    rem.push((await runWorker(ctx.daemon, "rem", args)).seconds);
  }
  await runWorker(ctx.daemon, "add", args);
  return { addSeconds: median(add), remSeconds: median(rem) };
}

/** Uncontended acquire+release cycles of one resource, exclusive or shared: raw samples in ms. */
export async function cycleSamples(ctx, shared, count) {
  const result = await runWorker(ctx.daemon, "cycle", {
    resource: shared ? ctx.layout.shared : ctx.layout.exclusive,
    shared,
    warmup: ctx.sizes.warmup,
    count,
  });
  return { acquireMs: result.acquire_ms, releaseMs: result.release_ms };
}

/** Median and p99 of several rounds of cycleSamples. */
export function summarizeCycles(rounds) {
  const acquireMs = rounds.flatMap((r) => r.acquireMs);
  const releaseMs = rounds.flatMap((r) => r.releaseMs);
  const cycleMs = addSamples(acquireMs, releaseMs);
  return {
    samples: cycleMs.length,
    medianMs: median(cycleMs),
    p99Ms: p99(cycleMs),
    acquireMedianMs: median(acquireMs),
    releaseMedianMs: median(releaseMs),
  };
}

/** One round of uncontended cycles, summarised. */
export async function cycles(ctx, shared) {
  return summarizeCycles([await cycleSamples(ctx, shared, ctx.sizes.cycles)]);
}

/** 8 clients, each cycling on its own resource over the same wall-clock window. */
export async function parallelThroughput(ctx) {
  const startAt = Date.now() / 1000 + PARALLEL_START_DELAY_S;
  const results = await Promise.all(
    ctx.layout.parallel.map((resource) => runWorker(ctx.daemon, "parallel", { resource, start_at: startAt, duration: ctx.sizes.parallelSeconds })),
  );
  const cyclesTotal = results.reduce((sum, r) => sum + r.cycles, 0);
  const seconds = Math.max(...results.map((r) => r.seconds));
  return { clients: PARALLEL_CLIENTS, cyclesPerSecond: cyclesTotal / seconds };
}

/** Disk I/O per acquire and per release (strace on the daemon, lease file only). */
export async function ioPerCycle(ctx, shared) {
  if (!HAVE_STRACE) return null;
  const resource = shared ? ctx.layout.shared : ctx.layout.exclusive;
  const worker = startWorker(ctx.daemon, "traced", { resource, shared, count: ctx.sizes.tracedCycles, pause: 0.2 });
  let trace = null;
  try {
    await worker.next(); // ready: registered
    trace = await startTrace(ctx.daemon.pid, mkdtempSync(join(ctx.workDir, "trace-")), basename(resource.path));
    worker.send("go");
    const { marks } = await worker.next();
    await worker.done();
    const ios = await trace.stop();
    trace = null;
    return ioPerOperation(ios, marks);
  } finally {
    trace?.kill();
    worker.kill();
  }
}

/** 1,000 resources acquired by 8 client processes at once and held: time, RSS, CPU. */
export async function holdMany(ctx) {
  const { held } = ctx.layout;
  const share = Math.ceil(held.length / HOLDERS);
  const holders = [];
  try {
    for (let i = 0; i < HOLDERS && i * share < held.length; i++) {
      holders.push(startWorker(ctx.daemon, "hold", { resources: held.slice(i * share, (i + 1) * share) }));
    }
    await Promise.all(holders.map((h) => h.next())); // all registered
    const cpuBefore = cpuSeconds(ctx.daemon.pid);
    const start = performance.now();
    holders.forEach((h) => h.send("go"));
    await Promise.all(holders.map((h) => h.next()));
    const acquireSeconds = (performance.now() - start) / 1000;
    const cpuAcquire = cpuSeconds(ctx.daemon.pid) - cpuBefore;
    const rss = rssKiB(ctx.daemon.pid);
    const anon = anonRssKiB(ctx.daemon.pid);
    // Right after the burst the heaps still hold its garbage; what a host keeps while it holds
    // the leases is read again once the daemon has been idle for a while.
    await sleep(HOLD_SETTLE_S * 1000);
    const settledRss = rssKiB(ctx.daemon.pid);
    const settledAnon = anonRssKiB(ctx.daemon.pid);
    holders.forEach((h) => h.send("release"));
    const releases = await Promise.all(holders.map((h) => h.next()));
    await Promise.all(holders.map((h) => h.done()));
    return {
      resources: held.length,
      acquireSeconds,
      cpuAcquireSeconds: cpuAcquire,
      rssKiB: rss,
      anonRssKiB: anon,
      settledRssKiB: settledRss,
      settledAnonRssKiB: settledAnon,
      releaseSeconds: Math.max(...releases.map((r) => r.release_seconds)),
    };
  } finally {
    holders.forEach((h) => h.kill());
  }
}

/** 64 lockspaces joined at once: join time, then steady-state CPU and renewal I/O, then leave. */
export async function manyLockspaces(ctx) {
  const spaces = ctx.layout.spaces;
  const args = { lockspaces: spaces, host_id: HOST_ID, io_timeout: ctx.ioTimeout };
  const joinSeconds = (await runWorker(ctx.daemon, "add-many", args)).seconds;
  const joinedAt = performance.now();
  const pid = ctx.daemon.pid;
  // CPU windows without the tracer (ptrace would add its own cost to the daemon).
  const cpuPercent = await cpuPercentOver(pid, ctx.sizes.cpuWindowSeconds);
  const rss = rssKiB(pid);
  let renewal = null;
  if (HAVE_STRACE && !ctx.noTrace && ctx.sizes.ioWindowSeconds > 0) {
    const trace = await startTrace(pid, mkdtempSync(join(ctx.workDir, "trace-")), basename(ctx.layout.spacesPath));
    try {
      const from = Date.now() / 1000;
      await sleep(ctx.sizes.ioWindowSeconds * 1000);
      const to = Date.now() / 1000;
      const ios = (await trace.stop()).filter((io) => io.t >= from && io.t < to);
      const reads = ios.filter((io) => io.kind === "read");
      const readsPerMinute = periodicIoPerMinute(reads);
      // Under strace: ptrace stops the daemon at every traced system call, so this is an upper bound.
      const lateness = renewalLatenessMs(ios, renewalPeriodSeconds(ctx.ioTimeout));
      renewal = {
        lateness: lateness.length === 0 ? null : { count: lateness.length, medianMs: median(lateness), p99Ms: p99(lateness), maxMs: lateness.at(-1) },
        iosPerMinute: periodicIoPerMinute(ios),
        readsPerMinute,
        // Every renewal read is the whole area; the mean size times the rate.
        readBytesPerMinute: reads.length === 0 ? 0 : (reads.reduce((s, io) => s + io.bytes, 0) / reads.length) * readsPerMinute,
      };
    } finally {
      trace.kill();
    }
  }
  // The same window once the renewals have run for spacesSettleSeconds: a node daemon spends its
  // first minute also compiling the renewal path (node --trace-opt: some 30 TurboFan compiles, about
  // 200 ms in all on V8's helper threads, in the 20 s after the join; 3, 9 ms in all, after 90 s),
  // which a C daemon does not.
  let settledCpuPercent;
  if (ctx.sizes.spacesSettleSeconds !== undefined) {
    await sleep(Math.max(0, ctx.sizes.spacesSettleSeconds * 1000 - (performance.now() - joinedAt)));
    settledCpuPercent = await cpuPercentOver(pid, ctx.sizes.cpuWindowSeconds);
  }
  const leaveSeconds = (await runWorker(ctx.daemon, "rem-many", args)).seconds;
  return { lockspaces: spaces.length, joinSeconds, cpuPercent, settledCpuPercent, rssKiB: rss, renewal, leaveSeconds };
}

/** The daemon's CPU (all threads) over the next `seconds`, in % of one core. */
async function cpuPercentOver(pid, seconds) {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return ((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
}

/**
 * Wall time of the `client status` CLI against this daemon (sanlock's own CLI, or ours). For
 * sanlock-ts, each run is followed by a bare `node -e 0`, the least any node program costs to
 * start (issue 20 sets the target as a ratio to it: a node CLI cannot start faster than node).
 */
export function clientStatus(ctx) {
  const [cmd, prefix] = DAEMON_KINDS[ctx.daemon.kind].cli();
  const withBaseline = cmd === process.execPath;
  const times = [];
  const nodeTimes = [];
  for (let i = 0; i < ctx.sizes.statusRuns; i++) {
    const run = timedSpawn(cmd, [...prefix, "client", "status"], ctx.daemon.env);
    if (run.status !== 0) {
      const why = (run.stderr || run.stdout || String(run.error ?? "")).trim().split("\n")[0];
      return { skipped: `exit ${run.status}: ${why}` };
    }
    times.push(run.ms);
    if (withBaseline) nodeTimes.push(timedSpawn(process.execPath, ["-e", "0"], ctx.daemon.env).ms);
  }
  if (!withBaseline) return { medianMs: median(times) };
  return { medianMs: median(times), nodeMedianMs: median(nodeTimes), overNode: median(times) / median(nodeTimes) };
}

function timedSpawn(cmd, args, env) {
  const start = performance.now();
  const run = spawnSync(cmd, args, { env, encoding: "utf8", timeout: STATUS_TIMEOUT_MS });
  return { ...run, ms: performance.now() - start };
}

/** Leaves the main lockspace, so that the daemon can shut down cleanly. */
export async function leaveMain(ctx) {
  await runWorker(ctx.daemon, "rem", lockspaceArgs(ctx, ctx.layout.main));
}
