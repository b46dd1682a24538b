#!/usr/bin/env node
// Where 8 parallel clients lose throughput against the disk floor: the same exclusive
// acquire+release workload measured at three depths on one scratch file, in interleaved rounds.
//   python  bench/io_floor.py: the cycle's nine I/Os from 8 threads, O_DIRECT|O_SYNC (the floor
//           `pnpm bench` divides by);
//   device  the same nine I/Os from 8 async chains through the daemon's own device layer
//           (DirectDevice: aligned buffers, libuv's thread pool at the daemon's 128 threads);
//   core    PaxosLease acquire+release (the core's algorithm: the same I/Os, plus parsing the
//           1 MiB reads and building the records) from 8 chains on DirectDevice, in one process;
// `node bench/run.mjs --steps parallel` then adds the socket protocol, the daemon's dispatch and
// 8 python client processes. Each depth reports cycles/s and the share of both CPUs busy
// (/proc/stat) while it ran, so a shortfall reads as "the disk", "node's I/O path", "the
// algorithm's CPU" or "the clients and the protocol".
//
//   pnpm build && node bench/parallel-floor.mjs [--seconds 5] [--rounds 3] [--dir DIR]
//
// The scratch file goes in DIR (default /var/tmp: O_DIRECT needs a real file system) and is
// removed at the end.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { numberOption, stringOption } from "./lib/argv.mjs";

const MIB = 1048576;
const SECTOR = 512;
const CHAINS = 8;
const LOCKSPACE = "PFLOOR";
const HERE = fileURLToPath(import.meta.url);

// libuv reads UV_THREADPOOL_SIZE once, and node queues pool work while it loads ES modules, so
// the daemon's pool size (and its node flags) need a fresh process: start one, as the daemon does.
if (process.env.PARALLEL_FLOOR_CHILD !== "1") {
  const { DAEMON_STARTUP } = await import("../packages/daemon/dist/process-memory.js");
  const { DAEMON_THREADPOOL_SIZE } = await import("../packages/daemon/dist/device/threadpool.js");
  const env = { ...process.env, ...DAEMON_STARTUP.env, UV_THREADPOOL_SIZE: String(DAEMON_THREADPOOL_SIZE), PARALLEL_FLOOR_CHILD: "1" };
  const run = spawnSync(process.execPath, [...DAEMON_STARTUP.nodeFlags, HERE, ...process.argv.slice(2)], { env, stdio: "inherit" });
  process.exit(run.status ?? 1);
}

const core = await import("../packages/core/dist/index.js");
const { openDirectDevice, SHARED_DEVICE_MAX_IN_FLIGHT } = await import("../packages/daemon/dist/device/direct-device.js");
const { applyDaemonMemorySettings } = await import("../packages/daemon/dist/process-memory.js");
const { DAEMON_CLOCK, DAEMON_RANDOM } = await import("../packages/daemon/dist/daemon-clock.js");
const { measureIoFloor } = await import("./lib/io-floor.mjs");
const { median, p99 } = await import("./lib/stats.mjs");

/** user+nice+system+irq+softirq and all ticks of /proc/stat's cpu line. */
function cpuTicks() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  return { busy: user + nice + system + irq + softirq, all: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Runs `body`; adds the share of all CPUs busy meanwhile and this process's CPU ms to its result. */
async function withCpu(body) {
  const before = cpuTicks();
  const own = process.cpuUsage();
  const result = await body();
  const after = cpuTicks();
  const used = process.cpuUsage(own);
  return { ...result, busy: (after.busy - before.busy) / (after.all - before.all), ownCpuMs: (used.user + used.system) / 1000 };
}

/**
 * `chainCount` loops of `cycle(i)` for `seconds`: cycles per second over all of them, and the
 * median and p99 cycle time in ms.
 */
async function chains(chainCount, seconds, cycle) {
  const start = performance.now();
  const end = start + seconds * 1000;
  const times = [];
  await Promise.all(
    Array.from({ length: chainCount }, async (_, i) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await cycle(i);
        times.push(performance.now() - t0);
      }
    }),
  );
  return {
    cycles: times.length,
    cyclesPerSecond: times.length / ((performance.now() - start) / 1000),
    medianMs: median(times),
    p99Ms: p99(times),
  };
}

/**
 * The nine I/Os of io_floor.py's cycle on scratch area `i`, after the lease areas (it writes
 * zeros over the leader); 1 MiB reads parsed in place, as the core does.
 */
function deviceCycle(device, write) {
  return async (i) => {
    const base = (CHAINS + 1 + i) * MIB;
    for (let step = 0; step < 3; step++) {
      await device.readWith(base, MIB, (bytes) => bytes[0]);
      await device.write(base + 2 * SECTOR, write);
    }
    await device.write(base + 2 * SECTOR, write);
    await device.read(base, SECTOR);
    await device.write(base, write);
  };
}

/** A joined lockspace at offset 0 and one free resource per chain after it; the core's host view. */
async function coreSetup(device) {
  const geometry = core.geometryFor(SECTOR, MIB);
  await core.initLockspaceArea(device, { offset: 0, spaceName: LOCKSPACE, geometry, ioTimeout: 1 });
  for (let i = 0; i < CHAINS; i++) {
    await core.initResourceArea(device, { offset: (i + 1) * MIB, spaceName: LOCKSPACE, resourceName: `R${i}`, geometry });
  }
  const clock = DAEMON_CLOCK;
  const delta = new core.DeltaLease({ lockspace: LOCKSPACE, hostId: 1, hostName: "parallel-floor", ioTimeout: 1, device, offset: 0, clock });
  const joined = await delta.acquire(); // waits 2 × io_timeout (§2.2), once
  const host = {
    lockspace: LOCKSPACE,
    hostId: 1,
    generation: joined.generation,
    ioTimeout: 1,
    clock,
    random: DAEMON_RANDOM,
    liveness: delta.status,
    readDeltaRecord: (id) => delta.readHostRecord(id),
  };
  return { host, geometry };
}

function coreCycle(device, env) {
  return async (i) => {
    // A new PaxosLease per acquire with the area's geometry, as the daemon does.
    const lease = new core.PaxosLease(env.host, { resource: `R${i}`, device, offset: (i + 1) * MIB, geometry: env.geometry });
    await lease.acquire();
    await lease.release();
  };
}

/** io_floor.py sized to about `seconds` per part: its single-thread cycles and its 8 threads. */
function pythonFloor(dir, seconds, deviceRate) {
  // io_floor.py runs a fixed number of cycles per thread (the single-thread part as many).
  const perThread = Math.max(20, Math.round((deviceRate * seconds) / CHAINS));
  const before = cpuTicks();
  const floor = measureIoFloor(dir, perThread);
  const after = cpuTicks();
  return {
    one: { medianMs: floor.cycleMsMedian, p99Ms: p99(floor.cycleMs) },
    many: { cyclesPerSecond: floor.cyclesPerSecond, busy: (after.busy - before.busy) / (after.all - before.all) },
  };
}

function fmt(depth, r) {
  const one = `1 chain: median ${r.one.medianMs.toFixed(2)} ms, p99 ${r.one.p99Ms.toFixed(2)} ms`;
  const many = `${CHAINS} chains: ${r.many.cyclesPerSecond.toFixed(0)} cycles/s, CPUs busy ${(r.many.busy * 100).toFixed(0)}%`;
  const own = r.many.perCycleUs === undefined ? "" : `, this process ${r.many.perCycleUs.toFixed(0)} µs CPU/cycle`;
  return `${depth.padEnd(6)} ${one}; ${many}${own}`;
}

async function main() {
  const seconds = numberOption("--seconds", 5);
  const rounds = numberOption("--rounds", 3);
  if (!(seconds > 0 && seconds <= 120) || !(Number.isInteger(rounds) && rounds > 0 && rounds <= 20)) throw new RangeError("--seconds 0..120, --rounds 1..20");
  applyDaemonMemorySettings();
  const dir = mkdtempSync(join(stringOption("--dir", "/var/tmp"), "parallel-floor-"));
  const path = join(dir, "areas.lease");
  try {
    // Real zeros, not a sparse file: a hole costs no disk I/O (as io_floor.py's fill).
    const dd = spawnSync("dd", ["if=/dev/zero", `of=${path}`, "bs=1M", `count=${2 * CHAINS + 1}`, "oflag=direct", "status=none"], { encoding: "utf8" });
    if (dd.status !== 0) throw new Error(`dd failed: ${dd.stderr}`);
    const device = await openDirectDevice(path, { maxInFlight: SHARED_DEVICE_MAX_IN_FLIGHT, ioTimeoutMs: 10_000 });
    const write = new Uint8Array(SECTOR);
    const env = await coreSetup(device);
    const cycles = { device: deviceCycle(device, write), core: coreCycle(device, env) };
    const measure = async (depth) => {
      const one = await chains(1, seconds, cycles[depth]);
      const many = await withCpu(() => chains(CHAINS, seconds, cycles[depth]));
      many.perCycleUs = (many.ownCpuMs * 1000) / many.cycles;
      return { one, many };
    };
    const rows = { python: [], device: [], core: [] };
    await chains(CHAINS, 1, cycles.core); // warm the JIT and the buffer pool
    for (let round = 0; round < rounds; round++) {
      // Alternate the order: the disk's speed drifts within a run.
      const order = round % 2 === 0 ? ["device", "core", "python"] : ["python", "core", "device"];
      for (const depth of order) {
        const r = depth === "python" ? pythonFloor(dir, seconds, rows.device.at(-1)?.many.cyclesPerSecond ?? 500) : await measure(depth);
        rows[depth].push(r);
        console.log(`round ${round + 1} ${fmt(depth, r)}`);
      }
    }
    await device.close();
    console.log(`\nmedians of ${rounds} rounds (node ${process.version}; ${seconds} s per part):`);
    const floorMs = median(rows.python.map((r) => r.one.medianMs));
    const floorRate = median(rows.python.map((r) => r.many.cyclesPerSecond));
    for (const depth of ["python", "device", "core"]) {
      const pick = (part, field) => median(rows[depth].map((r) => r[part][field]));
      const oneMs = pick("one", "medianMs");
      const rate = pick("many", "cyclesPerSecond");
      console.log(
        `${depth.padEnd(6)} 1 chain ${oneMs.toFixed(2)} ms (${(oneMs / floorMs).toFixed(2)} × python's), p99 ${pick("one", "p99Ms").toFixed(2)} ms; ` +
          `${CHAINS} chains ${rate.toFixed(0)} cycles/s (${(rate / floorRate).toFixed(2)} of python's), CPUs busy ${(pick("many", "busy") * 100).toFixed(0)}%`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
