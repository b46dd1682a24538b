// The Disk Paxos value rule of a ballot (docs/algorithms.md §4.6): after phase 1 the proposer adopts
// the value (inp, inp2, inp3) of the same-lver dblock with the highest bal, and proposes its own
// value only when no dblock carries one; a larger mbal seen in either read aborts the ballot.
// Every on-disk state is built directly with core's encoders; what was committed is read back.
import t, { type Test } from "tap";
import {
  LeaseError,
  MemoryDevice,
  PaxosDisk,
  PaxosLease,
  SanlockResult,
  SeededRandom,
  VirtualClock,
  decodeDblockSector,
  emptyDblock,
  emptyModeBlock,
  encodeDblockSector,
  readLeaderFields,
  runBallot,
  writeLeader,
  type BlockDevice,
  type Dblock,
  type LeaderRecord,
  type PaxosHost,
} from "../src/index.js";
import { drive, placeResource } from "./delta-harness.js";

const MiB = 1048576;
/** The resource area starts 1 MiB into the device (offsets are not accidentally 0). */
const AREA = MiB;
const SECTOR = 512;
/** Our host: host_id 1, generation 1; the clock reads 1000, so our own value is (1, 1, 1000). */
const US = { hostId: 1, generation: 1n };
const START = 1000;

interface Value {
  inp: number;
  inp2: bigint;
  inp3: bigint;
}
const A: Value = { inp: 7, inp2: 70n, inp3: 700n };
const B: Value = { inp: 8, inp2: 80n, inp3: 800n };
const C: Value = { inp: 9, inp2: 90n, inp3: 900n };
const OWN: Value = { inp: US.hostId, inp2: US.generation, inp3: BigInt(START) };

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

/** A dblock of a host that finished phase 2 of ballot `bal` for `lver` with `value`. */
function accepted(bal: bigint, value: Value, lver = 1n): Partial<Dblock> {
  return { mbal: bal, bal, ...value, lver };
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

function ownerOf(leader: LeaderRecord): Value {
  return { inp: leader.ownerId, inp2: leader.ownerGeneration, inp3: leader.timestamp };
}

function valueIn(d: Dblock): Value {
  return { inp: d.inp, inp2: d.inp2, inp3: d.inp3 };
}

function host(clock: VirtualClock): PaxosHost {
  return {
    lockspace: "LS",
    hostId: US.hostId,
    generation: US.generation,
    ioTimeout: 1,
    clock,
    random: new SeededRandom(3),
    liveness: { snapshot: () => undefined, isSharedHolderAlive: () => true },
    readDeltaRecord: async () => {
      throw new Error("no owner to check: the leader is free");
    },
  };
}

/** An exclusive acquire by us of the lease on `device`; resolves to the error or undefined. */
async function acquireBy(device: BlockDevice, clock = new VirtualClock(START)): Promise<{ err: unknown; lease: PaxosLease }> {
  const lease = new PaxosLease(host(clock), { resource: "R", device, offset: AREA });
  const err = await drive(
    clock,
    lease.acquire().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  return { err, lease };
}

/**
 * Acquire on a device prepared by `prepare`, expecting `winner` to be committed for lver
 * `lver`. A winner other than us: the acquire fails with -245 and the leader names it.
 */
async function expectCommitted(t: Test, prepare: (dev: MemoryDevice) => void, winner: Value, lver = 1n): Promise<void> {
  const dev = freshDevice();
  prepare(dev);
  const { err, lease } = await acquireBy(dev);
  const leader = leaderOnDisk(dev);
  t.same(ownerOf(leader), winner, "the leader names the chosen value (owner_id, owner_generation, timestamp)");
  t.equal(leader.lver, lver, "committed for the next lver");
  t.equal(leader.writeId, BigInt(US.hostId), "we wrote the leader");
  t.same(valueIn(dblockOnDisk(dev, US.hostId)), winner, "our phase-2 dblock carries the chosen value");
  t.equal(dblockOnDisk(dev, US.hostId).bal, dblockOnDisk(dev, US.hostId).mbal, "with bal = our mbal");
  if (winner.inp === US.hostId && winner.inp2 === US.generation) {
    t.equal(err, undefined, "our own value: the acquire succeeds");
    t.equal(lease.mode, "exclusive", "held exclusively");
  } else {
    t.ok(err instanceof LeaseError && err.result === SanlockResult.ACQUIRE_OTHER, `another value: -245 (${String(err)})`);
    t.equal(lease.mode, undefined, "not held");
  }
}

t.test("(d) no dblock carries a value: we propose our own (H, G, now)", async (t) => {
  await expectCommitted(t, () => undefined, OWN);
});

t.test("(a) a single accepted value in another host's dblock is adopted, not ours", async (t) => {
  await expectCommitted(t, (dev) => putDblock(dev, 3, accepted(3n, A)), A);
  // The same with the value in a slot above ours and far up the table.
  await expectCommitted(t, (dev) => putDblock(dev, 1999, accepted(1999n, B)), B);
});

t.test("(a) our own slot never contributes: our phase-1 write clears what an earlier ballot of ours accepted", async (t) => {
  // Our slot holds a value we accepted in an earlier, aborted ballot for this lver (ballot 1);
  // host 5 accepted C at ballot 5. Our phase 1 rewrites our slot with bal = inp = 0: C is adopted.
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 1, accepted(1n, A));
      putDblock(dev, 5, accepted(5n, C));
    },
    C,
  );
});

t.test("(b) two accepted values: the higher bal wins, in the lower host slot", async (t) => {
  // host 2 accepted A at ballot 2002, host 4 accepted B at ballot 4: A (first found, highest bal).
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 2, accepted(2002n, A));
      putDblock(dev, 4, accepted(4n, B));
    },
    A,
  );
});

t.test("(b) two accepted values: the higher bal wins, in the higher host slot", async (t) => {
  // host 2 accepted A at ballot 2, host 4 accepted B at ballot 2004: B (last found, highest bal).
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 2, accepted(2n, A));
      putDblock(dev, 4, accepted(2004n, B));
    },
    B,
  );
});

t.test("(b) three accepted values: the highest bal wins when it is in the middle slot", async (t) => {
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 2, accepted(2n, A));
      putDblock(dev, 3, accepted(4003n, C));
      putDblock(dev, 4, accepted(2004n, B));
    },
    C,
  );
});

t.test("(b) the higher bal wins whatever the value: the same values with the bals swapped", async (t) => {
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 2, accepted(2002n, B));
      putDblock(dev, 4, accepted(4n, A));
    },
    B,
  );
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 2, accepted(2n, B));
      putDblock(dev, 4, accepted(2004n, A));
    },
    A,
  );
});

t.test("(c) equal bal: the candidate is replaced only by a strictly greater bal, so the lower host_id wins", async (t) => {
  // Not produced by sanlock itself (bal ≡ host_id mod max_hosts), but the rule is docs/algorithms.md §4.6 step 2.7.
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 2, accepted(6n, A));
      putDblock(dev, 4, accepted(6n, B));
    },
    A,
  );
  await expectCommitted(
    t,
    (dev) => {
      putDblock(dev, 2, accepted(6n, B));
      putDblock(dev, 4, accepted(6n, A));
    },
    B,
  );
});

t.test("(c) blocks without a value are no candidates: inp 0, bal 0, or an older lver", async (t) => {
  // Lease at lver 5, free: the ballot is for lver 6.
  const history = (dev: MemoryDevice): void => putLeader(dev, { lver: 5n, ownerId: 4, ownerGeneration: 2n, timestamp: 0n, writeId: 4n });
  // inp set but bal 0 (skipped and logged by sanlock), bal set but inp 0, and a value of lver 5.
  await expectCommitted(
    t,
    (dev) => {
      history(dev);
      putDblock(dev, 2, { mbal: 2n, bal: 0n, ...A, lver: 6n });
      putDblock(dev, 3, { mbal: 3n, bal: 3n, inp: 0, inp2: 0n, inp3: 0n, lver: 6n });
      putDblock(dev, 4, accepted(4n, B, 5n));
    },
    OWN,
    6n,
  );
  // A value of the current instance beats a higher bal of the previous one.
  await expectCommitted(
    t,
    (dev) => {
      history(dev);
      putDblock(dev, 2, accepted(2n, A, 6n));
      putDblock(dev, 4, accepted(2004n, B, 5n));
    },
    A,
    6n,
  );
});

// ---- runBallot itself: reads, aborts -------------------------------------------------------

interface Op {
  op: "read" | "write";
  offset: number;
  length: number;
}

/** Logs every I/O; `afterWrite` runs after a write has reached the memory device. */
class HookDevice implements BlockDevice {
  readonly ops: Op[] = [];
  afterWrite: ((offset: number) => void) | undefined;
  constructor(readonly inner: MemoryDevice) {}
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.ops.push({ op: "read", offset, length });
    return this.inner.read(offset, length);
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.ops.push({ op: "write", offset, length: data.length });
    await this.inner.write(offset, data);
    this.afterWrite?.(offset);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** After our `nth` write of our own dblock sector has landed, run `inject` (once). */
function onOwnWrite(dev: HookDevice, nth: number, inject: () => void): void {
  let seen = 0;
  dev.afterWrite = (offset) => {
    if (offset === slotOffset(US.hostId) && ++seen === nth) inject();
  };
}

async function ballot(dev: HookDevice, mbal: bigint, lver = 1n): Promise<ReturnType<typeof runBallot>> {
  const clock = new VirtualClock(START);
  const disk = new PaxosDisk("LS", { resource: "R", device: dev, offset: AREA }, US.hostId, 1, clock);
  await drive(clock, disk.detect());
  dev.ops.length = 0;
  return drive(
    clock,
    runBallot({
      disk,
      clock,
      hostId: US.hostId,
      generation: US.generation,
      numHosts: 2000,
      maxHosts: 2000,
      lver,
      mbal,
      mode: emptyModeBlock(),
      sharedHolders: new Map(),
      variant: "none",
    }),
  );
}

t.test("a decided ballot: phase-1 write, read, phase-2 write, read (the phase-2 read is done)", async (t) => {
  const dev = new HookDevice(freshDevice());
  putDblock(dev.inner, 3, accepted(3n, A));
  const outcome = await ballot(dev, 2001n);
  t.equal(outcome.kind, "decided", "decided");
  if (outcome.kind === "decided") t.same(valueIn(outcome.dblock), A, "the accepted value of host 3 is decided");
  t.same(
    dev.ops,
    [
      { op: "write", offset: slotOffset(1), length: SECTOR },
      { op: "read", offset: AREA, length: MiB },
      { op: "write", offset: slotOffset(1), length: SECTOR },
      { op: "read", offset: AREA, length: MiB },
    ],
    "two dblock reads of sectors 0..2047, one after each write",
  );
});

t.test("phase 1: a larger mbal aborts (-213) before any phase-2 write; a larger lver aborts (-212)", async (t) => {
  const dev = new HookDevice(freshDevice());
  putDblock(dev.inner, 3, { mbal: 2003n, lver: 1n });
  const outcome = await ballot(dev, 2001n);
  t.equal(outcome.kind, "aborted", "aborted");
  if (outcome.kind === "aborted") {
    t.equal(outcome.error.result, SanlockResult.DBLOCK_MBAL, "-213");
    t.equal(outcome.written.bal, 0n, "what we left on disk is the phase-1 block");
  }
  t.same(
    dev.ops.map((o) => o.op),
    ["write", "read"],
    "no phase-2 write",
  );
  t.same(
    dblockOnDisk(dev.inner, 1),
    { ...emptyDblock(), mbal: 2001n, lver: 1n, checksum: dblockOnDisk(dev.inner, 1).checksum },
    "our sector: the phase-1 block",
  );

  const newer = new HookDevice(freshDevice());
  putDblock(newer.inner, 3, { mbal: 3n, lver: 2n });
  const aborted = await ballot(newer, 2001n);
  t.ok(aborted.kind === "aborted" && aborted.error.result === SanlockResult.DBLOCK_LVER, "-212");

  const equal = new HookDevice(freshDevice());
  putDblock(equal.inner, 3, accepted(2001n, A));
  t.equal((await ballot(equal, 2001n)).kind, "decided", "an equal mbal does not abort (only a larger one)");
});

t.test("phase 2: a larger mbal written after our phase-1 read aborts the ballot at the phase-2 read", async (t) => {
  const dev = new HookDevice(freshDevice());
  // Host 3 starts ballot 2003 after our phase-1 read, before our phase-2 read.
  onOwnWrite(dev, 2, () => putDblock(dev.inner, 3, { mbal: 2003n, lver: 1n }));
  const outcome = await ballot(dev, 2001n);
  t.equal(outcome.kind, "aborted", "not decided");
  if (outcome.kind === "aborted") {
    t.equal(outcome.error.result, SanlockResult.DBLOCK_MBAL, "-213");
    t.equal(outcome.written.bal, 2001n, "what we left on disk is the phase-2 block");
    t.same(valueIn(outcome.written), OWN, "with our own value");
  }
  t.same(
    dev.ops.map((o) => o.op),
    ["write", "read", "write", "read"],
    "the phase-2 read found it",
  );
});

t.test("phase 2: a larger lver written after our phase-1 read aborts the ballot at the phase-2 read", async (t) => {
  const dev = new HookDevice(freshDevice());
  onOwnWrite(dev, 2, () => putDblock(dev.inner, 3, { mbal: 3n, lver: 2n }));
  const outcome = await ballot(dev, 2001n);
  t.ok(outcome.kind === "aborted" && outcome.error.result === SanlockResult.DBLOCK_LVER, "-212");
});

t.test("a competing larger ballot that decided its own value during our phase 2: we abort, retry and commit ITS value", async (t) => {
  // Our first ballot is 1 (no mbal on disk). Host 3 ran its ballot 3 for lver 1 completely
  // between our phase-1 read and our phase-2 read (its phase-1 read saw no value, so it proposed
  // itself): (3, 5, 999) is decided for lver 1.
  // Had we not re-read after our phase-2 write, we would decide and commit our own value: two
  // different values decided for one lver.
  const dev = new HookDevice(freshDevice());
  const theirs: Value = { inp: 3, inp2: 5n, inp3: 999n };
  onOwnWrite(dev, 2, () => putDblock(dev.inner, 3, accepted(3n, theirs)));
  const { err, lease } = await acquireBy(dev);
  t.ok(err instanceof LeaseError && err.result === SanlockResult.ACQUIRE_OTHER, `-245 (${String(err)})`);
  t.equal(lease.mode, undefined, "not held");
  t.same(ownerOf(leaderOnDisk(dev.inner)), theirs, "the leader names host 3's decided value");
  const ours = dblockOnDisk(dev.inner, 1);
  t.equal(ours.mbal, 2001n, "second ballot: 1 + max_hosts");
  t.same(valueIn(ours), theirs, "our second ballot adopted host 3's value");
  const writes = dev.ops.filter((o) => o.op === "write").map((o) => o.offset);
  t.same(writes, [slotOffset(1), slotOffset(1), slotOffset(1), slotOffset(1), AREA], "two ballots, then one leader write");
});
