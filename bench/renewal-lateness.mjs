#!/usr/bin/env node
// Renewal lateness of a sanlock-ts daemon under load (issue 5, item 3; algorithms.md §1.3, §2.3).
//
//   pnpm build && node bench/renewal-lateness.mjs [--baseline SECONDS] [--load SECONDS] [--json FILE]
//
// Needs root, /dev/fuse and Debian's python3-fusepy (the stalled device), built packages/*/dist.
// Runs ~2.5-3 minutes with the defaults (30 s baseline, 120 s load).
//
// Setup: one sanlock-ts daemon (a process, -w 0) joins three lockspaces as host 1, io_timeout
// N = 1 (a renewal is due every 2N = 2 s):
//   LS1, LS2  each on its own lease file under /var/tmp (ext4, O_DIRECT);
//   LS3       on a file of a FUSE passthrough mount (test/support/stall-fs/stall_fs.py) whose
//             reads and writes really hang in the kernel while a control file exists.
// Phase "baseline": nothing but the renewals. Phase "load", all at once:
//   (a) the daemon's event loop is kept busy: HAMMERS processes × HAMMER_LOOPS concurrent STATUS
//       requests back to back, plus IDLE_CONNECTIONS open idle connections and a connect/close churn;
//   (b) 8 registered clients (8 processes) acquire and release one resource each (4 in LS1, 4 in
//       LS2, on separate resource files) in a loop;
//   (c) LS3's device stalls (it enters recovery at 8N; its renewal worker stays stuck in the I/O).
//
// Lateness of a renewal = (its start − the previous renewal's start − 2N), from the daemon's RENEWAL
// history of LS1 and LS2 (wire.md §7.30). RENEWAL reports whole-second timestamps (the delta
// record's, sampled after the renewal read, ondisk.md §4), so this lateness is a multiple of 1000 ms;
// on time it is 0 or 1000 ms, because the loop wakes once a second and waits 0.5 s once a renewal
// is due (§2.3). For finer resolution an observer in this process also polls each lockspace's delta
// record on disk every POLL_MS and notes when the timestamp changes (the write's completion, seen
// to within the poll interval plus this process's own scheduling delay): "observed" lateness = (Δ
// between two changes − 2N). Failed renewal attempts (next_timeouts / next_errors) are counted too.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startDaemon } from "./lib/daemons.mjs";
import { quantile } from "./lib/stats.mjs";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLIENT_DIST = join(REPO_ROOT, "packages/client/dist/index.js");
const STALL_FS = join(REPO_ROOT, "test/support/stall-fs/stall_fs.py");
const WORK_ROOT = process.env.SANLOCK_TS_TEST_DIR ?? "/var/tmp";
const IO_TIMEOUT = 1;
const RENEW_EVERY = 2 * IO_TIMEOUT;
const MiB = 1 << 20;
const CLIENTS = 8;
const HAMMERS = 2;
const HAMMER_LOOPS = 32;
const IDLE_CONNECTIONS = 200;
const POLL_MS = 10;
/** One stalled I/O fails with EIO after this (bounds a forgotten stall); longer than any run. */
const MAX_STALL_SECONDS = 600;
const MAX_PHASE_SECONDS = 600;
/** Bound on latency samples kept per process. */
const MAX_SAMPLES = 200_000;

function parseOptions(argv) {
  const opts = { baseline: 30, load: 120, json: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") continue;
    else if (arg === "--baseline") opts.baseline = Number(argv[++i]);
    else if (arg === "--load") opts.load = Number(argv[++i]);
    else if (arg === "--json") opts.json = argv[++i];
    else throw new Error(`unknown argument ${arg}`);
  }
  for (const k of ["baseline", "load"]) {
    if (!(opts[k] >= 10 && opts[k] <= MAX_PHASE_SECONDS)) throw new RangeError(`--${k} must be 10..${MAX_PHASE_SECONDS} s`);
  }
  return opts;
}

function skipReason() {
  if (process.getuid?.() !== 0) return "needs root (FUSE mount)";
  if (!existsSync("/dev/fuse")) return "no /dev/fuse";
  if (spawnSync("/usr/bin/python3", ["-c", "import fusepy"]).status !== 0) return "python3-fusepy is not installed";
  if (!existsSync(CLIENT_DIST) || !existsSync(join(REPO_ROOT, "packages/cli/dist/main.cjs"))) return "run pnpm build first";
  return false;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const monotonic = () => Number(process.hrtime.bigint()) / 1e9;

// ------------------------------------------------------------------ the stalled device

/** Mounts stall_fs.py over `backing` at `mountpoint`; resolves once the kernel finished the mount. */
async function mountStallFs(backing, mountpoint, control) {
  const server = spawn("/usr/bin/python3", [STALL_FS, backing, mountpoint, control, String(MAX_STALL_SECONDS)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  server.stderr.on("data", (c) => {
    if (stderr.length < 8192) stderr += c;
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stall-fs not ready in 10 s: ${stderr}`)), 10_000);
    server.stdout.on("data", (c) => {
      if (String(c).includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`stall-fs exited ${code}: ${stderr}`));
    });
  });
  const exited = new Promise((r) => server.once("exit", r));
  return {
    stall: () => writeFileSync(control, ""),
    unstall: () => rmSync(control, { force: true }),
    async close() {
      rmSync(control, { force: true });
      spawnSync("umount", ["-l", mountpoint]);
      if (server.exitCode === null && server.signalCode === null) {
        server.kill("SIGTERM");
        const timer = setTimeout(() => server.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

// ------------------------------------------------------------------ load processes

/** STATUS requests back to back from LOOPS concurrent loops, idle connections, connect churn. */
const HAMMER_PROGRAM = String.raw`
import { connect } from "node:net";
const { SanlockClient } = await import(process.env.CLIENT_URL);
const cfg = JSON.parse(process.env.CFG);
const client = new SanlockClient({ runDir: cfg.runDir, timeoutMs: 60000 });
const socketPath = client.socketPath;
let stop = false, requests = 0, errors = 0, churned = 0;
const latencies = [];
const idle = [];
for (let i = 0; i < cfg.idle; i++) { const s = connect(socketPath); s.on("error", () => {}); idle.push(s); }
async function loop() {
  while (!stop) {
    const t0 = performance.now();
    try { await client.status(); requests++; if (latencies.length < cfg.maxSamples) latencies.push(performance.now() - t0); }
    catch { errors++; await new Promise((r) => setTimeout(r, 100)); }
  }
}
async function churn() {
  while (!stop) {
    await new Promise((resolve) => { const s = connect(socketPath); s.on("error", resolve); s.on("connect", () => { s.destroy(); resolve(); }); });
    churned++;
  }
}
const loops = [churn()];
for (let i = 0; i < cfg.loops; i++) loops.push(loop());
process.stdin.on("data", () => { stop = true; });
process.stdin.on("end", () => { stop = true; });
await Promise.all(loops);
for (const s of idle) s.destroy();
process.stdout.write(JSON.stringify({ requests, errors, churned, latencies }) + "\n");
process.exit(0);
`;

/** One registered client acquiring and releasing its resource in a loop. */
const CYCLER_PROGRAM = String.raw`
const { SanlockClient } = await import(process.env.CLIENT_URL);
const cfg = JSON.parse(process.env.CFG);
const client = new SanlockClient({ runDir: cfg.runDir, timeoutMs: 60000 });
let stop = false, cycles = 0, errors = 0, lastError = "";
// The connection flood can fill the socket's accept backlog (connect: EAGAIN): retry, bounded.
let registration;
for (let attempt = 1; registration === undefined; attempt++) {
  try { registration = await client.register(); }
  catch (e) { errors++; lastError = String(e && e.message); if (attempt >= 300) throw e; await new Promise((r) => setTimeout(r, 100)); }
}
const latencies = [];
process.stdin.on("data", () => { stop = true; });
process.stdin.on("end", () => { stop = true; });
while (!stop) {
  const t0 = performance.now();
  try {
    await client.acquire(cfg.lockspace, cfg.resource, cfg.disks, { registration });
    await client.release(cfg.lockspace, cfg.resource, cfg.disks, { registration });
    cycles++;
    if (latencies.length < cfg.maxSamples) latencies.push(performance.now() - t0);
  } catch (e) { errors++; lastError = String(e && e.message); await new Promise((r) => setTimeout(r, 200)); }
}
await registration.close();
process.stdout.write(JSON.stringify({ cycles, errors, lastError, latencies }) + "\n");
process.exit(0);
`;

/** Starts a load process; stop() asks it to finish and resolves with its JSON report. */
function startLoad(program, cfg) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", program], {
    env: { ...process.env, CLIENT_URL: pathToFileURL(CLIENT_DIST).href, CFG: JSON.stringify({ ...cfg, maxSamples: MAX_SAMPLES }) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "",
    err = "";
  child.stdout.on("data", (c) => {
    out += c;
  });
  child.stderr.on("data", (c) => {
    if (err.length < 8192) err += c;
  });
  child.stdin.on("error", () => {});
  const exited = new Promise((r) => child.once("exit", r));
  return {
    kill: () => child.kill("SIGKILL"),
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
      try {
        return JSON.parse(out);
      } catch {
        throw new Error(`load process gave no report: ${err.slice(0, 2000)}`);
      }
    },
  };
}

// ------------------------------------------------------------------ observation

/** Polls host 1's delta record of each lease file; notes (timestamp, seen-at) whenever it changes. */
function startObserver(files) {
  const fds = files.map((f) => openSync(f, "r"));
  const sector = new Uint8Array(512);
  const view = new DataView(sector.buffer);
  const seen = files.map(() => []);
  const last = files.map(() => -1n);
  const timer = setInterval(() => {
    const at = monotonic();
    fds.forEach((fd, i) => {
      // Buffered read: the daemon's O_DIRECT writes invalidate the page cache, so this sees them.
      readSync(fd, sector, 0, 512, 0);
      const timestamp = view.getBigUint64(152, true); // leader record `timestamp` at byte 152 (ondisk.md §2)
      if (timestamp !== last[i]) {
        last[i] = timestamp;
        if (seen[i].length < MAX_SAMPLES) seen[i].push({ timestamp: Number(timestamp), at });
      }
    });
  }, POLL_MS);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    fds.forEach((fd) => closeSync(fd));
  };
  return { seen, stop };
}

/** RENEWAL history of `lockspace`: [{ timestamp, readMs, writeMs, nextTimeouts, nextErrors }]. */
async function renewalHistory(ops, socketPath, lockspace) {
  const { records } = await ops.renewal({ socketPath, timeoutMs: 60_000 }, lockspace);
  return records.map((r) => {
    const s = ops.parseStateText(r.str);
    return {
      timestamp: Number(s.timestamp),
      readMs: Number(s.read_ms),
      writeMs: Number(s.write_ms),
      nextTimeouts: Number(s.next_timeouts),
      nextErrors: Number(s.next_errors),
    };
  });
}

/** Lateness (ms) of each renewal whose start and predecessor's start lie in [from, to). */
function latenessMs(starts, from, to) {
  const out = [];
  for (let i = 1; i < starts.length; i++) {
    if (starts[i - 1] >= from && starts[i] < to) out.push(Math.round((starts[i] - starts[i - 1] - RENEW_EVERY) * 1000));
  }
  return out;
}

function summary(samples) {
  if (samples.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  return { count: samples.length, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: Math.max(...samples) };
}

const fmt = (s) =>
  `p50 ${String(Math.round(s.p50)).padStart(5)}  p99 ${String(Math.round(s.p99)).padStart(5)}  max ${String(Math.round(s.max)).padStart(5)}  count ${s.count}`;

// ------------------------------------------------------------------ main

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const skip = skipReason();
  if (skip) {
    console.log(`renewal-lateness: skipped: ${skip}`);
    return;
  }
  const { SanlockClient, ops } = await import(pathToFileURL(CLIENT_DIST).href);
  const root = mkdtempSync(join(WORK_ROOT, "renewal-lateness-"));
  const cleanups = [];
  const cleanup = async () => {
    while (cleanups.length > 0)
      await cleanups
        .pop()()
        .catch((e) => console.error(`cleanup: ${e.message}`));
  };
  cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
  process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));
  try {
    const file = (name, size) => {
      const p = join(root, name);
      writeFileSync(p, "");
      truncateSync(p, size);
      return p;
    };
    const ls = [file("ls1", MiB), file("ls2", MiB)];
    const res = [file("res1", 4 * MiB), file("res2", 4 * MiB)];
    mkdirSync(join(root, "backing"));
    mkdirSync(join(root, "mnt"));
    writeFileSync(join(root, "backing", "ls3"), "");
    truncateSync(join(root, "backing", "ls3"), MiB);
    const fuse = await mountStallFs(join(root, "backing"), join(root, "mnt"), join(root, "stall"));
    cleanups.push(() => fuse.close());
    const ls3 = join(root, "mnt", "ls3");

    const daemon = await startDaemon("sanlock-ts", join(root, "run"));
    cleanups.push(() => daemon.stop());
    // Runs before the daemon's stop: a thread blocked in a FUSE request holds the process until answered.
    cleanups.push(async () => fuse.unstall());
    const client = new SanlockClient({ runDir: daemon.runDir });
    const names = ["LS1", "LS2", "LS3"];
    const paths = [...ls, ls3];
    for (let i = 0; i < 3; i++) await client.writeLockspace(names[i], paths[i], { iotimeout: IO_TIMEOUT });
    const leases = [];
    for (let c = 0; c < CLIENTS; c++) {
      const side = c % 2;
      const lease = { lockspace: names[side], resource: `r${c}`, disks: [{ path: res[side], offset: Math.floor(c / 2) * MiB }] };
      await client.writeResource(lease.lockspace, lease.resource, lease.disks);
      leases.push(lease);
    }
    await Promise.all(names.map((n, i) => client.addLockspace(n, 1, paths[i], { iotimeout: IO_TIMEOUT })));
    const observer = startObserver(ls);
    cleanups.push(async () => observer.stop());

    const baselineFrom = monotonic();
    console.log(`baseline: ${opts.baseline} s of renewals only (LS1, LS2 on files, LS3 on stall-fs) ...`);
    await sleep(opts.baseline * 1000);
    const loadFrom = monotonic();
    console.log(
      `load: ${opts.load} s with ${HAMMERS}×${HAMMER_LOOPS} STATUS loops + ${HAMMERS}×${IDLE_CONNECTIONS} idle connections + churn, ${CLIENTS} acquire/release clients, LS3's device stalled ...`,
    );
    fuse.stall();
    const loads = [];
    const stopLoads = () => loads.forEach((l) => l.p.kill());
    cleanups.push(async () => stopLoads());
    for (let h = 0; h < HAMMERS; h++)
      loads.push({ kind: "hammer", p: startLoad(HAMMER_PROGRAM, { runDir: daemon.runDir, loops: HAMMER_LOOPS, idle: IDLE_CONNECTIONS }) });
    for (const lease of leases) loads.push({ kind: "cycler", p: startLoad(CYCLER_PROGRAM, { runDir: daemon.runDir, ...lease }) });
    let ls3Down;
    const loadEnd = loadFrom + opts.load;
    while (monotonic() < loadEnd) {
      await sleep(1000);
      if (ls3Down === undefined && (await client.inqLockspace("LS3", 1, ls3).catch(() => true)) !== true) ls3Down = monotonic() - loadFrom;
    }
    const loadTo = monotonic();
    const reports = [];
    for (const l of loads) reports.push({ kind: l.kind, ...(await l.p.stop()) });
    observer.stop();

    // Renewal history and lateness.
    const histories = await Promise.all(["LS1", "LS2"].map((n) => renewalHistory(ops, client.socketPath, n)));
    const phases = [
      ["baseline", baselineFrom, loadFrom],
      ["load", loadFrom, loadTo],
    ];
    const result = { ioTimeout: IO_TIMEOUT, baselineSeconds: opts.baseline, loadSeconds: opts.load, phases: {} };
    for (const [phase, from, to] of phases) {
      // History timestamps are whole seconds: a renewal belongs to the phase its timestamp falls in.
      const history = histories.flatMap((h) =>
        latenessMs(
          h.slice(1).map((e) => e.timestamp),
          Math.floor(from),
          Math.floor(to),
        ),
      );
      const observed = observer.seen.flatMap((s) =>
        latenessMs(
          s.slice(1).map((e) => e.at),
          from,
          to,
        ),
      );
      const failed = histories
        .flatMap((h) => h.filter((e) => e.timestamp >= Math.floor(from) && e.timestamp < Math.floor(to)))
        .reduce((n, e) => n + e.nextTimeouts + e.nextErrors, 0);
      result.phases[phase] = { history: summary(history), observed: summary(observed), failedAttempts: failed };
    }
    const hammers = reports.filter((r) => r.kind === "hammer");
    const cyclers = reports.filter((r) => r.kind === "cycler");
    result.status = {
      ...summary(hammers.flatMap((r) => r.latencies)),
      errors: hammers.reduce((n, r) => n + r.errors, 0),
      churned: hammers.reduce((n, r) => n + r.churned, 0),
    };
    result.cycles = {
      ...summary(cyclers.flatMap((r) => r.latencies)),
      errors: cyclers.reduce((n, r) => n + r.errors, 0),
      lastErrors: cyclers
        .map((r) => r.lastError)
        .filter(Boolean)
        .slice(0, 3),
    };
    result.ls3RecoverySecondsAfterStall = ls3Down ?? null;

    console.log(`\nrenewal lateness (ms) of LS1+LS2, N = ${IO_TIMEOUT} s, lateness = start − previous start − 2N:`);
    for (const [phase] of phases) {
      const p = result.phases[phase];
      console.log(`  ${phase.padEnd(8)} RENEWAL history (1-s steps): ${fmt(p.history)}  failed attempts ${p.failedAttempts}`);
      console.log(`  ${phase.padEnd(8)} observed on disk (${POLL_MS}-ms poll): ${fmt(p.observed)}`);
    }
    console.log(
      `load on the daemon: STATUS ${result.status.count} requests (latency ms ${fmt(result.status)}), errors ${result.status.errors}, ${result.status.churned} connect/close`,
    );
    console.log(
      `  ${CLIENTS} clients: ${result.cycles.count} acquire+release cycles (ms ${fmt(result.cycles)}), errors ${result.cycles.errors} ${result.cycles.lastErrors.join("; ")}`,
    );
    console.log(
      `  LS3 (stalled device) no longer joined ${ls3Down === undefined ? "— never, within the load phase" : `${ls3Down.toFixed(1)} s after the stall (recovery at 8N = ${8 * IO_TIMEOUT} s)`}`,
    );
    if (opts.json) writeFileSync(opts.json, JSON.stringify(result, null, 2));
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
