#!/usr/bin/env node
// Where a daemon's CPU goes with many lockspaces joined: per-thread user and system time
// (/proc/PID/task/TID/stat) over a window after the renewals have run a while, for sanlock-ts and
// for sanlock, each on a fresh run directory and lease files. For sanlock-ts the threads are the
// main thread (tid = pid), the renewal worker (the busiest other thread), V8's helper threads
// (garbage collection, compilers) and libuv's pool (the reads and writes); for sanlock, its main
// thread and one thread per lockspace.
//
//   node bench/thread-cpu.mjs [--only sanlock-ts|sanlock] [--settle S] [--window S]
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { skipReason, startDaemon } from "./lib/daemons.mjs";
import { HOST_ID, createLayout } from "./lib/layout.mjs";
import { CLOCK_TICKS, statTicks } from "./lib/proc-stats.mjs";
import { runWorker } from "./lib/python-worker.mjs";
import * as work from "./lib/workloads.mjs";
import { numberOption, stringOption } from "./lib/argv.mjs";

/** Threads with fewer ticks than this over the window are summed into one line. */
const SHOWN_TICKS = 3;

/** utime and stime of every thread of `pid`, by tid. */
function threadTicks(pid) {
  const ticks = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ticks.set(tid, statTicks(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks;
}

/** Per-thread ticks over the window, the busiest first; threads below SHOWN_TICKS summed as "others". */
function usageOver(pid, before, after) {
  const rows = [];
  const others = { name: "others", threads: 0, user: 0, system: 0 };
  for (const [tid, now] of after) {
    const then = before.get(tid) ?? { user: 0, system: 0 };
    const row = { name: tid === String(pid) ? "main" : `tid ${tid}`, threads: 1, user: now.user - then.user, system: now.system - then.system };
    if (row.user + row.system >= SHOWN_TICKS || row.name === "main") rows.push(row);
    else {
      others.threads++;
      others.user += row.user;
      others.system += row.system;
    }
  }
  rows.sort((a, b) => b.user + b.system - (a.user + a.system));
  return [...rows, others];
}

async function measure(kind, settleSeconds, windowSeconds) {
  const workDir = mkdtempSync("/var/tmp/sanlock-ts-thread-cpu-");
  const sizes = { cycles: 0, warmup: 0, held: 1, lockspaces: 64, joinReps: 0 };
  let daemon = null;
  try {
    const layout = createLayout(workDir, sizes);
    daemon = await startDaemon(kind, join(workDir, "run"));
    const ctx = { kind, daemon, layout, sizes, ioTimeout: 1, workDir, noTrace: true };
    await work.formatLeases(ctx);
    await work.joinAndLeave(ctx); // joins the main lockspace, as the benchmark does
    const args = { lockspaces: layout.spaces, host_id: HOST_ID, io_timeout: ctx.ioTimeout };
    await runWorker(daemon, "add-many", args);
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
    const before = threadTicks(daemon.pid);
    await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
    const rows = usageOver(daemon.pid, before, threadTicks(daemon.pid));
    await runWorker(daemon, "rem-many", args);
    await work.leaveMain(ctx); // a daemon with a lockspace joined does not exit on SIGTERM
    return rows;
  } finally {
    await daemon?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function main() {
  const only = stringOption("--only", null);
  const settleSeconds = numberOption("--settle", 60);
  const windowSeconds = numberOption("--window", 30);
  const percent = (ticks) => ((ticks / CLOCK_TICKS / windowSeconds) * 100).toFixed(2).padStart(6);
  for (const kind of ["sanlock-ts", "sanlock"]) {
    if (only !== null && only !== kind) continue;
    const skip = skipReason(kind);
    if (skip) {
      console.log(`${kind}: skipped (${skip})`);
      continue;
    }
    const rows = await measure(kind, settleSeconds, windowSeconds);
    const total = rows.reduce((sum, r) => sum + r.user + r.system, 0);
    console.log(`\n${kind}: 64 lockspaces (io_timeout 1), ${windowSeconds} s window ${settleSeconds} s after the join; % of one core`);
    console.log("  thread           user%   sys%");
    for (const r of rows) console.log(`  ${`${r.name}${r.threads > 1 ? ` (${r.threads})` : ""}`.padEnd(15)} ${percent(r.user)} ${percent(r.system)}`);
    console.log(`  total           ${percent(total)}`);
  }
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exitCode = 1;
});
