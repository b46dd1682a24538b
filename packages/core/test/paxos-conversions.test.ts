// Conversions and shared marks under failing I/O (docs/algorithms.md §5.4, §5.5, §8.4 items 2 and 13):
// a failed ex→sh conversion never drops the mark nor frees the leader behind the holder's back,
// a failed sh→ex conversion keeps the shared lease, a value committed by another host keeps our
// dblock, a stale write of our own sector cannot land on top of a mark, and a shared holder the
// watcher wrongly thinks dead keeps its mark.
import t from "tap";
import {
  DBLOCK_FL_RELEASED,
  LeaseError,
  MBLOCK_SHARED,
  MemoryDevice,
  PaxosLease,
  SeededRandom,
  VirtualClock,
  decodeDblockSector,
  encodeDblockSector,
  encodeLeader,
  readLeaderFields,
  type BlockDevice,
  type DeltaRecordView,
  type HostLiveness,
  type HostStatusEntry,
  type PaxosHost,
} from "../src/index.js";
import { drive, placeResource } from "./delta-harness.js";

const MiB = 1048576;
const SECTOR = 512;
const IO_TIMEOUT = 2;

type WriteFate = "ok" | "eio" | { landAfter: number } | "never";

/** MemoryDevice whose writes can fail, stall for a while and then land, or never complete. */
class FaultyDevice implements BlockDevice {
  /** Decides the fate of each write; default: all succeed. */
  fate: (offset: number) => WriteFate = () => "ok";
  /** Runs after each successful write reached the memory (to inject other hosts' writes). */
  afterWrite: (offset: number) => void = () => undefined;
  writes: number[] = [];
  constructor(
    readonly mem: MemoryDevice,
    private readonly clock: VirtualClock,
  ) {}
  get sectorSize(): number {
    return this.mem.sectorSize;
  }
  size(): Promise<number> {
    return this.mem.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.mem.read(offset, length);
  }
  close(): Promise<void> {
    return this.mem.close();
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.writes.push(offset);
    const fate = this.fate(offset);
    if (fate === "eio") throw new Error(`EIO writing at ${offset}`);
    if (fate === "never") return new Promise(() => undefined);
    const copy = data.slice();
    if (fate !== "ok") await this.clock.sleep(fate.landAfter);
    await this.mem.write(offset, copy);
    this.afterWrite(offset);
  }
}

const alwaysAlive: HostLiveness = { snapshot: () => undefined, isSharedHolderAlive: () => true };

function host(
  clock: VirtualClock,
  hostId: number,
  liveness: HostLiveness = alwaysAlive,
  readDeltaRecord: (id: number) => Promise<DeltaRecordView> = async () => {
    throw new Error("not used");
  },
): PaxosHost {
  return { lockspace: "LS", hostId, generation: 1n, ioTimeout: IO_TIMEOUT, clock, random: new SeededRandom(hostId), liveness, readDeltaRecord };
}

function setup(): { mem: MemoryDevice; clock: VirtualClock; dev: FaultyDevice } {
  const mem = new MemoryDevice({ sectorSize: SECTOR, size: 2 * MiB });
  placeResource(mem, 0, "R");
  const clock = new VirtualClock(500);
  return { mem, clock, dev: new FaultyDevice(mem, clock) };
}

const slotOffset = (hostId: number): number => (hostId + 1) * SECTOR;
const slotOf = (mem: MemoryDevice, hostId: number) => decodeDblockSector(mem.contents, slotOffset(hostId));
const leaderOf = (mem: MemoryDevice) => readLeaderFields(mem.contents, 0);
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const isShared = (mem: MemoryDevice, hostId: number): boolean => (slotOf(mem, hostId).mode.flags & MBLOCK_SHARED) !== 0;

t.test("ex→sh: the shared mark cannot be written → still exclusive, leader untouched", async (t) => {
  const { mem, clock, dev } = setup();
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  await drive(clock, lease.acquire());
  const held = leaderOf(mem);
  dev.fate = (offset) => (offset === slotOffset(1) ? "eio" : "ok");
  const err = await drive(clock, failure(lease.convert("shared")));
  t.ok(err instanceof LeaseError && err.result === -211, `mark write failure returned (${String(err)})`);
  t.equal(lease.mode, "exclusive", "still held exclusively");
  t.same(leaderOf(mem), held, "leader still names us: nobody can take it");
  t.notOk(isShared(mem, 1), "no mark, no RELEASED dblock written");
  t.equal(slotOf(mem, 1).dblock.flags & DBLOCK_FL_RELEASED, 0);
  dev.fate = () => "ok";
  await drive(clock, lease.release());
  t.equal(leaderOf(mem).timestamp, 0n, "normal exclusive release afterwards");
  t.ok(slotOf(mem, 1).dblock.flags & DBLOCK_FL_RELEASED);
});

t.test("ex→sh: freeing the leader fails → the mark stays; release clears mark and leader", async (t) => {
  const { mem, clock, dev } = setup();
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  await drive(clock, lease.acquire());
  dev.fate = (offset) => (offset === 0 ? "eio" : "ok");
  const err = await drive(clock, failure(lease.convert("shared")));
  t.ok(err instanceof LeaseError && err.result === -221, `leader write failure returned (${String(err)})`);
  t.ok(isShared(mem, 1), "shared mark kept: we may already be sharing it");
  t.equal(slotOf(mem, 1).mode.generation, 1n);
  t.not(leaderOf(mem).timestamp, 0n, "leader still ours (the write failed)");
  t.ok(lease.clearsAllAtRelease, "release will clear everything");
  dev.fate = () => "ok";
  await drive(clock, lease.release());
  t.notOk(isShared(mem, 1), "mark cleared at release");
  t.ok(slotOf(mem, 1).dblock.flags & DBLOCK_FL_RELEASED, "dblock released");
  t.equal(leaderOf(mem).timestamp, 0n, "leader freed at release");
  t.equal(lease.mode, undefined);
});

t.test("ex→sh: a timed-out leader release that lands meanwhile counts as done on the retry", async (t) => {
  const { mem, clock, dev } = setup();
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  await drive(clock, lease.acquire());
  let leaderWrites = 0;
  dev.fate = (offset) => (offset === 0 && ++leaderWrites === 1 ? { landAfter: IO_TIMEOUT + 0.5 } : "ok");
  await drive(clock, lease.convert("shared"));
  t.equal(lease.mode, "shared");
  t.equal(leaderWrites, 1, "the retry saw our landed release and wrote nothing more");
  t.equal(leaderOf(mem).timestamp, 0n);
  t.ok(isShared(mem, 1));
  t.notOk(lease.clearsAllAtRelease);
});

t.test("ex→sh: leader release timing out every time → error after N_own retries, mark kept", async (t) => {
  const { mem, clock, dev } = setup();
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  await drive(clock, lease.acquire());
  let leaderWrites = 0;
  dev.fate = (offset) => (offset === 0 ? (leaderWrites++, "never") : "ok");
  const err = await drive(clock, failure(lease.convert("shared")));
  t.ok(err instanceof LeaseError && err.result === -202, `timeout returned (${String(err)})`);
  t.equal(leaderWrites, 1 + IO_TIMEOUT, "first attempt plus io_timeout retries");
  t.ok(isShared(mem, 1), "mark kept");
  t.ok(lease.clearsAllAtRelease);
});

t.test("sh→ex with a live holder: freeing the leader fails → still shared, mark kept, release clears all", async (t) => {
  const { mem, clock, dev } = setup();
  const one = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  const two = new PaxosLease(host(clock, 2), { resource: "R", device: mem, offset: 0 });
  await drive(clock, one.acquire({ shared: true }));
  await drive(clock, two.acquire({ shared: true }));
  let leaderWrites = 0;
  // write 1 = commit of the conversion ballot; write 2 = freeing it after EAGAIN
  dev.fate = (offset) => (offset === 0 && ++leaderWrites === 2 ? "eio" : "ok");
  const err = await drive(clock, failure(one.convert("exclusive")));
  t.ok(err instanceof LeaseError && err.result === -11, `live holder: EAGAIN (${String(err)})`);
  t.equal(one.mode, "shared", "shared lease kept");
  t.ok(isShared(mem, 1) && isShared(mem, 2), "both marks on disk");
  t.equal(leaderOf(mem).ownerId, 1, "leader still names us (its release failed)");
  t.ok(one.clearsAllAtRelease);
  dev.fate = () => "ok";
  await drive(clock, one.release());
  t.notOk(isShared(mem, 1), "our mark cleared");
  t.ok(isShared(mem, 2), "the other holder's mark untouched");
  t.equal(leaderOf(mem).timestamp, 0n, "leader naming us freed");
  const released = slotOf(mem, 1).dblock;
  t.equal(released.lver, leaderOf(mem).lver, "our sector keeps the values of the conversion ballot");
});

t.test("a value committed by another host keeps the dblock we last wrote (not an empty one)", async (t) => {
  const { mem, clock, dev } = setup();
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  let injected = false;
  dev.afterWrite = (offset) => {
    if (injected || offset !== slotOffset(1)) return;
    injected = true;
    // Host 2 runs a larger ballot for lver 1, picks our value and commits it (writes by 2).
    const other = { mbal: 1002n, bal: 1002n, inp: 1, inp2: 1n, inp3: 480n, lver: 1n, checksum: 0, flags: 0 };
    mem.contents.set(encodeDblockSector(other, SECTOR), slotOffset(2));
    const leader = { ...leaderOf(mem), lver: 1n, ownerId: 1, ownerGeneration: 1n, timestamp: 480n, writeId: 2n, writeGeneration: 1n, writeTimestamp: 481n };
    mem.contents.set(encodeLeader(leader), 0);
  };
  await drive(clock, lease.acquire());
  t.equal(lease.mode, "exclusive", "ours: committed by host 2");
  t.equal(lease.lver, 1n);
  await drive(clock, lease.convert("shared"));
  const ours = slotOf(mem, 1);
  t.ok(ours.mode.flags & MBLOCK_SHARED, "shared mark written");
  t.equal(ours.dblock.lver, 1n, "our phase-1 values kept (lver)");
  t.equal(ours.dblock.mbal, 1n, "our phase-1 values kept (mbal)");
  t.ok(ours.dblock.flags & DBLOCK_FL_RELEASED);
});

t.test("no acquire writes a mark while an earlier write of our sector may still land", async (t) => {
  const { mem, clock, dev } = setup();
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  let stalled = false;
  dev.fate = (offset) => (offset === slotOffset(1) && !stalled ? ((stalled = true), { landAfter: 3 * IO_TIMEOUT }) : "ok");
  const first = await drive(clock, failure(lease.acquire()));
  t.ok(first instanceof LeaseError && first.result === -202, "phase-1 write timed out");
  const writesBefore = dev.writes.length;
  // The stale phase-1 write (zero mode block) lands at 3·N; an acquire now waits at most N.
  const second = await drive(clock, failure(lease.acquire({ shared: true })));
  t.ok(second instanceof LeaseError && second.result === -202 && /still in flight/.test(second.message), `refused (${String(second)})`);
  t.equal(dev.writes.length, writesBefore, "nothing written while the stale write is in flight");
  await drive(clock, lease.acquire({ shared: true }));
  t.equal(lease.mode, "shared");
  await drive(clock, clock.sleep(10 * IO_TIMEOUT));
  t.ok(isShared(mem, 1), "the mark was written after the stale write landed, so it stays");
});

function entry(hostId: number, timestamp: bigint, ownerGeneration: bigint): HostStatusEntry {
  return {
    hostId,
    firstCheck: 100,
    lastCheck: 400,
    lastLive: 100,
    lastReq: 0,
    ownerId: hostId,
    ownerGeneration,
    ownerName: "h",
    ioTimeout: IO_TIMEOUT,
    timestamp,
  };
}

t.test("a shared holder the watcher thinks dead but whose record moved keeps its mark", async (t) => {
  const { mem, clock } = setup();
  await drive(clock, new PaxosLease(host(clock, 2), { resource: "R", device: mem, offset: 0 }).acquire({ shared: true }));
  // Stale view: the watcher last saw host_id 2 free (stored timestamp 0) → host_live says dead.
  const stale: HostLiveness = { snapshot: (h) => entry(h, 0n, 0n), isSharedHolderAlive: () => false };
  const joined = async (): Promise<DeltaRecordView> => ({ ownerId: 2, ownerGeneration: 1n, timestamp: 4711n, ioTimeout: IO_TIMEOUT });
  const err = await drive(clock, failure(new PaxosLease(host(clock, 1, stale, joined), { resource: "R", device: mem, offset: 0 }).acquire()));
  t.ok(err instanceof LeaseError && err.result === -11, `holder alive per its record: EAGAIN (${String(err)})`);
  t.ok(isShared(mem, 2), "its mark is not cleared");
  t.equal(leaderOf(mem).timestamp, 0n, "our exclusive lease was released again");
  // Same record as the watcher stored, and the watcher's time has run out: dead, mark cleared.
  const unchanged: HostLiveness = { snapshot: (h) => entry(h, 4711n, 1n), isSharedHolderAlive: () => false };
  const taker = new PaxosLease(host(clock, 1, unchanged, joined), { resource: "R", device: mem, offset: 0 });
  await drive(clock, taker.acquire());
  t.equal(taker.mode, "exclusive");
  t.same(mem.contents.slice(slotOffset(2), slotOffset(2) + SECTOR), new Uint8Array(SECTOR), "dead holder's sector zeroed");
});

t.test("a shared holder whose host_id is free or newer is dead without waiting", async (t) => {
  for (const record of [
    { ownerId: 2, ownerGeneration: 1n, timestamp: 0n, ioTimeout: IO_TIMEOUT },
    { ownerId: 2, ownerGeneration: 2n, timestamp: 900n, ioTimeout: IO_TIMEOUT },
  ]) {
    const { mem, clock } = setup();
    await drive(clock, new PaxosLease(host(clock, 2), { resource: "R", device: mem, offset: 0 }).acquire({ shared: true }));
    const view: HostLiveness = { snapshot: (h) => entry(h, 800n, 1n), isSharedHolderAlive: () => false };
    const taker = new PaxosLease(
      host(clock, 1, view, async () => record),
      { resource: "R", device: mem, offset: 0 },
    );
    await drive(clock, taker.acquire());
    t.equal(taker.mode, "exclusive", `record ts ${record.timestamp} gen ${record.ownerGeneration}: holder dead`);
    t.notOk(isShared(mem, 2));
  }
});
