// The I/O of an uncontended exclusive acquire and of its release, operation by operation
// (docs/algorithms.md §4.3 "3 reads and 3 single-sector writes", docs/algorithms.md §4.6, §4.7, §4.8), counted by a
// BlockDevice wrapper, and what each write leaves on disk.
import t from "tap";
import {
  DBLOCK_FL_RELEASED,
  MemoryDevice,
  PaxosLease,
  SeededRandom,
  VirtualClock,
  decodeDblockSector,
  geometryFor,
  readLeaderFields,
  writeLeader,
  type BlockDevice,
  type Dblock,
  type LeaderRecord,
  type PaxosHost,
} from "../src/index.js";
import { drive, placeResource } from "./delta-harness.js";

const MiB = 1048576;
const AREA = MiB;
const SECTOR = 512;
const G512 = geometryFor(SECTOR, MiB);
const START = 1000;

interface Op {
  op: "read" | "write";
  offset: number;
  length: number;
  data?: Uint8Array;
}

/** Logs every read and write (the copy of written bytes is kept). */
class CountingDevice implements BlockDevice {
  readonly ops: Op[] = [];
  constructor(readonly inner: MemoryDevice) {}
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.ops.push({ op: "read", offset, length });
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.ops.push({ op: "write", offset, length: data.length, data: data.slice() });
    return this.inner.write(offset, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** The log without the written bytes, then cleared. */
  take(): Op[] {
    const out = this.ops.map(({ op, offset, length }) => ({ op, offset, length }));
    this.ops.length = 0;
    return out;
  }
}

function setup(numHosts?: number): { mem: MemoryDevice; dev: CountingDevice } {
  const mem = new MemoryDevice({ sectorSize: SECTOR, size: 3 * MiB });
  placeResource(mem, AREA, "R");
  if (numHosts !== undefined) writeLeader(mem.contents, AREA, { ...readLeaderFields(mem.contents, AREA), numHosts });
  return { mem, dev: new CountingDevice(mem) };
}

function host(clock: VirtualClock): PaxosHost {
  return {
    lockspace: "LS",
    hostId: 1,
    generation: 3n,
    ioTimeout: 1,
    clock,
    random: new SeededRandom(1),
    liveness: { snapshot: () => undefined, isSharedHolderAlive: () => true },
    readDeltaRecord: async () => {
      throw new Error("no owner check on a free lease");
    },
  };
}

const OUR_SLOT = AREA + 2 * SECTOR; // host_id 1: sector 2

const read = (offset: number, length: number): Op => ({ op: "read", offset, length });
const write = (offset: number, length = SECTOR): Op => ({ op: "write", offset, length });

function fields(d: Dblock): Omit<Dblock, "checksum"> {
  const { checksum: _checksum, ...rest } = d;
  return rest;
}

const dblockIn = (bytes: Uint8Array, offset = 0): Dblock => decodeDblockSector(bytes, offset).dblock;
const leaderIn = (bytes: Uint8Array, offset = 0): LeaderRecord => readLeaderFields(bytes, offset);

/** The exact acquire sequence for a ballot read of `ballotRead` bytes (docs/algorithms.md §4.3, §4.6, §4.7). */
function acquireSequence(ballotRead: number): Op[] {
  return [
    read(AREA, MiB), // docs/algorithms.md §4.3 step 1: the whole lease area
    write(OUR_SLOT), // docs/algorithms.md §4.6 step 1: phase-1 dblock
    read(AREA, ballotRead), // step 2: sectors 0..P-1
    write(OUR_SLOT), // step 4: phase-2 dblock
    read(AREA, ballotRead), // step 5: sectors 0..P-1 again
    write(AREA), // docs/algorithms.md §4.7: the leader
  ];
}

t.test("an uncontended exclusive acquire of a free lease: 3 reads and 3 single-sector writes, in order", async (t) => {
  const { mem, dev } = setup();
  const clock = new VirtualClock(START);
  const lease = new PaxosLease(host(clock), { resource: "R", device: dev, offset: AREA, geometry: G512 });
  await drive(clock, lease.acquire());
  const writes = dev.ops.filter((o) => o.op === "write").map((o) => o.data!);
  t.same(dev.take(), acquireSequence(MiB), "P = 2048 sectors for num_hosts 2000: every read is 1 MiB");
  t.equal(writes.length, 3, "three writes");
  t.same(fields(dblockIn(writes[0]!)), { mbal: 1n, bal: 0n, inp: 0, inp2: 0n, inp3: 0n, lver: 1n, flags: 0 }, "phase 1: mbal and lver only");
  t.same(fields(dblockIn(writes[1]!)), { mbal: 1n, bal: 1n, inp: 1, inp2: 3n, inp3: BigInt(START), lver: 1n, flags: 0 }, "phase 2: our value at bal = mbal");
  const leader = leaderIn(writes[2]!);
  t.same([leader.lver, leader.ownerId, leader.ownerGeneration, leader.timestamp], [1n, 1, 3n, BigInt(START)], "leader: lver 1 owned by (1, 3)");
  t.same([leader.writeId, leader.writeGeneration, leader.writeTimestamp], [1n, 3n, BigInt(START)], "written by us");
  t.same(leaderIn(mem.contents, AREA), leader, "the leader on disk is the one written");
  t.equal(lease.mode, "exclusive", "held");
});

t.test("with num_hosts 6 the ballot reads cover sectors 0..7 only", async (t) => {
  const { dev } = setup(6);
  const clock = new VirtualClock(START);
  const lease = new PaxosLease(host(clock), { resource: "R", device: dev, offset: AREA, geometry: G512 });
  await drive(clock, lease.acquire());
  t.same(dev.take(), acquireSequence(8 * SECTOR), "P = 8 (num_hosts + 2 rounded up to a power of two)");
});

t.test("without a geometry hint one detection read comes first", async (t) => {
  const { dev } = setup();
  const clock = new VirtualClock(START);
  const lease = new PaxosLease(host(clock), { resource: "R", device: dev, offset: AREA });
  await drive(clock, lease.acquire());
  t.same(dev.take(), [read(AREA, 4096), ...acquireSequence(MiB)], "4096-byte detection read, then the same 3 reads and 3 writes");
});

t.test("release: RELEASED dblock, leader read, leader write with timestamp 0 (§4.8)", async (t) => {
  const { mem, dev } = setup();
  const clock = new VirtualClock(START);
  const lease = new PaxosLease(host(clock), { resource: "R", device: dev, offset: AREA, geometry: G512 });
  await drive(clock, lease.acquire());
  dev.take();
  const decided = dblockIn(mem.contents, OUR_SLOT);
  const held = leaderIn(mem.contents, AREA);
  clock.advance(5);
  await drive(clock, lease.release());
  const writes = dev.ops.filter((o) => o.op === "write").map((o) => o.data!);
  t.same(dev.take(), [write(OUR_SLOT), read(AREA, SECTOR), write(AREA)], "1 read and 2 writes");
  t.same(fields(dblockIn(writes[0]!)), { ...fields(decided), flags: DBLOCK_FL_RELEASED }, "our final dblock unchanged, plus RELEASED");
  const released = leaderIn(writes[1]!);
  t.same(released, leaderIn(mem.contents, AREA), "the leader on disk is the one written");
  t.equal(released.timestamp, 0n, "leader free: timestamp 0");
  t.same([released.lver, released.ownerId, released.ownerGeneration], [held.lver, held.ownerId, held.ownerGeneration], "lver and owner stay");
  t.same([released.writeId, released.writeGeneration, released.writeTimestamp], [1n, 3n, BigInt(START + 5)], "written by us now");
  const onDisk = dblockIn(mem.contents, OUR_SLOT);
  t.ok(onDisk.flags & DBLOCK_FL_RELEASED, "our dblock on disk carries RELEASED");
  t.same(fields(onDisk), { ...fields(decided), flags: DBLOCK_FL_RELEASED }, "with the decided values");
  t.equal(lease.mode, undefined, "not held");

  // The next acquire: the lease is free again, so again 3 reads and 3 writes (ballot 2001, lver 2).
  await drive(clock, lease.acquire());
  t.same(dev.take(), acquireSequence(MiB), "reacquire of the released lease");
  const again = dblockIn(mem.contents, OUR_SLOT);
  t.same([again.mbal, again.lver, again.flags], [2001n, 2n, 0], "max_mbal 1 → ballot 2001 for lver 2");
});

t.test("release of a leader another host wrote for us: only the RELEASED dblock, the leader is not written (§4.8 step 4.2)", async (t) => {
  const { mem, dev } = setup();
  const clock = new VirtualClock(START);
  const lease = new PaxosLease(host(clock), { resource: "R", device: dev, offset: AREA, geometry: G512 });
  await drive(clock, lease.acquire());
  // Host 2 finished the same ballot and wrote the same owner again after us.
  writeLeader(mem.contents, AREA, { ...leaderIn(mem.contents, AREA), writeId: 2n, writeGeneration: 1n });
  const before = mem.contents.slice(AREA, AREA + SECTOR);
  dev.take();
  await drive(clock, lease.release());
  t.same(dev.take(), [write(OUR_SLOT), read(AREA, SECTOR)], "1 read and 1 write");
  t.same(mem.contents.slice(AREA, AREA + SECTOR), before, "leader untouched");
  t.ok(dblockIn(mem.contents, OUR_SLOT).flags & DBLOCK_FL_RELEASED, "the RELEASED dblock is the release signal");
});
