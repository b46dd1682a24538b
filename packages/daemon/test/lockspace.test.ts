/**
 * One lockspace instance (lockspaces/lockspace.ts) with io_timeout 1. The renewal worker's code
 * run in process (in-process-renewal.ts) on an in-memory disk shared by several instances: join
 * timing, renewals, recovery on a taken-over record, the delta release on leave, isolation of
 * a stalled device. In the worker thread on a real file: renewals continue while the main event
 * loop is blocked.
 */
import t from "tap";
import { MemoryDevice, decodeDeltaSector, freeDeltaLeader, geometryFor, initLockspaceArea, writeDeltaSector, type BlockDevice } from "@sanlock-ts/core";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lockspace, type LockspaceHooksIn, type LockspaceSpec } from "../src/lockspaces/lockspace.js";
import { openDirectDevice } from "../src/device/index.js";
import { DAEMON_CLOCK } from "../src/daemon-clock.js";
import { sleep } from "../../../test/support/index.js";

const MB = 1048576;
const GEOMETRY = geometryFor(512, MB);

/** A view of a shared disk with its own close() (a lockspace closes its device when it leaves) and a stall switch. */
class DiskView implements BlockDevice {
  stalled = false;
  constructor(private readonly disk: MemoryDevice) {}
  get sectorSize(): number {
    return this.disk.sectorSize;
  }
  size(): Promise<number> {
    return this.disk.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.stalled ? new Promise<Uint8Array>(() => {}) : this.disk.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.stalled ? new Promise<void>(() => {}) : this.disk.write(offset, data);
  }
  async close(): Promise<void> {}
}

async function formattedDisk(name: string, areas = 1): Promise<MemoryDevice> {
  const disk = new MemoryDevice({ size: areas * MB });
  for (let i = 0; i < areas; i++) await initLockspaceArea(disk, { offset: i * MB, spaceName: `${name}${i}`, geometry: GEOMETRY, ioTimeout: 1 });
  return disk;
}

interface Probe {
  hooks: LockspaceHooksIn;
  recoveries: string[];
  view: DiskView;
}

function probe(disk: MemoryDevice, hostName = "host-a"): Probe {
  const view = new DiskView(disk);
  const recoveries: string[] = [];
  return {
    view,
    recoveries,
    hooks: {
      hostName,
      onRecovery: (_ls, reason) => recoveries.push(reason),
      onNotifications: () => {},
      log: () => {},
      openDevice: async () => view,
    },
  };
}

function spec(name: string, hostId: number, offset = 0n): LockspaceSpec {
  return { name, hostId, path: "/memory", offset, ioTimeout: 1 };
}

async function readRecord(disk: MemoryDevice, hostId: number, offset = 0) {
  const bytes = await disk.read(offset + (hostId - 1) * 512, 512);
  return decodeDeltaSector(bytes, 0, {}).leader;
}

t.test("join on a free host_id takes 2·io_timeout, then renewals keep the timestamp moving", async (t) => {
  const disk = await formattedDisk("LS");
  const p = probe(disk);
  const ls = new Lockspace(spec("LS0", 1), 1, p.hooks);
  t.teardown(() => ls.leave());
  const started = Date.now();
  t.equal(await ls.join(), 0, "joined");
  t.ok(Date.now() - started >= 1900, "the join waited 2·N before its re-read (§2.2 step 7)");
  t.equal(ls.state, "live");
  t.equal(ls.generation, 1n, "first generation on a fresh area");
  const first = (await readRecord(disk, 1)).timestamp;
  t.not(first, 0n, "our record carries a timestamp");
  await sleep(3200);
  const later = await readRecord(disk, 1);
  t.ok(later.timestamp > first, "a renewal wrote a newer timestamp");
  t.equal(later.resourceName, "host-a", "the record carries our host name");
  t.equal(BigInt(ls.renewal.lastSuccess), later.timestamp, "last_success published = the timestamp written");
  t.same(p.recoveries, [], "no recovery");
});

t.test("a record with a larger io_timeout: the join waits 2·No and renews once before it reports, so last_success is fresh", async (t) => {
  const disk = new MemoryDevice({ size: MB });
  // The record's io_timeout 3 paces the join (docs/algorithms.md §2.2 step 7: 2 × 3 s), more than our 2N = 2 s.
  await initLockspaceArea(disk, { offset: 0, spaceName: "SLOW0", geometry: GEOMETRY, ioTimeout: 3 });
  const p = probe(disk);
  const ls = new Lockspace(spec("SLOW0", 1), 1, p.hooks);
  t.teardown(() => ls.leave());
  const started = Date.now();
  t.equal(await ls.join(), 0, "joined");
  t.ok(Date.now() - started >= 5900, "the join waited 2 × the record's io_timeout");
  const age = DAEMON_CLOCK.now() - ls.renewal.lastSuccess;
  t.ok(age < 2, `last_success is a renewal made at the end of the join (age ${age.toFixed(1)} s), not the join's write 6 s earlier`);
  t.equal((await readRecord(disk, 1)).timestamp, BigInt(ls.renewal.lastSuccess), "the timestamp on disk is that renewal's");
  await sleep(1500);
  t.equal(ls.state, "live", "still live after the first gap check");
  t.same(p.recoveries, [], "no recovery");
});

t.test("join failures: not a lockspace, wrong name, host_id beyond the area", async (t) => {
  const blank = new MemoryDevice({ size: MB });
  const a = new Lockspace(spec("LS", 1), 1, probe(blank).hooks);
  t.equal(await a.join(), -223, "no delta lease there → SANLK_LEADER_MAGIC");
  t.equal(a.state, "removed");

  const disk = await formattedDisk("LS");
  const b = new Lockspace(spec("OTHER", 1), 2, probe(disk).hooks);
  t.equal(await b.join(), -226, "different lockspace name on disk → SANLK_LEADER_LOCKSPACE");

  const small = new MemoryDevice({ size: MB });
  await initLockspaceArea(small, { offset: 0, spaceName: "SMALL", geometry: geometryFor(4096, MB), ioTimeout: 1 });
  const c = new Lockspace(spec("SMALL", 251), 3, probe(small).hooks);
  t.equal(await c.join(), -231, "host_id 251 > max_hosts 250 of a 4K/1M area → SANLK_ADDLS_INVALID_HOSTID");
});

t.test("a record taken over by another writer starts recovery once; leave then writes nothing", async (t) => {
  const disk = await formattedDisk("LS");
  const p = probe(disk);
  const ls = new Lockspace(spec("LS0", 1), 1, p.hooks);
  t.equal(await ls.join(), 0);
  // Someone else claims host_id 1 (as a joining host with the same id would).
  const stolen = { ...freeDeltaLeader("LS0", GEOMETRY, 1), ownerId: 1, ownerGeneration: 7n, timestamp: 12345n, resourceName: "intruder" };
  await writeDeltaSector(disk, { offset: 0, hostId: 1, geometry: GEOMETRY }, stolen);
  await sleep(3500);
  t.equal(ls.state, "recovery", "the renewal saw the takeover (§2.4 corrupt result)");
  t.equal(p.recoveries.length, 1, "onRecovery called exactly once");
  t.notOk(ls.isUsable(1, ls.generation), "no lease may be linked in recovery (§7.11 rule 3)");
  await ls.leave();
  const after = await readRecord(disk, 1);
  t.equal(after.resourceName, "intruder", "the intruder's record is left alone: the last attempt failed (§7.11 rule 6)");
  t.equal(after.timestamp, 12345n);
});

t.test("leave after a successful renewal writes the delta release (timestamp 0)", async (t) => {
  const disk = await formattedDisk("LS");
  const ls = new Lockspace(spec("LS0", 2), 1, probe(disk).hooks);
  t.equal(await ls.join(), 0);
  t.not((await readRecord(disk, 2)).timestamp, 0n);
  await ls.leave();
  const after = await readRecord(disk, 2);
  t.equal(after.timestamp, 0n, "released");
  t.equal(after.ownerGeneration, 1n, "generation kept for the next join");
  t.equal(ls.state, "removed");
});

t.test("a stalled device under one lockspace does not delay another's renewals", async (t) => {
  const disk = await formattedDisk("LS", 2);
  const pa = probe(disk, "host-a");
  const pb = probe(disk, "host-b");
  const a = new Lockspace(spec("LS0", 1), 1, pa.hooks);
  const b = new Lockspace(spec("LS1", 1, BigInt(MB)), 2, pb.hooks);
  t.teardown(async () => {
    pa.view.stalled = false;
    await Promise.all([a.leave(), b.leave()]);
  });
  t.same(await Promise.all([a.join(), b.join()]), [0, 0]);
  pa.view.stalled = true;
  const bBefore = b.renewal.lastSuccess;
  const aBefore = a.renewal.lastSuccess;
  await sleep(4500);
  t.ok(b.renewal.lastSuccess >= bBefore + 2, "lockspace B renewed while A's disk hangs");
  t.equal(a.renewal.lastSuccess, aBefore, "lockspace A could not renew");
  t.ok(a.renewal.lastResult < 0, "A's failed attempt is recorded");
  t.equal(b.state, "live");
});

t.test("in the worker thread: renewals go on while the main event loop is blocked", async (t) => {
  const dir = mkdtempSync(join(process.env["SANLOCK_TS_TEST_DIR"] ?? "/var/tmp", "slts-lsw-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "ls");
  writeFileSync(path, new Uint8Array(MB));
  const device = await openDirectDevice(path);
  await initLockspaceArea(device, { offset: 0, spaceName: "WLS", geometry: GEOMETRY, ioTimeout: 1 });
  await device.close();
  const recoveries: string[] = [];
  const ls = new Lockspace({ name: "WLS", hostId: 3, path, offset: 0n, ioTimeout: 1 }, 9, {
    hostName: "worker-host",
    onRecovery: (_ls, reason) => recoveries.push(reason),
    onNotifications: () => {},
    log: () => {},
  });
  t.teardown(() => ls.leave());
  t.equal(await ls.join(), 0, "joined through the worker");
  t.equal(ls.generation, 1n);
  const before = ls.renewal.lastSuccess;
  // Block this thread: no timer or I/O callback of the main loop can run meanwhile.
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    /* busy */
  }
  t.ok(ls.renewal.lastSuccess >= before + 2, `the worker renewed during the block (${before} → ${ls.renewal.lastSuccess})`);
  await sleep(2500);
  t.ok((ls.hostStatus?.snapshot(3)?.timestamp ?? 0n) > 0n, "the main thread's host table follows the worker's reads");
  t.same(recoveries, [], "no recovery");
  await ls.leave();
  const dev2 = await openDirectDevice(path);
  const record = decodeDeltaSector(await dev2.read(2 * 512, 512), 0, {}).leader;
  await dev2.close();
  t.equal(record.timestamp, 0n, "the worker wrote the delta release on leave");
  t.equal(record.resourceName, "worker-host");
});
