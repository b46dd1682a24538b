#!/usr/bin/env node
// CPU cost of the core lease algorithms alone (no daemon, no real disk): exclusive
// acquire+release cycles and delta-lease renewals on a MemoryDevice with 512-byte sectors,
// 1 MiB areas and 2,000 host slots, timed with the daemon's own clock (real timers).
// Prints CPU microseconds per operation (process.cpuUsage: user + system).
//
//   pnpm build && node bench/core-cpu.mjs [--cycles N] [--renewals N] [--live K] [--core DIST_DIR]
//
// --core runs another build of the core (e.g. an older commit's packages/core/dist) with the
// same workload, for before/after figures.
import { pathToFileURL } from "node:url";
import { DAEMON_CLOCK, DAEMON_RANDOM } from "../packages/daemon/dist/daemon-clock.js";
import { numberOption, stringOption } from "./lib/argv.mjs";

const coreDir = stringOption("--core", undefined);
const core = await import(coreDir ? pathToFileURL(`${coreDir}/index.js`).href : "../packages/core/dist/index.js");
const { DeltaLease, MemoryDevice, PaxosLease, geometryFor, initLockspaceArea, initResourceArea } = core;

const MIB = 1048576;
const LOCKSPACE = "LS";
const RESOURCE = "R1";
/** Timestamp field of a delta record (ondisk.md §4): poked to play other hosts renewing. */
const TIMESTAMP_FIELD = 152;

/**
 * The daemon's clock with the join's long waits cut to zero (they are sleeps, not CPU);
 * every other sleep and timeout runs on the daemon clock's real timers.
 */
function benchClock() {
  const clock = {
    skipSleeps: false,
    now: () => DAEMON_CLOCK.now(),
    sleep: (seconds, signal) => DAEMON_CLOCK.sleep(clock.skipSleeps ? 0 : seconds, signal),
  };
  if (typeof DAEMON_CLOCK.startTimer === "function") clock.startTimer = (seconds, expired) => DAEMON_CLOCK.startTimer(seconds, expired);
  return clock;
}

function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function perOperation(count, op) {
  const start = cpuMicros();
  for (let i = 0; i < count; i++) await op(i);
  return (cpuMicros() - start) / count;
}

async function setup() {
  const geometry = geometryFor(512, MIB);
  const device = new MemoryDevice({ sectorSize: 512, size: 4 * MIB });
  await initLockspaceArea(device, { offset: 0, spaceName: LOCKSPACE, geometry, ioTimeout: 1 });
  await initResourceArea(device, { offset: MIB, spaceName: LOCKSPACE, resourceName: RESOURCE, geometry });
  const clock = benchClock();
  const delta = new DeltaLease({ lockspace: LOCKSPACE, hostId: 1, hostName: "bench-host-1", ioTimeout: 1, device, offset: 0, clock });
  clock.skipSleeps = true;
  const joined = await delta.acquire();
  clock.skipSleeps = false;
  return { geometry, device, clock, delta, generation: joined.generation };
}

/** Other hosts' records as joined hosts (owner, generation, timestamp), written raw. */
function placeLiveHosts(device, live) {
  const view = new DataView(device.contents.buffer);
  for (let h = 2; h <= live + 1; h++) {
    const at = (h - 1) * 512;
    view.setBigUint64(at + 32, BigInt(h), true); // owner_id
    view.setBigUint64(at + 40, 1n, true); // owner_generation
    view.setBigUint64(at + TIMESTAMP_FIELD, 100n, true);
  }
}

/** Play `live` other hosts renewing: bump their timestamps (the watcher sees them changed). */
function otherHostsRenew(device, live, round) {
  const view = new DataView(device.contents.buffer);
  for (let h = 2; h <= live + 1; h++) view.setBigUint64((h - 1) * 512 + TIMESTAMP_FIELD, BigInt(101 + round), true);
}

async function main() {
  const cycles = numberOption("--cycles", 2000);
  const renewals = numberOption("--renewals", 2000);
  const live = numberOption("--live", 50);
  const env = await setup();
  placeLiveHosts(env.device, live);
  const host = {
    lockspace: LOCKSPACE,
    hostId: 1,
    generation: env.generation,
    ioTimeout: 1,
    clock: env.clock,
    random: DAEMON_RANDOM,
    liveness: env.delta.status,
    readDeltaRecord: (id) => env.delta.readHostRecord(id),
  };
  const location = { resource: RESOURCE, device: env.device, offset: MIB };
  const hinted = { ...location, geometry: env.geometry };
  // A new PaxosLease per acquire, as the daemon does.
  const cycle = async (where) => {
    const lease = new PaxosLease(host, where);
    await lease.acquire();
    await lease.release();
  };
  const renew = async (i) => {
    otherHostsRenew(env.device, live, i);
    await env.delta.renew();
  };
  const warmup = Math.max(50, Math.floor(cycles / 10));
  await perOperation(warmup, () => cycle(location));
  await perOperation(warmup, () => cycle(hinted));
  await perOperation(warmup, renew);
  const reads0 = env.device.readCount;
  const exclusive = await perOperation(cycles, () => cycle(location));
  const readsPerCycle = (env.device.readCount - reads0) / cycles;
  const reads1 = env.device.readCount;
  const exclusiveHinted = await perOperation(cycles, () => cycle(hinted));
  const readsPerHintedCycle = (env.device.readCount - reads1) / cycles;
  const renewal = await perOperation(renewals, (i) => renew(warmup + i));
  console.log(`node ${process.version}; MemoryDevice 512-byte sectors, 1 MiB areas, 2000 hosts, ${live} other hosts renewing`);
  console.log(
    `exclusive acquire+release, no geometry hint: ${exclusive.toFixed(0).padStart(6)} µs CPU/cycle  (${readsPerCycle} reads/cycle, ${cycles} cycles)`,
  );
  console.log(`exclusive acquire+release, geometry hint:    ${exclusiveHinted.toFixed(0).padStart(6)} µs CPU/cycle  (${readsPerHintedCycle} reads/cycle)`);
  console.log(`delta renewal:                               ${renewal.toFixed(0).padStart(6)} µs CPU/renewal (${renewals} renewals)`);
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exitCode = 1;
});
