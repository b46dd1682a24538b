#!/usr/bin/env node
// `pnpm bench`: the same workloads against a sanlock-ts daemon and, when Debian's sanlock is
// installed, against the real sanlock 3.8.5 daemon, each on fresh lease files under /var/tmp
// (ext4: O_DIRECT), io_timeout 1. Prints one table comparing them.
//
//   node bench/run.mjs [--quick] [--only sanlock-ts|sanlock] [--steps KEY,...] [--json FILE]
//
// --steps keeps only the named workloads (keys: status, ex, sh, parallel, io, hold, spaces);
// the join of the main lockspace always runs first and the leave last. For iterating on one
// figure; the README's table comes from a full run.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { join } from "node:path";
import { startDaemon, skipReason, DAEMON_KINDS } from "./lib/daemons.mjs";
import { measureIoFloor, summarizeFloors } from "./lib/io-floor.mjs";
import { HAVE_STRACE } from "./lib/io-trace.mjs";
import { measureNodeMemoryFloor } from "./lib/node-floor.mjs";
import { createLayout } from "./lib/layout.mjs";
import { anonRssKiB, rssKiB } from "./lib/proc-stats.mjs";
import { median } from "./lib/stats.mjs";
import { reversedOrder, stepKind } from "./lib/step-order.mjs";
import { renderTable } from "./lib/table.mjs";
import * as work from "./lib/workloads.mjs";

const IO_TIMEOUT = 1;
const WORK_ROOT = "/var/tmp";
const SIZES = {
  full: {
    cycles: 300,
    cycleRounds: 10,
    warmup: 10,
    parallelSeconds: 15,
    held: 1000,
    lockspaces: 64,
    cpuWindowSeconds: 30,
    ioWindowSeconds: 20,
    spacesSettleSeconds: 90,
    joinReps: 3,
    statusRuns: 20,
    tracedCycles: 5,
  },
  quick: {
    cycles: 40,
    cycleRounds: 2,
    warmup: 3,
    parallelSeconds: 5,
    held: 200,
    lockspaces: 64,
    cpuWindowSeconds: 8,
    ioWindowSeconds: 6,
    spacesSettleSeconds: 30,
    joinReps: 1,
    statusRuns: 5,
    tracedCycles: 3,
  },
};

function parseOptions(argv) {
  const opts = { quick: false, only: null, json: null, steps: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") continue; // pnpm may forward its separator
    if (arg === "--quick") opts.quick = true;
    else if (arg === "--only") opts.only = argv[++i];
    else if (arg === "--json") opts.json = argv[++i];
    else if (arg === "--steps") opts.steps = new Set(String(argv[++i]).split(","));
    else throw new Error(`unknown option ${arg} (use --quick, --only sanlock-ts|sanlock, --steps KEY,..., --json FILE)`);
  }
  for (const key of opts.steps ?? []) {
    if (!STEP_KEYS.includes(key)) throw new Error(`--steps: unknown workload ${key} (one of ${STEP_KEYS.join(", ")})`);
  }
  if (opts.only !== null && !(opts.only in DAEMON_KINDS)) throw new Error(`--only must be one of ${Object.keys(DAEMON_KINDS).join(", ")}`);
  return opts;
}

const cleanups = [];
async function cleanupAll() {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    cleanupAll().finally(() => process.exit(130));
  });
}

const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Starts a daemon of `kind` on fresh lease files and formats them (untimed). */
async function prepare(kind, sizes) {
  const workDir = mkdtempSync(join(WORK_ROOT, `sanlock-ts-bench-${kind}-`));
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  const layout = createLayout(workDir, sizes);
  const daemon = await startDaemon(kind, join(workDir, "run"));
  cleanups.push(() => daemon.stop());
  const ctx = { kind, daemon, layout, sizes, ioTimeout: IO_TIMEOUT, workDir, results: { errors: [], io: { errors: [] } } };
  log(`${kind}: daemon pid ${daemon.pid}; formatting ${layout.allResources.length} resources, ${layout.spaces.length + 1} lockspaces`);
  await work.formatLeases(ctx);
  return ctx;
}

/**
 * The workloads in order. Each step runs on every daemon before the next step starts, the
 * order alternating among the steps of one kind (A B, B A, ...: lib/step-order.mjs), and the
 * timing workloads run in rounds, so that a change in the machine's background load during the
 * run falls on both daemons alike. The disk is shared with other work and its speed drifts
 * within seconds (the same cycles measured 0.6 to 0.9 of sanlock's time from run to run with two
 * rounds), so the short cycle workloads alternate in CYCLE_ROUNDS rounds and the 8-client
 * workload in ROUNDS, and the disk floor is measured again at the start of every cycle round
 * (a step run once, not per daemon), so that each round's acquires are compared with the floor
 * of their own minute.
 */
const ROUNDS = 2;
/** Workload keys --steps accepts; a step's key is its result key up to "Round" or ".". */
const STEP_KEYS = ["status", "ex", "sh", "parallel", "io", "hold", "spaces"];
const ALWAYS_RUN = new Set(["join", "left"]);
/** The floor steps serve these workloads and run when one of them is chosen. */
const FLOOR_USERS = ["ex", "sh", "parallel"];
/** Steps run once, not once per daemon; their result goes to the run's shared results. */
const ONCE = { once: true };
/** Daemon log lines shown when a step fails. */
const DAEMON_LOG_LINES = 20;
function steps(sizes) {
  const perRound = Math.ceil(sizes.cycles / sizes.cycleRounds);
  const list = [
    ["join", `add_lockspace / rem_lockspace x${sizes.joinReps}`, (ctx) => work.joinAndLeave(ctx)],
    ["idleRssKiB", "RSS with one lockspace joined", (ctx) => rssKiB(ctx.daemon.pid)],
    ["idleAnonKiB", "RssAnon with one lockspace joined", (ctx) => anonRssKiB(ctx.daemon.pid)],
    ["status", `client status x${sizes.statusRuns}`, (ctx) => work.clientStatus(ctx)],
  ];
  for (let round = 0; round < sizes.cycleRounds; round++) {
    list.push([
      `floorRound${round}`,
      `disk floor x${perRound}, alone and from 8 threads (round ${round + 1}/${sizes.cycleRounds})`,
      (shared) => measureFloor(shared, perRound),
      ONCE,
    ]);
    list.push([`exRound${round}`, `exclusive cycles x${perRound} (round ${round + 1}/${sizes.cycleRounds})`, (ctx) => work.cycleSamples(ctx, false, perRound)]);
    list.push([`shRound${round}`, `shared cycles x${perRound} (round ${round + 1}/${sizes.cycleRounds})`, (ctx) => work.cycleSamples(ctx, true, perRound)]);
  }
  for (let round = 0; round < ROUNDS; round++) {
    list.push([`parallelRound${round}`, `8 clients for ${sizes.parallelSeconds} s (round ${round + 1}/${ROUNDS})`, (ctx) => work.parallelThroughput(ctx)]);
  }
  list.push(
    ["io.ex", "I/O per exclusive acquire/release (strace)", (ctx) => work.ioPerCycle(ctx, false)],
    ["io.sh", "I/O per shared acquire/release (strace)", (ctx) => work.ioPerCycle(ctx, true)],
    ["hold", `hold ${sizes.held} resources`, (ctx) => work.holdMany(ctx)],
    [
      "spaces",
      `${sizes.lockspaces} lockspaces (cpu ${sizes.cpuWindowSeconds} s after the join and after ${sizes.spacesSettleSeconds} s, I/O ${sizes.ioWindowSeconds} s)`,
      (ctx) => work.manyLockspaces(ctx),
    ],
    ["left", "leave the main lockspace", (ctx) => work.leaveMain(ctx)],
  );
  return list;
}

/** The disk floor of one round, on a scratch file of its own; null (with a note) if it failed. */
function measureFloor(shared, cycles) {
  const dir = mkdtempSync(join(WORK_ROOT, "sanlock-ts-bench-floor-"));
  try {
    return measureIoFloor(dir, cycles);
  } catch (err) {
    shared.notes.push(`disk floor not measured: ${err.message}`);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each exclusive round's acquire median minus the floor measured at the start of that round. */
function aboveFloorPerRound(r, floors) {
  return Object.keys(r)
    .filter((k) => k.startsWith("exRound"))
    .map((k) => {
      const floor = floors[Number(k.slice("exRound".length))];
      return floor ? median(r[k].acquireMs) - floor.acquireMsMedian : undefined;
    })
    .filter((x) => x !== undefined);
}

/** Merges the rounds into the figures the table shows. */
function combineRounds(r, floors) {
  const above = aboveFloorPerRound(r, floors);
  const rounds = (prefix) =>
    Object.keys(r)
      .filter((k) => k.startsWith(prefix))
      .map((k) => r[k]);
  const ex = rounds("exRound");
  const sh = rounds("shRound");
  const par = rounds("parallelRound");
  if (ex.length)
    r.ex = {
      ...work.summarizeCycles(ex),
      aboveFloorMs: above.length ? median(above) : undefined,
      aboveFloorRangeMs: above.length ? [Math.min(...above), Math.max(...above)] : undefined,
    };
  if (sh.length) r.sh = work.summarizeCycles(sh);
  if (par.length) r.parallel = { clients: par[0].clients, cyclesPerSecond: par.reduce((s, p) => s + p.cyclesPerSecond, 0) / par.length };
  for (const k of Object.keys(r)) if (/Round\d+$/.test(k)) delete r[k];
}

const isChosen = (key, only) =>
  only === null || ALWAYS_RUN.has(key) || only.has(stepKind(key)) || (stepKind(key) === "floor" && FLOOR_USERS.some((k) => only.has(k)));

async function runSteps(contexts, sizes, only, shared) {
  const chosen = steps(sizes).filter(([key]) => isChosen(key, only));
  const reversed = reversedOrder(chosen.map(([key]) => key));
  for (const [i, [key, label, run, { once = false } = {}]] of chosen.entries()) {
    if (once) {
      log(label);
      shared[key] = run(shared);
      continue;
    }
    const order = reversed[i] ? [...contexts].reverse() : contexts;
    for (const ctx of order) {
      const [target, field] = key.startsWith("io.") ? [ctx.results.io, key.slice(3)] : [ctx.results, key];
      log(`${ctx.kind}: ${label}`);
      try {
        target[field] = await run(ctx);
      } catch (err) {
        ctx.results.errors.push(`${key}: ${err.message}`);
        log(`  failed: ${err.message}`);
        log(`  ${ctx.kind} daemon stderr, last lines:\n${ctx.daemon.stderr().trim().split("\n").slice(-DAEMON_LOG_LINES).join("\n")}`);
      }
    }
  }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const sizes = opts.quick ? SIZES.quick : SIZES.full;
  const started = Date.now();
  const loadBefore = loadavg()[0];
  const results = {};
  const notes = [];
  const shared = { notes };
  const contexts = [];
  try {
    for (const kind of ["sanlock-ts", "sanlock"]) {
      if (opts.only && opts.only !== kind) continue;
      const skip = skipReason(kind);
      if (skip) {
        notes.push(`${kind} skipped: ${skip}`);
        continue;
      }
      contexts.push(await prepare(kind, sizes));
    }
    await runSteps(contexts, sizes, opts.steps, shared);
  } finally {
    await cleanupAll();
  }
  // Measured after both daemons stopped, so that neither shares the machine with it.
  let memoryFloor = null;
  if (isChosen("hold", opts.steps) && contexts.some((ctx) => ctx.kind === "sanlock-ts")) {
    log("node memory floor: a bare node process shaped like the daemon");
    try {
      memoryFloor = await measureNodeMemoryFloor();
    } catch (err) {
      notes.push(`node memory floor not measured: ${err.message}`);
    }
  }
  const floors = Object.keys(shared)
    .filter((k) => k.startsWith("floorRound"))
    .map((k) => shared[k]);
  const floor = summarizeFloors(floors.filter((f) => f !== null));
  for (const ctx of contexts) {
    combineRounds(ctx.results, floors);
    ctx.results.io.errors.forEach((e) => ctx.results.errors.push(`io.${e}`));
    results[ctx.kind] = ctx.results;
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? "?"}, Linux ${release()}, node ${process.version}`;
  console.log(`\nsanlock-ts vs sanlock 3.8.5 — ${opts.quick ? "quick" : "full"} run, io_timeout ${IO_TIMEOUT}, 512-byte sectors, files on ${WORK_ROOT}`);
  console.log(`machine: ${machine}; 1-min load average ${loadBefore.toFixed(1)} at start, ${loadavg()[0].toFixed(1)} at end\n`);
  for (const line of renderTable(results, { ioTimeout: IO_TIMEOUT, lockspaces: sizes.lockspaces, held: sizes.held, floor, memoryFloor })) console.log(line);
  console.log();
  if (!HAVE_STRACE) notes.push("strace not installed: I/O counts skipped");
  for (const [kind, r] of Object.entries(results)) {
    if (r.status?.skipped) notes.push(`${kind} client status skipped (${r.status.skipped})`);
    for (const e of r.errors) notes.push(`${kind} ${e}`);
  }
  for (const note of notes) console.log(`note: ${note}`);
  console.log(`I/O columns: reads R with bytes read + writes W with bytes written, per operation, on the lease file only;`);
  console.log(`minimum: I/O rows from algorithms.md §4.3-4.8, §5.2-5.3 (free lease, num_hosts 2000) and §2.3 (renewal every 2N+0.5 s);`);
  console.log(`timing rows: the disk floor, i.e. the same EX acquire+release I/O issued directly (bench/io_floor.py, no daemon).`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (opts.json)
    writeFileSync(opts.json, JSON.stringify({ machine, sizes, load: [loadBefore, loadavg()[0]], floor, floors, memoryFloor, results, notes }, null, 2));
}

main()
  .catch(async (err) => {
    console.error(err.stack ?? String(err));
    await cleanupAll();
    process.exit(1);
  })
  .then(cleanupAll);
