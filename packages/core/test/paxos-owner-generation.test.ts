// Owner generations (docs/algorithms.md §2.6, §4.3 steps 5-6 and 9, §4.4 step 2.3, §4.7, §4.8 step
// 4.5): a leader is "ours" only for our host_id AND our generation. Every place where the code
// compares generations is pinned here with a state built directly on a memory device:
//   acquire shortcut   leader (H, g) with g <= G is ours to re-run a ballot on; g > G is not;
//   leader check       a leader already at the next lver is "committed for us" only at (H, G);
//   commit             a decided value (H, g != G) is not our lease (-245);
//   release            only a leader naming (H, G) is freed;
//   owner gone         a delta record at a NEWER generation means gone, an OLDER one does not.
import t from "tap";
import {
  LeaseError,
  MemoryDevice,
  PaxosDisk,
  PaxosLease,
  SanlockResult,
  SeededRandom,
  VirtualClock,
  decideOwnerGone,
  decodeDblockSector,
  emptyDblock,
  encodeDblockSector,
  freeLeaderIfOurs,
  hostDeadSeconds,
  readLeaderFields,
  releaseLeader,
  writeLeader,
  type Dblock,
  type DeltaRecordView,
  type HostLiveness,
  type LeaderRecord,
  type OwnerVerdict,
  type PaxosHost,
} from "../src/index.js";
import { drive, placeResource } from "./delta-harness.js";

const MiB = 1048576;
const AREA = MiB;
const SECTOR = 512;
const START = 1000;

function freshDevice(): MemoryDevice {
  const dev = new MemoryDevice({ sectorSize: SECTOR, size: 3 * MiB });
  placeResource(dev, AREA, "R");
  return dev;
}

function slotOffset(hostId: number): number {
  return AREA + (hostId + 1) * SECTOR;
}

function putDblock(dev: MemoryDevice, hostId: number, d: Partial<Dblock>): void {
  dev.contents.set(encodeDblockSector({ ...emptyDblock(), ...d }, SECTOR), slotOffset(hostId));
}

function dblockOnDisk(dev: MemoryDevice, hostId: number): Dblock {
  return decodeDblockSector(dev.contents, slotOffset(hostId)).dblock;
}

function leaderOnDisk(dev: MemoryDevice): LeaderRecord {
  return readLeaderFields(dev.contents, AREA);
}

function putLeader(dev: MemoryDevice, changes: Partial<LeaderRecord>): void {
  writeLeader(dev.contents, AREA, { ...leaderOnDisk(dev), ...changes });
}

/** A held leader: owner (ownerId, ownerGeneration), written by `writeId`. */
function held(ownerId: number, ownerGeneration: bigint, lver: bigint, writeId = ownerId): Partial<LeaderRecord> {
  return { ownerId, ownerGeneration, lver, timestamp: 900n, writeId: BigInt(writeId), writeGeneration: ownerGeneration, writeTimestamp: 900n };
}

const nobodyWatched: HostLiveness = { snapshot: () => undefined, isSharedHolderAlive: () => true };

interface Probe {
  /** host_ids whose delta record was read (docs/algorithms.md §4.4 step 2.1). */
  deltaReads: number[];
}

function host(clock: VirtualClock, generation: bigint, readDeltaRecord: (hostId: number) => Promise<DeltaRecordView>, probe: Probe): PaxosHost {
  return {
    lockspace: "LS",
    hostId: 1,
    generation,
    ioTimeout: 1,
    clock,
    random: new SeededRandom(5),
    liveness: nobodyWatched,
    readDeltaRecord: (id) => {
      probe.deltaReads.push(id);
      return readDeltaRecord(id);
    },
  };
}

const noDeltaRead = async (): Promise<DeltaRecordView> => {
  throw new Error("the owner-gone check must not run");
};

async function acquireAs(
  dev: MemoryDevice,
  generation: bigint,
  readDeltaRecord: (hostId: number) => Promise<DeltaRecordView> = noDeltaRead,
  ownerNoWait = false,
) {
  const clock = new VirtualClock(START);
  const probe: Probe = { deltaReads: [] };
  const lease = new PaxosLease(host(clock, generation, readDeltaRecord, probe), { resource: "R", device: dev, offset: AREA });
  const err = await drive(
    clock,
    lease.acquire({ ownerNoWait }).then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  return { err, lease, probe, clock };
}

const isResult = (err: unknown, result: number): boolean => err instanceof LeaseError && err.result === result;

// ---- acquire: the "ours" shortcut (docs/algorithms.md §4.3 steps 5-6) ------------------------------------------

t.test("acquire: a leader naming our host_id at our generation or an older one is taken without the owner-gone check", async (t) => {
  for (const [label, g] of [
    ["same generation (left over by us)", 2n],
    ["older generation (our previous instance)", 1n],
  ] as const) {
    const dev = freshDevice();
    putLeader(dev, held(1, g, 3n));
    const { err, lease, probe } = await acquireAs(dev, 2n);
    t.equal(err, undefined, `${label}: acquired`);
    t.equal(lease.mode, "exclusive", `${label}: held`);
    t.same(probe.deltaReads, [], `${label}: no delta record read`);
    const leader = leaderOnDisk(dev);
    t.same([leader.lver, leader.ownerId, leader.ownerGeneration], [4n, 1, 2n], `${label}: lver 4 committed to (1, 2)`);
  }
});

t.test("acquire: a leader naming our host_id at a NEWER generation is another instance's: the owner-gone rules apply", async (t) => {
  // We are (1, gen 2), a stale instance; the leader names (1, gen 3) and the delta record of host
  // 1 shows generation 3 alive. Treating it as ours would run a ballot and take a live lease.
  const dev = freshDevice();
  putLeader(dev, held(1, 3n, 3n));
  const before = dev.contents.slice(AREA, AREA + 4 * SECTOR);
  const record: DeltaRecordView = { ownerId: 1, ownerGeneration: 3n, timestamp: 990n, ioTimeout: 1 };
  const { err, lease, probe } = await acquireAs(dev, 2n, async () => record, true);
  t.ok(isResult(err, SanlockResult.ACQUIRE_OWNED_RETRY), `owner not known dead, OWNER_NOWAIT: -247 (${String(err)})`);
  t.equal(lease.mode, undefined, "not held");
  t.ok(probe.deltaReads.length > 0 && probe.deltaReads.every((h) => h === 1), "the owner's (host 1's) delta record was read");
  t.same(dev.contents.slice(AREA, AREA + 4 * SECTOR), before, "nothing written: no ballot ran");
  t.same(leaderOnDisk(dev).ownerGeneration, 3n, "the leader still names (1, gen 3)");
});

// ---- acquire: the leader check before a ballot (docs/algorithms.md §4.3 step 9) --------------------------------

/**
 * Host 2 holds lver 3; its delta record shows the host_id free (gone). While we check, host 3
 * decides lver 4 and writes the leader naming `decided` (owner_id 1 at some generation).
 */
function decidedMeanwhile(dev: MemoryDevice, decidedGeneration: bigint): (hostId: number) => Promise<DeltaRecordView> {
  putLeader(dev, held(2, 1n, 3n));
  return async (hostId) => {
    putLeader(dev, { ...held(1, decidedGeneration, 4n, 3), writeGeneration: 7n });
    return { ownerId: hostId, ownerGeneration: 1n, timestamp: 0n, ioTimeout: 1 };
  };
}

t.test("acquire: a leader already at the next lver naming our host_id at another generation is not ours (-244)", async (t) => {
  const dev = freshDevice();
  const { err, lease } = await acquireAs(dev, 2n, decidedMeanwhile(dev, 1n));
  t.ok(isResult(err, SanlockResult.ACQUIRE_OWNED), `decided for (1, gen 1), we are (1, gen 2): -244 (${String(err)})`);
  t.equal(lease.mode, undefined, "not held");
  t.same(dblockOnDisk(dev, 1), emptyDblock(), "no ballot ran");
  const leader = leaderOnDisk(dev);
  t.same([leader.lver, leader.ownerId, leader.ownerGeneration, leader.writeId], [4n, 1, 1n, 3n], "leader left as host 3 wrote it");
});

t.test("acquire: a leader already at the next lver naming (H, G) is ours: another host committed us", async (t) => {
  const dev = freshDevice();
  const { err, lease } = await acquireAs(dev, 2n, decidedMeanwhile(dev, 2n));
  t.equal(err, undefined, "acquired");
  t.equal(lease.mode, "exclusive", "held");
  t.equal(lease.lver, 4n, "at lver 4");
  t.same(dblockOnDisk(dev, 1), emptyDblock(), "without a ballot of ours");
});

// ---- commit (docs/algorithms.md §4.7) ---------------------------------------------------------------------------

t.test("commit: a ballot that decides our host_id's previous instance is not our lease (-245)", async (t) => {
  // Host 3 had accepted the proposal of our previous instance (1, gen 1) for lver 1; our ballot
  // must adopt it, commit it, and then not claim the lease for (1, gen 2).
  const dev = freshDevice();
  putDblock(dev, 3, { mbal: 3n, bal: 3n, inp: 1, inp2: 1n, inp3: 500n, lver: 1n });
  const { err, lease } = await acquireAs(dev, 2n);
  t.ok(isResult(err, SanlockResult.ACQUIRE_OTHER), `committed (1, gen 1): -245 (${String(err)})`);
  t.equal(lease.mode, undefined, "not held");
  const leader = leaderOnDisk(dev);
  t.same([leader.lver, leader.ownerId, leader.ownerGeneration, leader.timestamp], [1n, 1, 1n, 500n], "the leader names the previous instance");
  t.same([leader.writeId, leader.writeGeneration], [1n, 2n], "written by us");
});

t.test("commit: the same ballot for our own generation's value succeeds", async (t) => {
  const dev = freshDevice();
  putDblock(dev, 3, { mbal: 3n, bal: 3n, inp: 1, inp2: 2n, inp3: 500n, lver: 1n });
  const { err, lease } = await acquireAs(dev, 2n);
  t.equal(err, undefined, "acquired");
  t.equal(lease.mode, "exclusive", "held");
  t.same([leaderOnDisk(dev).ownerGeneration, leaderOnDisk(dev).timestamp], [2n, 500n], "the adopted value (1, 2, 500) committed");
});

// ---- release (docs/algorithms.md §4.8 step 4.5, §4.9) -----------------------------------------------------------

t.test("release: a new instance of our host_id does not free the leader of the previous instance", async (t) => {
  const dev = freshDevice();
  putLeader(dev, held(1, 1n, 5n));
  const before = dev.contents.slice(AREA, AREA + SECTOR);
  const clock = new VirtualClock(START);
  const disk = new PaxosDisk("LS", { resource: "R", device: dev, offset: AREA }, 1, 1, clock);
  const last = await drive(clock, disk.readLeader());
  const err = await drive(
    clock,
    releaseLeader(disk, clock, 1, 2n, last).then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(isResult(err, SanlockResult.RELEASE_OWNER), `owner (1, gen 1), we are gen 2: -251 (${String(err)})`);
  t.same(dev.contents.slice(AREA, AREA + SECTOR), before, "leader untouched");
  // Retraction's leader release with no attempted leader reads the leader: not ours, left alone.
  t.equal(await drive(clock, freeLeaderIfOurs(disk, clock, 1, 2n, undefined)), true, "reported as not ours to free");
  t.same(dev.contents.slice(AREA, AREA + SECTOR), before, "leader still untouched");
  // The same generation frees it.
  await drive(clock, releaseLeader(disk, clock, 1, 1n, last));
  const freed = leaderOnDisk(dev);
  t.same([freed.timestamp, freed.ownerId, freed.ownerGeneration, freed.lver], [0n, 1, 1n, 5n], "freed by (1, gen 1)");
});

// ---- deciding that the owner is gone (docs/algorithms.md §4.4 step 2.3) ------------------------------------------

/** decideOwnerGone for a leader owned by (2, gen 5), with the delta records `records` (last repeats). */
async function ownerCheck(
  records: DeltaRecordView[],
  ownerNoWait: boolean,
): Promise<{ verdict: OwnerVerdict | undefined; err: unknown; elapsed: number; reads: number }> {
  const dev = freshDevice();
  putLeader(dev, held(2, 5n, 3n));
  const clock = new VirtualClock(START);
  const disk = new PaxosDisk("LS", { resource: "R", device: dev, offset: AREA }, 1, 1, clock);
  const cur = await drive(clock, disk.readLeader());
  let reads = 0;
  const readDeltaRecord = async (hostId: number): Promise<DeltaRecordView> => {
    if (hostId !== 2) throw new Error(`read of host ${hostId}'s record`);
    return records[Math.min(reads++, records.length - 1)]!;
  };
  let verdict: OwnerVerdict | undefined;
  let err: unknown;
  await drive(
    clock,
    decideOwnerGone(cur, {
      disk,
      clock,
      liveness: nobodyWatched,
      readDeltaRecord,
      ownIoTimeout: 1,
      ownerNoWait,
      variant: "none",
    }).then(
      (v) => {
        verdict = v;
      },
      (e: unknown) => {
        err = e;
      },
    ),
  );
  return { verdict, err, elapsed: clock.now() - START, reads };
}

const record = (ownerGeneration: bigint, timestamp: bigint, ownerId = 2): DeltaRecordView => ({ ownerId, ownerGeneration, timestamp, ioTimeout: 1 });

t.test("owner gone: the owner's delta record at a NEWER generation → gone at once", async (t) => {
  const out = await ownerCheck([record(6n, 2000n)], true);
  t.equal(out.err, undefined, `no error (${String(out.err)})`);
  t.equal(out.verdict, "gone", "the owner rejoined as a new instance: its lease is free to take");
  t.equal(out.elapsed, 0, "no wait");
  t.equal(out.reads, 1, "one delta record read");
});

t.test("owner gone: the owner's delta record at an OLDER generation than the leader's → NOT gone", async (t) => {
  // Record generation 4 < leader's 5: not a newer instance; the timestamp does not change, so
  // only the dead-wait can declare it gone.
  const nowait = await ownerCheck([record(4n, 2000n)], true);
  t.equal(nowait.verdict, undefined, "not gone");
  t.ok(isResult(nowait.err, SanlockResult.ACQUIRE_OWNED_RETRY), `OWNER_NOWAIT: -247 (${String(nowait.err)})`);
  const waited = await ownerCheck([record(4n, 2000n)], false);
  t.equal(waited.verdict, "gone", "gone after the dead-wait");
  t.ok(waited.elapsed > hostDeadSeconds(1), `only after host_dead_seconds (${waited.elapsed} s > ${hostDeadSeconds(1)} s)`);
});

t.test("owner gone: same generation renewing → alive (-243); another owner_id or a free host_id → gone", async (t) => {
  const alive = await ownerCheck([record(5n, 2000n), record(5n, 2002n)], false);
  t.ok(isResult(alive.err, SanlockResult.ACQUIRE_IDLIVE), `renewed: -243 (${String(alive.err)})`);
  const older = await ownerCheck([record(4n, 2000n), record(4n, 2002n)], false);
  t.ok(isResult(older.err, SanlockResult.ACQUIRE_IDLIVE), `older generation renewing: alive too, -243 (${String(older.err)})`);
  const taken = await ownerCheck([record(5n, 2000n, 3)], true);
  t.equal(taken.verdict, "gone", "host_id taken over by another host");
  const free = await ownerCheck([record(5n, 0n)], true);
  t.equal(free.verdict, "gone", "host_id free");
});

t.test("acquire: an owner whose delta record shows an OLDER generation than the leader's is not taken over", async (t) => {
  const dev = freshDevice();
  putLeader(dev, held(2, 5n, 3n));
  const before = dev.contents.slice(AREA, AREA + 4 * SECTOR);
  const { err, lease } = await acquireAs(dev, 1n, async () => record(4n, 2000n), true);
  t.ok(isResult(err, SanlockResult.ACQUIRE_OWNED_RETRY), `-247 (${String(err)})`);
  t.equal(lease.mode, undefined, "not held");
  t.same(dev.contents.slice(AREA, AREA + 4 * SECTOR), before, "nothing written");
});
