// The memory floor of the sanlock-ts daemon's platform: what a node process with the daemon's
// shape costs before any sanlock-ts code is loaded. The daemon is one node process with a
// second V8 isolate (the renewal worker thread, which keeps renewals off the main event loop),
// a libuv pool of DAEMON_THREADPOOL_SIZE threads, and the memory settings of process-memory.ts.
// A bare node process with that shape runs here; its anonymous resident memory (RssAnon) is the
// least the daemon's RssAnon can be, as the disk floor is the least an acquire can take.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./daemons.mjs";
import { median } from "./stats.mjs";

/** Runs taken; the figure is their median. */
export const NODE_FLOOR_RUNS = 3;
/** How long the bare process runs before its memory is read: its worker and pool are up by then. */
const SETTLE_MS = 3000;

// CommonJS (node starts it without the ES module loader); one worker thread that stays idle, and
// one stat per pool thread at once, so that every thread of the pool has run, as under the daemon's
// load. stat, not readFile: each readFile allocates a 64 KiB buffer, and 256 of them at once left
// about 5 MiB more resident (21.2 against 16.9 MiB), which is not the daemon's shape.
const bareDaemon = (poolSize) => `
const { Worker } = require("node:worker_threads");
const { stat } = require("node:fs/promises");
new Worker("setInterval(() => {}, 1000);", { eval: true });
Promise.all(Array.from({ length: ${poolSize} }, () => stat("/proc/self/stat"))).then(() => {});
setTimeout(() => {
  const status = require("node:fs").readFileSync("/proc/self/status", "utf8");
  const kib = (name) => Number(status.match(new RegExp("^" + name + ":\\\\s+(\\\\d+) kB", "m"))?.[1]);
  console.log(JSON.stringify({ anonKiB: kib("RssAnon"), rssKiB: kib("VmRSS"), threads: kib("Threads") }));
  process.exit(0);
}, ${SETTLE_MS});
`;

/** The daemon's node flags, environment and pool size, from its build (bench needs the build anyway). */
async function daemonShape() {
  const dist = join(REPO_ROOT, "packages/daemon/dist");
  const memory = await import(join(dist, "process-memory.js"));
  const pool = await import(join(dist, "device/threadpool.js"));
  const poolSize = pool.DAEMON_THREADPOOL_SIZE;
  return { poolSize, nodeFlags: [...memory.DAEMON_STARTUP.nodeFlags], env: { ...memory.DAEMON_STARTUP.env, UV_THREADPOOL_SIZE: String(poolSize) } };
}

/**
 * RssAnon of a bare node process shaped like the daemon, in KiB: median of NODE_FLOOR_RUNS runs
 * and their range. Throws if a run fails.
 */
export async function measureNodeMemoryFloor() {
  const shape = await daemonShape();
  const runs = [];
  for (let i = 0; i < NODE_FLOOR_RUNS; i++) {
    const run = spawnSync(process.execPath, [...shape.nodeFlags, "-e", bareDaemon(shape.poolSize)], {
      env: { ...process.env, ...shape.env },
      encoding: "utf8",
      timeout: SETTLE_MS + 30_000,
    });
    if (run.status !== 0) throw new Error(`bare node process failed (${run.status ?? run.signal}): ${run.stderr.trim()}`);
    const figures = JSON.parse(run.stdout);
    if (!Number.isFinite(figures.anonKiB)) throw new Error(`bare node process printed no RssAnon: ${run.stdout.trim()}`);
    runs.push(figures.anonKiB);
  }
  return { anonKiB: median(runs), anonKiBRange: [Math.min(...runs), Math.max(...runs)], runs };
}
