#!/usr/bin/env node
// Where sanlock-ts's time goes: runs the benchmark's workloads against one sanlock-ts daemon
// started with node's --cpu-prof, and prints, per workload, the daemon's CPU and its main-thread
// self time per area and per function (samples inside that workload's time window only), after
// the disk's floor for the same I/O sequence (bench/io_floor.py).
//
//   node bench/profile.mjs [--cycles N] [--seconds S] [--held N]
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { monotonicMicros, readProfile, summarizeProfile } from "./lib/cpu-profile.mjs";
import { startDaemon } from "./lib/daemons.mjs";
import { createLayout } from "./lib/layout.mjs";
import { cpuSeconds } from "./lib/proc-stats.mjs";
import { FLOOR_THREADS, measureIoFloor } from "./lib/io-floor.mjs";
import * as work from "./lib/workloads.mjs";
import { numberOption } from "./lib/argv.mjs";

const TOP_FUNCTIONS = Number(process.env.TOP_FUNCTIONS ?? 15);

/** Runs fn, recording its time window and the daemon's CPU seconds over it. */
async function phase(phases, name, daemon, fn) {
  const cpu0 = cpuSeconds(daemon.pid);
  const fromUs = monotonicMicros();
  const result = await fn();
  phases.push({ name, fromUs, toUs: monotonicMicros(), cpu: cpuSeconds(daemon.pid) - cpu0, result });
}

/** Sums several summaries (one per worker thread) into one. */
function mergeSummaries(summaries) {
  const add = (into, pairs) => {
    for (const [k, ms] of pairs) into.set(k, (into.get(k) ?? 0) + ms);
  };
  const areas = new Map();
  const functions = new Map();
  for (const s of summaries) {
    add(areas, s.byArea);
    add(functions, s.byFunction);
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: summaries.reduce((t, s) => t + s.totalMs, 0), byArea: sorted(areas), byFunction: sorted(functions) };
}

function printSummary(title, s) {
  if (s.totalMs === 0) return;
  console.log(`   ${title}, ${(s.totalMs / 1000).toFixed(1)} s sampled, self time by area:`);
  for (const [area, ms] of s.byArea.slice(0, 10)) console.log(`   ${((ms / s.totalMs) * 100).toFixed(1).padStart(5)}%  ${area}`);
  console.log("   top functions (self time, idle excluded):");
  for (const [name, ms] of s.byFunction.filter(([n]) => !n.startsWith("(idle)")).slice(0, TOP_FUNCTIONS)) {
    console.log(`   ${ms.toFixed(0).padStart(7)} ms  ${name}`);
  }
}

function printPhase(main, workers, p) {
  const seconds = (p.toUs - p.fromUs) / 1e6;
  console.log(`\n== ${p.name}: ${seconds.toFixed(1)} s, daemon CPU ${p.cpu.toFixed(2)} s (${((p.cpu / seconds) * 100).toFixed(0)}% of one core, all threads)`);
  console.log(`   result: ${JSON.stringify(p.result, (_k, v) => (typeof v === "number" ? Number(v.toFixed(3)) : v))}`);
  printSummary("main thread", summarizeProfile(main, TOP_FUNCTIONS + 1, p));
  printSummary(`${workers.length} worker threads together`, mergeSummaries(workers.map((w) => summarizeProfile(w, 10_000, p))));
}

async function main() {
  const sizes = {
    cycles: numberOption("--cycles", 200),
    warmup: 5,
    parallelSeconds: numberOption("--seconds", 10),
    held: numberOption("--held", 400),
    lockspaces: 64,
    cpuWindowSeconds: numberOption("--seconds", 10),
    ioWindowSeconds: 0,
    joinReps: 0,
  };
  const workDir = mkdtempSync("/var/tmp/sanlock-ts-profile-");
  const profDir = join(workDir, "prof");
  let daemon = null;
  try {
    const floor = measureIoFloor(workDir, sizes.cycles);
    console.log(
      `disk floor (the same I/O issued by python, O_DIRECT|O_SYNC): EX cycle median ${floor.cycleMsMedian.toFixed(2)} ms; ${FLOOR_THREADS} threads ${floor.cyclesPerSecond.toFixed(0)} cycles/s`,
    );
    const layout = createLayout(workDir, sizes);
    daemon = await startDaemon("sanlock-ts", join(workDir, "run"), { nodeFlags: ["--cpu-prof", "--cpu-prof-dir", profDir] });
    const ctx = { daemon, layout, sizes, ioTimeout: 1, workDir, noTrace: true };
    await work.formatLeases(ctx);
    await work.joinAndLeave(ctx);
    const phases = [];
    await phase(phases, `exclusive cycles x${sizes.cycles}`, daemon, () => work.cycles(ctx, false));
    await phase(phases, `8 clients for ${sizes.parallelSeconds} s`, daemon, () => work.parallelThroughput(ctx));
    await phase(phases, `hold ${sizes.held} resources`, daemon, () => work.holdMany(ctx));
    await phase(phases, `64 lockspaces: join, ${sizes.cpuWindowSeconds} s of renewals, leave`, daemon, () => work.manyLockspaces({ ...ctx, noTrace: true }));
    await work.leaveMain(ctx); // a daemon with a lockspace joined does not exit on SIGTERM
    await daemon.stop();
    daemon = null;
    // node names them CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
    const files = readdirSync(profDir).filter((n) => n.endsWith(".cpuprofile"));
    const mainFile = files.find((n) => n.split(".")[4] === "0");
    if (!mainFile) throw new Error("no main-thread .cpuprofile was written (the daemon did not exit normally)");
    const main = readProfile(join(profDir, mainFile));
    const workers = files.filter((n) => n !== mainFile).map((n) => readProfile(join(profDir, n)));
    for (const p of phases) printPhase(main, workers, p);
  } finally {
    if (daemon) await daemon.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exitCode = 1;
});
