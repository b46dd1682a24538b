#!/usr/bin/env node
// `pnpm bench:dlm` (and the end of `pnpm bench`): DLM locks on shared storage (docs/dlm.md),
// measured on two sanlock-ts daemons sharing one DLM volume under /var/tmp (ext4: O_DIRECT),
// io_timeout 1, num_hosts 126 (a ballot reads 128 sectors), poll_ms 1000. Beside them, the real
// sanlock 3.8.5's shared acquire on the same disk: the I/O a remote DLM grant costs (§6, §10).
//
//   node bench/dlm.mjs [--quick] [--json FILE]
//
// Figures: a covered local grant (time through the socket, and the engine's I/O for it: 0), a
// remote grant (the mutex round) against sanlock's SH acquire+release cycle, the BAST latency
// (a waiter on another host to the holder's BAST) and the wake-up latency (the holder's unlock
// to the waiter's grant). There are no UDP hints: both latencies are paced by poll_ms.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT, skipReason, startDaemon } from "./lib/daemons.mjs";
import { createLayout } from "./lib/layout.mjs";
import { median, p99, quantile } from "./lib/stats.mjs";
import { runWorker } from "./lib/python-worker.mjs";
import * as work from "./lib/workloads.mjs";

const lib = (path) => import(pathToFileURL(join(REPO_ROOT, path)).href);
const core = await lib("packages/core/dist/index.js");
const dlm = await lib("packages/core/dist/dlm/index.js");
const { openDirectDevice } = await lib("packages/daemon/dist/index.js");

const IO_TIMEOUT = 1;
/** Pause after each remote cycle's unlock for its slot write to land (well above a write's time here). */
const UNLOCK_SETTLE_MS = 30;
const LS = "DLMBENCH";
const SIZES = { full: { grants: 300, covered: 1000, basts: 8, shCycles: 300 }, quick: { grants: 40, covered: 200, basts: 3, shCycles: 40 } };
const LKM = dlm.LKM;
const b64 = (s) => Buffer.from(s).toString("base64");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function parseOptions(argv) {
  const o = { quick: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") continue;
    if (argv[i] === "--quick") o.quick = true;
    else if (argv[i] === "--json") o.json = argv[++i];
    else throw new Error(`unknown option ${argv[i]} (use --quick, --json FILE)`);
  }
  return o;
}

/** One DLM process: a connection to a daemon's dlm.sock. */
function connect(runDir) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: join(runDir, "dlm.sock") });
    const decoder = new dlm.FrameDecoder();
    const waiting = new Map();
    const listeners = new Set();
    // Events are kept: an AST can arrive in the same chunk as the reply that names its lkid.
    const log = [];
    let id = 0;
    socket.on("data", (chunk) => {
      const at = nowMs();
      for (const m of decoder.push(new Uint8Array(chunk))) {
        if (typeof m.id === "number") waiting.get(m.id)?.(m);
        else {
          log.push({ m, at });
          if (log.length > 10_000) log.splice(0, 5_000);
          for (const l of listeners) l(m, at);
        }
      }
    });
    socket.once("error", reject);
    socket.once("connect", () =>
      resolve({
        request(op, fields = {}) {
          return new Promise((res, rej) => {
            const n = ++id;
            waiting.set(n, (m) => {
              waiting.delete(n);
              if (m.status === 0) res(m);
              else rej(new Error(`${op}: status ${m.status} ${m.message ?? ""}`));
            });
            socket.write(dlm.encodeFrame({ op, id: n, ...fields }));
          });
        },
        /** Resolves with the first event `pred` accepts, of those kept or still to come, and its arrival time. */
        event(pred, ms = 30_000) {
          return new Promise((res, rej) => {
            const seen = log.find((e) => pred(e.m));
            if (seen) {
              res(seen);
              return;
            }
            const timer = setTimeout(() => {
              listeners.delete(l);
              rej(new Error("event timed out"));
            }, ms);
            const l = (m, at) => {
              if (!pred(m)) return;
              clearTimeout(timer);
              listeners.delete(l);
              res({ m, at });
            };
            listeners.add(l);
          });
        },
        close: () => socket.destroy(),
      }),
    );
  });
}

/** lock → its AST: { ms from send to AST, lkid }; rejects on a non-zero AST. */
async function lockTimed(c, handle, mode, resource, extra = {}) {
  const start = nowMs();
  const reply = await c.request("lock", { handle, mode, resource: b64(resource), ...extra });
  const { m, at } = await c.event((e) => e.event === "ast" && e.lkid === reply.lkid);
  if (m.status !== 0) throw new Error(`lock ${resource}: AST status ${m.status}`);
  return { ms: at - start, lkid: reply.lkid };
}

async function ioOf(c) {
  const { lockspaces } = await c.request("list");
  return lockspaces.find((l) => l.name === LS).io;
}

const summary = (samples) => ({
  samples: samples.length,
  medianMs: median(samples),
  p99Ms: p99(samples),
  maxMs: quantile(samples, 1),
  ...(samples.length <= 20 ? { raw: samples.map((x) => Math.round(x)) } : {}),
});

async function formatVolume(path) {
  writeFileSync(path, "");
  truncateSync(path, 64 << 20);
  const device = await openDirectDevice(path, {});
  try {
    await dlm.formatVolume(device, { offset: 0, name: LS, geometry: core.geometryFor(512, 1 << 20), lockspaceId: 0xbe4cn, ioTimeout: IO_TIMEOUT });
  } finally {
    await device.close();
  }
}

/** Remote grants: uncontended EX lock (a mutex round) and unlock (one slot write), `count` times. */
async function remoteGrants(c, handle, count) {
  const lock = [];
  const unlock = [];
  const before = await ioOf(c);
  for (let i = 0; i < count + 5; i++) {
    const g = await lockTimed(c, handle, LKM.EX, "remote");
    const start = nowMs();
    await c.request("unlock", { handle, lkid: g.lkid });
    if (i >= 5) {
      lock.push(g.ms);
      unlock.push(nowMs() - start);
    }
    // Untimed: the unlock's slot write lands, so the next lock is not covered by our own slot
    // (§5.6) and needs the mutex round measured here.
    await sleep(UNLOCK_SETTLE_MS);
  }
  const after = await ioOf(c);
  const cycles = count + 5;
  return {
    lock: summary(lock),
    unlock: summary(unlock),
    cycle: summary(lock.map((x, i) => x + unlock[i])),
    ioPerCycle: { reads: (after.reads - before.reads) / cycles, writes: (after.writes - before.writes) / cycles },
  };
}

/** Covered local grants: process A holds PR; process B takes and drops PR `count` times (no I/O, §5.6). */
async function coveredGrants(a, ha, b, hb, count) {
  await lockTimed(a, ha, LKM.PR, "covered");
  await lockTimed(b, hb, LKM.PR, "covered"); // warm: the resource is open
  const samples = [];
  const before = await ioOf(a);
  for (let i = 0; i < count; i++) {
    const g = await lockTimed(b, hb, LKM.PR, "covered");
    samples.push(g.ms);
    await b.request("unlock", { handle: hb, lkid: g.lkid });
  }
  const after = await ioOf(a);
  return { lock: summary(samples), ioTotal: { reads: after.reads - before.reads, writes: after.writes - before.writes } };
}

/**
 * The same covered grant inside the engine, with no socket: a DlmEngine in this process on an
 * in-memory device (the grant does no I/O, so the device does not matter), process 1 holding PR,
 * process 2 taking PR and unlocking it `count` times. The time is from lock() to its completion.
 */
async function coveredInEngine(count) {
  const { DAEMON_CLOCK, DAEMON_RANDOM } = await lib("packages/daemon/dist/daemon-clock.js");
  const g = core.geometryFor(512, 1 << 20);
  const device = new core.MemoryDevice({ size: 2 << 20, sectorSize: 512 });
  device.contents.set(core.buildResourceArea({ spaceName: LS, resourceName: "covered", numHosts: 8 }, g), 1 << 20);
  const engine = new dlm.DlmEngine({
    lockspace: LS,
    hostId: 1,
    generation: 1n,
    ioTimeout: IO_TIMEOUT,
    clock: DAEMON_CLOCK,
    random: DAEMON_RANDOM,
    liveness: { snapshot: () => undefined, isSharedHolderAlive: () => true },
    readDeltaRecord: async (id) => ({ ownerId: id, ownerGeneration: 1n, timestamp: 1n, ioTimeout: IO_TIMEOUT }),
    device,
    geometry: g,
    numHosts: 8,
    lvbLen: 32,
    locate: () => ({ sanlockName: "covered", offset: 1 << 20 }),
  });
  const held = engine.lock({ pid: 1, mode: LKM.PR, resource: "covered" });
  await held.done;
  const samples = [];
  let before = { ...engine.ioCount };
  for (let i = 0; i < count + 100; i++) {
    if (i === 100) before = { ...engine.ioCount };
    const start = nowMs();
    const h = engine.lock({ pid: 2, mode: LKM.PR, resource: "covered" });
    const c = await h.done;
    if (c.status !== 0) throw new Error(`covered grant: status ${c.status}`);
    if (i >= 100) samples.push(nowMs() - start);
    await engine.unlock({ lkid: h.lkid });
  }
  const io = { reads: engine.ioCount.reads - before.reads, writes: engine.ioCount.writes - before.writes };
  engine.stop();
  return { lock: summary(samples), io };
}

/** Host 1 holds PR with a BAST callback; host 2 asks EX: BAST latency, then host 1 unlocks: wake-up latency. */
async function bastAndWakeup(h1, hh1, h2, hh2, rounds) {
  const bast = [];
  const wake = [];
  for (let i = 0; i < rounds; i++) {
    const held = await lockTimed(h1, hh1, LKM.PR, "bast", { bast: true });
    // Untimed: a random phase against both hosts' poll cycles (rounds at a fixed phase would
    // measure one point of the cycle, not the distribution).
    await sleep(Math.random() * 1000);
    const gotBast = h1.event((m) => m.event === "bast" && m.lkid === held.lkid);
    const asked = nowMs();
    const lkid = (await h2.request("lock", { handle: hh2, mode: LKM.EX, resource: b64("bast") })).lkid;
    const b = await gotBast;
    bast.push(b.at - asked);
    const released = nowMs();
    await h1.request("unlock", { handle: hh1, lkid: held.lkid });
    const g = await h2.event((m) => m.event === "ast" && m.lkid === lkid);
    if (g.m.status !== 0) throw new Error(`EX after the BAST: status ${g.m.status}`);
    wake.push(g.at - released);
    await h2.request("unlock", { handle: hh2, lkid });
    await sleep(200);
  }
  return { bast: summary(bast), wakeup: summary(wake) };
}

/** The real sanlock's SH acquire+release on the same disk (bench/worker.py, python3-sanlock). */
async function sanlockShared(dir, sizes) {
  const reason = skipReason("sanlock");
  if (reason) return { skipped: reason };
  const layout = createLayout(join(dir, "sanlock"), { held: 0, lockspaces: 0 });
  const daemon = await startDaemon("sanlock", join(dir, "sanlock-run"));
  try {
    const ctx = { daemon, layout, sizes: { warmup: 5, joinReps: 0 }, ioTimeout: IO_TIMEOUT, workDir: dir };
    await work.formatLeases(ctx);
    await runWorker(daemon, "add", { ...layout.main, host_id: 1, io_timeout: IO_TIMEOUT });
    const r = await work.cycleSamples(ctx, true, sizes.shCycles);
    await runWorker(daemon, "rem", { ...layout.main, host_id: 1, io_timeout: IO_TIMEOUT });
    const cycle = r.acquireMs.map((x, i) => x + r.releaseMs[i]);
    return { acquire: summary(r.acquireMs), cycle: summary(cycle) };
  } finally {
    await daemon.stop();
  }
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");

function render(r) {
  const rows = [
    ["covered local grant, median / p99 (ms, socket round trip)", `${fmt(r.covered.lock.medianMs, 3)} / ${fmt(r.covered.lock.p99Ms, 3)}`, "≤ 0.05 ms"],
    [
      "covered local grant in the engine, median / p99 (ms, no socket)",
      `${fmt(r.coveredEngine.lock.medianMs, 4)} / ${fmt(r.coveredEngine.lock.p99Ms, 4)}`,
      "≤ 0.05 ms",
    ],
    [
      "covered local grant: engine I/O over all grants",
      `${r.covered.ioTotal.reads}R + ${r.covered.ioTotal.writes}W (daemon), ${r.coveredEngine.io.reads}R + ${r.coveredEngine.io.writes}W (engine)`,
      "0",
    ],
    ["remote grant (EX lock, mutex round), median / p99 (ms)", `${fmt(r.remote.lock.medianMs)} / ${fmt(r.remote.lock.p99Ms)}`, ""],
    ["remote lock+unlock cycle, median (ms)", fmt(r.remote.cycle.medianMs), ""],
    [
      "remote cycle I/O (per cycle, incl. host-area reads)",
      `${fmt(r.remote.ioPerCycle.reads, 1)}R + ${fmt(r.remote.ioPerCycle.writes, 1)}W`,
      "§6: grant 6R + 5W, unlock 1W",
    ],
    ["sanlock SH acquire+release, median (ms)", r.sanlock.skipped ? `skipped: ${r.sanlock.skipped}` : fmt(r.sanlock.cycle.medianMs), ""],
    ["remote cycle / sanlock SH cycle", r.sanlock.skipped ? "-" : fmt(r.remote.cycle.medianMs / r.sanlock.cycle.medianMs), "≤ 1.2"],
    ["BAST latency, median / max (ms, no UDP, poll 1000 ms)", `${fmt(r.basts.bast.medianMs, 0)} / ${fmt(r.basts.bast.maxMs, 0)}`, "≤ poll_ms + 1000"],
    ["wake-up latency, median / max (ms, no UDP)", `${fmt(r.basts.wakeup.medianMs, 0)} / ${fmt(r.basts.wakeup.maxMs, 0)}`, "≤ 2·poll_ms + a round"],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`).join("\n");
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const sizes = opts.quick ? SIZES.quick : SIZES.full;
  const reason = skipReason("sanlock-ts");
  if (reason) throw new Error(reason);
  const dir = mkdtempSync("/var/tmp/dlm-bench-");
  const daemons = [];
  const conns = [];
  try {
    const volume = join(dir, "dlm.vol");
    await formatVolume(volume);
    for (const h of [1, 2]) daemons.push(await startDaemon("sanlock-ts", join(dir, `run${h}`)));
    const [a1, b1, a2] = [await connect(daemons[0].runDir), await connect(daemons[0].runDir), await connect(daemons[1].runDir)];
    conns.push(a1, b1, a2);
    const disk = { path: volume, offset: 0 };
    const ha1 = (await a1.request("create", { name: LS, hostId: 1, disk })).handle;
    const hb1 = (await b1.request("open", { name: LS })).handle;
    const ha2 = (await a2.request("create", { name: LS, hostId: 2, disk })).handle;
    const result = {
      remote: await remoteGrants(a1, ha1, sizes.grants),
      covered: await coveredGrants(a1, ha1, b1, hb1, sizes.covered),
      basts: await bastAndWakeup(b1, hb1, a2, ha2, sizes.basts),
      sanlock: { skipped: "not run" },
      coveredEngine: await coveredInEngine(sizes.covered),
    };
    for (const c of conns.splice(0)) c.close();
    for (const d of daemons.splice(0)) await d.stop();
    result.sanlock = await sanlockShared(dir, sizes);
    console.log(`DLM on shared storage (${opts.quick ? "--quick" : "full"} run, io_timeout ${IO_TIMEOUT}, num_hosts 126, poll_ms 1000)\n`);
    console.log(render(result));
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const c of conns) c.close();
    for (const d of daemons) await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
