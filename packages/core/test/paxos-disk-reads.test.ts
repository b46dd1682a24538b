// Whole-area and ballot reads of a paxos lease (docs/ondisk.md §6.4-§6.5, docs/algorithms.md §4.1, §4.3
// step 1): which slots are reported, strict checksum checking, and the geometry hint.
import t from "tap";
import {
  LeaseError,
  MBLOCK_OFFSET,
  MBLOCK_SHARED,
  MemoryDevice,
  PaxosDisk,
  PaxosLease,
  SanlockResult,
  SeededRandom,
  VirtualClock,
  buildResourceArea,
  emptyDblock,
  encodeDblockSector,
  geometryFor,
  readDblockFields,
  readLeaderFields,
  readResourceOwners,
  writeModeBlock,
  type BlockDevice,
  type Geometry,
  type PaxosHost,
  type ResourceLocation,
} from "../src/index.js";
import { drive } from "./delta-harness.js";

const MiB = 1048576;
const G512 = geometryFor(512, MiB);
const G4K8M = geometryFor(4096, 8 * MiB);

/** A device with a fresh resource area "R" of `geometry` at `offset`. */
function deviceWithResource(size: number, offset: number, geometry: Geometry = G512): MemoryDevice {
  const dev = new MemoryDevice({ sectorSize: 512, size });
  dev.contents.set(buildResourceArea({ spaceName: "LS", resourceName: "R" }, geometry), offset);
  return dev;
}

/** Byte offset of host H's dblock sector (sector H+1, docs/ondisk.md §6.4). */
function slotAt(offset: number, geometry: Geometry, hostId: number): number {
  return offset + (hostId + 1) * geometry.sectorSize;
}

function disk(dev: BlockDevice, offset: number, clock = new VirtualClock(), geometry?: Geometry): PaxosDisk {
  const location: ResourceLocation = geometry ? { resource: "R", device: dev, offset, geometry } : { resource: "R", device: dev, offset };
  return new PaxosDisk("LS", location, 1, 1, clock);
}

/** A non-empty, correctly checksummed dblock of a ballot by host H. */
function ballotSector(hostId: number, geometry: Geometry = G512): Uint8Array {
  return encodeDblockSector({ ...emptyDblock(), mbal: BigInt(hostId), bal: BigInt(hostId), inp: hostId, inp2: 1n, inp3: 50n, lver: 1n }, geometry.sectorSize);
}

t.test("area reads report every slot with content, including a shared mark beside an empty dblock", async (t) => {
  const dev = deviceWithResource(4 * MiB, MiB);
  // Host 5: shared mark only (dblock bytes zero); host 7: a ballot; host 11: an "empty" dblock
  // (checksum, mbal, bal, inp, lver zero) with inp3 set, accepted without checksum (docs/ondisk.md §6.4).
  writeModeBlock(dev.contents, slotAt(MiB, G512, 5) + MBLOCK_OFFSET, { flags: MBLOCK_SHARED, generation: 3n });
  dev.contents.set(ballotSector(7), slotAt(MiB, G512, 7));
  new DataView(dev.contents.buffer).setBigUint64(slotAt(MiB, G512, 11) + 32, 9n, true);
  const full = await disk(dev, MiB).readFull();
  t.same(
    full.slots.map((s) => s.hostId),
    [5, 7, 11],
    "zero slots are left out; every other slot is reported",
  );
  const five = full.slots[0]!;
  t.same(five.dblock, emptyDblock(), "host 5: empty dblock");
  t.same(five.mode, { flags: MBLOCK_SHARED, generation: 3n }, "host 5: its shared mark");
  t.equal(full.slots[1]!.dblock?.mbal, 7n);
  t.equal(full.slots[2]!.dblock?.inp3, 9n, "empty-by-definition dblock read with its fields");
  const ballot = await disk(dev, MiB)
    .readFull()
    .then((f) => f.slots);
  t.same(ballot, full.slots, "a second reader sees the same");
  const owners = await readResourceOwners("LS", { resource: "R", device: dev, offset: MiB }, new VirtualClock(), 1);
  t.same(owners, [{ hostId: 5, generation: 3n, shared: true, timestamp: 0n }], "the shared holder is found");
});

t.test("a bad checksum anywhere in a dblock fails the strict read (-214); the ballot read skips it", async (t) => {
  for (const byte of [0, 16, 40, 47]) {
    const dev = deviceWithResource(4 * MiB, MiB);
    dev.contents.set(ballotSector(3), slotAt(MiB, G512, 3));
    dev.contents[slotAt(MiB, G512, 12) + byte] = 1; // non-empty, checksum 0: wrong
    const err = await disk(dev, MiB)
      .readFull()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    t.ok(err instanceof LeaseError && err.result === SanlockResult.DBLOCK_CHECKSUM, `byte ${byte} set: -214`);
    const d = disk(dev, MiB);
    await d.detect();
    const slots = await d.readBallotSlots(2000);
    t.same(
      slots.map((s) => [s.hostId, s.dblock === undefined]),
      [
        [3, false],
        [12, true],
      ],
      `byte ${byte}: ballot read lists host 12 as invalid`,
    );
  }
});

/** Returns every read as a view starting `shift` bytes into a larger buffer. */
class ShiftedDevice implements BlockDevice {
  constructor(
    private readonly inner: MemoryDevice,
    private readonly shift: number,
  ) {}
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const data = await this.inner.read(offset, length);
    const holder = new Uint8Array(length + 8);
    holder.set(data, this.shift);
    return holder.subarray(this.shift, this.shift + length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.inner.write(offset, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

t.test("reads into buffers at any byte offset give the same slots", async (t) => {
  const dev = deviceWithResource(4 * MiB, MiB);
  dev.contents.set(ballotSector(2), slotAt(MiB, G512, 2));
  dev.contents[slotAt(MiB, G512, 4) + 130] = 7; // mode block padding only: read, ignored
  dev.contents[slotAt(MiB, G512, 6) + 55] = 1; // dblock flags only: an empty dblock with a flag
  dev.contents[slotAt(MiB, G512, 8) + 143] = 1; // mode block generation, last byte
  const expected = (await disk(dev, MiB).readFull()).slots;
  t.same(
    expected.map((s) => s.hostId),
    [2, 4, 6, 8],
  );
  for (const shift of [1, 2, 3, 4, 5]) {
    const slots = (await disk(new ShiftedDevice(dev, shift), MiB).readFull()).slots;
    t.same(slots, expected, `shift ${shift}`);
  }
});

t.test("a right geometry hint saves the detection read", async (t) => {
  const dev = deviceWithResource(4 * MiB, MiB);
  dev.contents.set(ballotSector(7), slotAt(MiB, G512, 7));
  const before = dev.readCount;
  const plain = await disk(dev, MiB).readFull();
  t.equal(dev.readCount - before, 2, "without a hint: detection read + area read");
  const mid = dev.readCount;
  const hinted = disk(dev, MiB, new VirtualClock(), G512);
  const full = await hinted.readFull();
  t.equal(dev.readCount - mid, 1, "with a hint: the area read only");
  t.same(full.slots, plain.slots);
  t.equal(hinted.geometry, G512);
});

t.test("a wrong geometry hint is detected and dropped", async (t) => {
  // 512/1M area read with a 4K/8M hint: the leader records 512/1M.
  const small = deviceWithResource(16 * MiB, MiB);
  small.contents.set(ballotSector(7), slotAt(MiB, G512, 7));
  const d1 = disk(small, MiB, new VirtualClock(), G4K8M);
  const f1 = await d1.readFull();
  t.same(
    f1.slots.map((s) => s.hostId),
    [7],
    "host 7 found at its 512-byte slot",
  );
  t.equal(d1.geometry, G512, "geometry from the leader");
  // 4K/8M area read with a 512/1M hint: host 7's slot lies at 4096-byte spacing.
  const big = deviceWithResource(16 * MiB, 0, G4K8M);
  big.contents.set(ballotSector(7, G4K8M), slotAt(0, G4K8M, 7));
  const d2 = disk(big, 0, new VirtualClock(), G512);
  const f2 = await d2.readFull();
  t.same(
    f2.slots.map((s) => s.hostId),
    [7],
  );
  t.equal(d2.geometry, G4K8M);
  // A hint reaching past the device end: the read fails, the hint is dropped.
  const tail = deviceWithResource(2 * MiB, MiB);
  tail.contents.set(ballotSector(3), slotAt(MiB, G512, 3));
  const f3 = await disk(tail, MiB, new VirtualClock(), G4K8M).readFull();
  t.same(
    f3.slots.map((s) => s.hostId),
    [3],
  );
  // A hint that is no valid geometry at all is ignored.
  const f4 = await disk(tail, MiB, new VirtualClock(), { ...G512, alignSize: 2 * MiB } as Geometry).readFull();
  t.same(
    f4.slots.map((s) => s.hostId),
    [3],
  );
});

function paxosHost(clock: VirtualClock): PaxosHost {
  return {
    lockspace: "LS",
    hostId: 1,
    generation: 1n,
    ioTimeout: 1,
    clock,
    random: new SeededRandom(1),
    liveness: { snapshot: () => undefined, isSharedHolderAlive: () => true },
    readDeltaRecord: async () => {
      throw new Error("not used");
    },
  };
}

t.test("an acquire with a wrong hint writes at the area's real sectors", async (t) => {
  const dev = deviceWithResource(16 * MiB, MiB);
  const clock = new VirtualClock();
  const lease = new PaxosLease(paxosHost(clock), { resource: "R", device: dev, offset: MiB, geometry: G4K8M });
  await drive(clock, lease.acquire());
  const leader = readLeaderFields(dev.contents, MiB);
  t.equal(leader.ownerId, 1);
  t.equal(leader.timestamp !== 0n, true, "held");
  const ours = readDblockFields(dev.contents, slotAt(MiB, G512, 1));
  t.equal(ours.lver, 1n, "our dblock in 512-byte sector 2");
  t.equal(
    dev.contents.subarray(MiB + 4096, MiB + 2 * 4096).some((b) => b !== 0),
    false,
    "nothing at the hinted 4K slot of host 0",
  );
  await drive(clock, lease.release());
  t.equal(readLeaderFields(dev.contents, MiB).timestamp, 0n, "released");
});

t.test("a hinted area read that times out reports -202", async (t) => {
  const dev = deviceWithResource(4 * MiB, MiB);
  const stalled: BlockDevice = {
    sectorSize: 512,
    size: () => dev.size(),
    write: (o, d) => dev.write(o, d),
    close: () => dev.close(),
    read: () => new Promise<Uint8Array>(() => undefined),
  };
  const clock = new VirtualClock();
  const err = await drive(
    clock,
    disk(stalled, MiB, clock, G512)
      .readFull()
      .then(
        () => undefined,
        (e: unknown) => e,
      ),
  );
  t.ok(err instanceof LeaseError && err.result === SanlockResult.AIO_TIMEOUT);
});

/** The device's reads handed over at byte offset 1 of a larger buffer (no word alignment). */
function oddOffsetReads(dev: MemoryDevice): BlockDevice {
  return {
    sectorSize: dev.sectorSize,
    size: () => dev.size(),
    read: async (offset, length) => {
      const bytes = await dev.read(offset, length);
      const shifted = new Uint8Array(length + 1);
      shifted.set(bytes, 1);
      return shifted.subarray(1);
    },
    write: (offset, data) => dev.write(offset, data),
    close: () => dev.close(),
  };
}

t.test("a slot counts as empty only if every byte of its dblock and mode block is zero, at any buffer alignment", async (t) => {
  // Record bytes: the dblock (0..55) and the mode block (128..143); the rest of the sector is
  // not part of a slot's content (docs/ondisk.md §6.4).
  const inRecords = [0, 3, 4, 31, 52, 55, 128, 131, 136, 143];
  const outside = [56, 60, 127, 144, 200, 511];
  for (const [label, wrap] of [
    ["aligned", (d: MemoryDevice): BlockDevice => d],
    ["odd byteOffset", oddOffsetReads],
  ] as const) {
    for (const byte of [...inRecords, ...outside]) {
      const dev = deviceWithResource(4 * MiB, MiB);
      dev.contents[slotAt(MiB, G512, 9) + byte] = 0x80;
      const reader = disk(wrap(dev), MiB);
      await reader.readLeader(); // learns the geometry
      const slots = await reader.readBallotSlots(2000);
      t.same(
        slots.map((s) => s.hostId),
        inRecords.includes(byte) ? [9] : [],
        `${label}: a byte set at ${byte}`,
      );
    }
  }
});
