// Codec round trips and validation errors of the on-disk records (docs/ondisk.md §1-§8).
import t from "tap";
import {
  sanlockCrc32c,
  geometryFor,
  GEOMETRIES,
  legacyGeometry,
  detectGeometry,
  parseAlignSize,
  geometryFromLeaderFields,
  encodeLeader,
  decodeLeader,
  inspectLeader,
  emptyLeader,
  leaderChecksum,
  leadersCompareEqual,
  encodeRequestRecord,
  decodeRequestRecord,
  encodeDblock,
  decodeDblock,
  isEmptyDblock,
  emptyDblock,
  encodeModeBlock,
  decodeModeBlock,
  encodeDblockSector,
  decodeDblockSector,
  encodeDeltaSector,
  decodeDeltaSector,
  encodeRindexHeader,
  decodeRindexHeader,
  encodeRindexEntry,
  decodeRindexEntry,
  isFreeRindexEntry,
  setHostBit,
  testHostBit,
  hostBitsSet,
  clearHostBitmap,
  nameBytes,
  readName,
  writeName,
  namesEqual,
  lvbOffset,
  lvbOutsideArea,
  encodeLvbSector,
  MemoryDevice,
  SanlockTsError,
  DELTA_DISK_MAGIC,
  PAXOS_DISK_MAGIC,
  PAXOS_DISK_CLEAR,
  DELTA_DISK_VERSION,
  PAXOS_DISK_VERSION,
  REQ_DISK_MAGIC,
  REQ_DISK_VERSION,
  RINDEX_DISK_MAGIC,
  RINDEX_DISK_VERSION,
  LFL_SHORT_HOLD,
} from "../src/index.js";
import type { LeaderRecord } from "../src/index.js";

const MiB = 1048576;
const BIG = 0xfedcba9876543210n; // above 2^53: must survive a round trip unchanged

t.test("crc32c check values (spec §3.1)", async (tt) => {
  tt.equal(sanlockCrc32c(new TextEncoder().encode("123456789")), 0xe8c7bb34);
  tt.equal(sanlockCrc32c(new Uint8Array(0)), 0xfffffffe);
  tt.equal(sanlockCrc32c(new Uint8Array(168)), 0x7e11fbd1);
  tt.equal(sanlockCrc32c(new Uint8Array(48)), 0xcb5ad842);
  const data = new TextEncoder().encode("xx123456789yy");
  tt.equal(sanlockCrc32c(data, 2, 11), 0xe8c7bb34, "sub-range");
  tt.throws(() => sanlockCrc32c(data, 5, 20), RangeError);
});

t.test("geometry table and detection (§2)", async (tt) => {
  tt.equal(GEOMETRIES.length, 5);
  tt.same(
    GEOMETRIES.map((g) => [g.sectorSize, g.alignSize / MiB, g.sectorsPerArea, g.maxHosts, g.leaderAlignFlag, g.rindexAlignFlag, g.maxRindexEntries]),
    [
      [512, 1, 2048, 2000, 0x10, 0x1, 16000],
      [4096, 1, 256, 250, 0x10, 0x1, 16000],
      [4096, 2, 512, 500, 0x20, 0x2, 32000],
      [4096, 4, 1024, 1000, 0x40, 0x4, 64000],
      [4096, 8, 2048, 2000, 0x80, 0x8, 128000],
    ],
  );
  for (const [s, a] of [
    [512, 2 * MiB],
    [512, 8 * MiB],
    [1024, MiB],
    [4096, 3 * MiB],
  ]) {
    tt.throws(() => geometryFor(s!, a!), { code: "ERR_DISK_BAD_GEOMETRY" }, `${s}/${a} rejected`);
  }
  tt.equal(legacyGeometry(512).alignSize, MiB);
  tt.equal(legacyGeometry(4096).alignSize, 8 * MiB);
  tt.equal(geometryFromLeaderFields(4096, 0x1).alignSize, 8 * MiB, "no align bit -> legacy");
  tt.equal(geometryFromLeaderFields(4096, 0x20 | 0x80).alignSize, 2 * MiB, "first bit in order 0x10,0x20,0x40,0x80");
  const lead = encodeLeader({ ...emptyLeader(), magic: PAXOS_DISK_MAGIC, sectorSize: 4096, flags: 0x40 });
  tt.equal(detectGeometry(lead)?.alignSize, 4 * MiB);
  tt.equal(detectGeometry(encodeLeader({ ...emptyLeader(), magic: PAXOS_DISK_CLEAR, sectorSize: 4096, flags: 0x40 })), undefined, "cleared lease not accepted");
  const rindex = encodeRindexHeader({
    magic: RINDEX_DISK_MAGIC,
    version: RINDEX_DISK_VERSION,
    flags: 1,
    sectorSize: 512,
    maxResources: 1,
    unused: 0,
    rxOffset: 0,
    lockspaceName: "LS",
  });
  tt.equal(detectGeometry(rindex), undefined, "rindex header not accepted");
  tt.equal(detectGeometry(encodeLeader({ ...emptyLeader(), magic: DELTA_DISK_MAGIC, sectorSize: 777 })), undefined, "odd sector size");
  tt.equal(parseAlignSize("8M"), 8 * MiB);
  tt.equal(parseAlignSize("1048576"), MiB);
  tt.throws(() => parseAlignSize("3M"), { code: "ERR_DISK_BAD_GEOMETRY" });
});

t.test("names (§1)", async (tt) => {
  const field = new Uint8Array(48).fill(0xff);
  writeName(field, 0, "abc");
  tt.same([...field.subarray(0, 4)], [0x61, 0x62, 0x63, 0], "NUL padded");
  tt.ok(field.subarray(3).every((b) => b === 0));
  tt.equal(readName(field, 0), "abc");
  writeName(field, 0, "z".repeat(48));
  tt.equal(readName(field, 0), "z".repeat(48), "48 bytes, no NUL");
  tt.throws(() => nameBytes("z".repeat(49), "resource name"), { code: "ERR_DISK_NAME_TOO_LONG", message: /resource name.*49 bytes.*48/ });
  tt.throws(() => nameBytes("é".repeat(25)), { code: "ERR_DISK_NAME_TOO_LONG" }, "limit is in bytes, not characters");
  tt.throws(() => nameBytes("a\0b"), { code: "ERR_CORE_INVALID_ARGUMENT" });
  tt.ok(namesEqual("LS", "LS"));
  tt.notOk(namesEqual("LS", "LS2"));
  tt.ok(namesEqual(`${"a".repeat(48)}X`, `${"a".repeat(48)}Y`), "strncmp stops after 48 bytes");
});

function fullLeader(): LeaderRecord {
  return {
    magic: PAXOS_DISK_MAGIC,
    version: PAXOS_DISK_VERSION,
    flags: 0x10 | LFL_SHORT_HOLD,
    sectorSize: 512,
    numHosts: 2000,
    maxHosts: 2000,
    ownerId: 17,
    ownerGeneration: BIG,
    lver: BIG + 1n,
    spaceName: "space",
    resourceName: "r".repeat(48),
    timestamp: BIG + 2n,
    unused1: 0n,
    checksum: 0,
    unused2: 0,
    ioTimeout: 0xffff,
    writeId: BIG + 3n,
    writeGeneration: BIG + 4n,
    writeTimestamp: BIG + 5n,
  };
}

t.test("leader record round trip and layout (§4)", async (tt) => {
  const rec = fullLeader();
  const bytes = encodeLeader(rec);
  tt.equal(bytes.length, 200);
  const view = new DataView(bytes.buffer);
  tt.equal(view.getUint32(0, true), PAXOS_DISK_MAGIC, "magic at 0, little-endian");
  tt.equal(view.getBigUint64(40, true), BIG, "owner_generation at 40");
  tt.equal(view.getUint16(174, true), 0xffff, "io_timeout at 174");
  tt.equal(view.getBigUint64(192, true), BIG + 5n, "write_timestamp at 192");
  const decoded = decodeLeader(bytes, 0, { kind: "paxos", spaceName: "space", resourceName: "r".repeat(48), hostId: 2000 });
  tt.same(decoded, { ...rec, checksum: leaderChecksum(bytes) }, "every field survives, including u64 above 2^53");
  tt.equal(decoded.checksum, sanlockCrc32c(bytes, 0, 168));
  // Fields outside the checksum: changing them keeps the checksum.
  const other = encodeLeader({ ...rec, ioTimeout: 1, writeId: 0n, writeGeneration: 0n, writeTimestamp: 0n });
  tt.equal(new DataView(other.buffer).getUint32(168, true), decoded.checksum, "io_timeout and write_* not covered");
  tt.ok(leadersCompareEqual(bytes, encodeLeader({ ...rec, timestamp: 1n })), "compare ignores timestamp and later");
  tt.notOk(leadersCompareEqual(bytes, encodeLeader({ ...rec, lver: 1n })));
  const kept = encodeLeader({ ...rec, checksum: 0x12345678 }, { checksum: "keep" });
  tt.equal(new DataView(kept.buffer).getUint32(168, true), 0x12345678, "keep mode stores the given checksum");
  tt.throws(() => encodeLeader({ ...rec, ioTimeout: 0x10000 }), { code: "ERR_DISK_FIELD_RANGE", message: /io_timeout/ });
  tt.throws(() => encodeLeader({ ...rec, lver: -1n }), { code: "ERR_DISK_FIELD_RANGE", message: /lver/ });
});

t.test("leader validation names field and byte (§4)", async (tt) => {
  const sector = new Uint8Array(1024);
  sector.set(encodeLeader(fullLeader()), 512);
  const at = 4096;
  const ok = { kind: "paxos" as const, at };
  tt.equal(decodeLeader(sector, 512, ok).ownerId, 17);
  tt.throws(() => decodeLeader(sector, 512, { kind: "delta", at }), {
    code: "ERR_DISK_BAD_MAGIC",
    details: { field: "magic", offset: 4608 },
    message: /0x06152010.*0x12212010.*byte 4608/,
  });
  tt.throws(() => decodeLeader(sector, 512, { ...ok, spaceName: "other" }), {
    code: "ERR_DISK_NAME_MISMATCH",
    details: { field: "spaceName", offset: 4608 + 56 },
  });
  tt.throws(() => decodeLeader(sector, 512, { ...ok, resourceName: "other" }), { code: "ERR_DISK_NAME_MISMATCH", details: { field: "resourceName" } });
  tt.throws(() => decodeLeader(sector, 512, { ...ok, hostId: 2001 }), { code: "ERR_DISK_FIELD_RANGE", details: { field: "numHosts" } });
  const badVersion = sector.slice();
  new DataView(badVersion.buffer).setUint32(516, 0x00050004, true);
  tt.throws(() => decodeLeader(badVersion, 512, ok), { code: "ERR_DISK_BAD_VERSION", details: { field: "version", offset: 4612 } });
  const minor = sector.slice();
  new DataView(minor.buffer).setUint32(516, 0x00060009, true);
  new DataView(minor.buffer).setUint32(512 + 168, leaderChecksum(minor, 512), true);
  tt.equal(decodeLeader(minor, 512, ok).version, 0x00060009, "only the major version is checked");
  const corrupt = sector.slice();
  corrupt[512 + 100] = corrupt[512 + 100]! ^ 1;
  tt.throws(() => decodeLeader(corrupt, 512, ok), { code: "ERR_DISK_BAD_CHECKSUM", details: { field: "checksum", offset: 4608 + 168 } });
  tt.equal(decodeLeader(corrupt, 512, { ...ok, verifyChecksum: false }).ownerId, 17);
  const inspection = inspectLeader(corrupt, 512, { ...ok, spaceName: "x" });
  tt.same(
    inspection.problems.map((p) => p.code),
    ["ERR_DISK_NAME_MISMATCH", "ERR_DISK_BAD_CHECKSUM"],
    "inspect lists all problems without throwing",
  );
  const cleared = encodeLeader({ ...fullLeader(), magic: PAXOS_DISK_CLEAR });
  tt.throws(() => decodeLeader(cleared, 0, { kind: "paxos" }), { code: "ERR_DISK_LEASE_CLEARED" });
  const huge = encodeLeader(fullLeader());
  new DataView(huge.buffer).setBigUint64(32, BIG, true);
  tt.same(
    inspectLeader(huge, 0, { kind: "paxos" }).problems.map((p) => [p.code, p.field]),
    [
      ["ERR_DISK_BAD_CHECKSUM", "checksum"],
      ["ERR_DISK_FIELD_RANGE", "owner_id"],
    ],
    "inspect reports range problems without throwing",
  );
  const hugeSum = huge.slice();
  new DataView(hugeSum.buffer).setUint32(168, leaderChecksum(hugeSum), true);
  tt.throws(
    () => decodeLeader(hugeSum, 0, { kind: "paxos", at: 0 }),
    { code: "ERR_DISK_FIELD_RANGE", details: { field: "owner_id", offset: 32 } },
    "valid checksum, host id above 2^53: refused, not rounded",
  );
  const wrongMagicHuge = huge.slice();
  wrongMagicHuge[0] = 0;
  tt.throws(() => decodeLeader(wrongMagicHuge, 0, { kind: "paxos" }), { code: "ERR_DISK_BAD_MAGIC" }, "magic checked before ranges");
  tt.throws(() => decodeLeader(new Uint8Array(100), 0, ok), { code: "ERR_DISK_SHORT_BUFFER" });
  tt.ok(new SanlockTsError("X", "m") instanceof Error);
});

t.test("delta sector and host bitmap (§5.1, §5.5)", async (tt) => {
  const rec: LeaderRecord = {
    ...emptyLeader(),
    magic: DELTA_DISK_MAGIC,
    version: DELTA_DISK_VERSION,
    flags: 0x10,
    sectorSize: 4096,
    maxHosts: 1,
    ownerId: 3,
    ownerGeneration: 2n,
    spaceName: "LS",
    resourceName: "host",
    timestamp: 99n,
    ioTimeout: 10,
    writeId: BIG,
  };
  const sector = encodeDeltaSector(rec, 4096);
  tt.equal(sector.length, 4096);
  for (const h of [1, 2, 8, 9, 2000]) setHostBit(sector, h);
  tt.equal(sector[256], 0x83, "hosts 1, 2, 8 -> byte 256 bits 0, 1, 7");
  tt.equal(sector[257], 0x01, "host 9 -> byte 257 bit 0");
  tt.equal(sector[256 + 249], 0x80, "host 2000 -> byte 505 bit 7");
  tt.same(hostBitsSet(sector, 2000), [1, 2, 8, 9, 2000]);
  tt.ok(testHostBit(sector, 2000));
  setHostBit(sector, 2, false);
  tt.notOk(testHostBit(sector, 2));
  tt.same(hostBitsSet(sector, 8), [1, 8], "listing stops at maxHosts");
  tt.throws(() => setHostBit(sector, 0), { code: "ERR_DEVICE_OUT_OF_RANGE" });
  const decoded = decodeDeltaSector(sector, 0, { spaceName: "LS" });
  tt.same(decoded.leader, { ...rec, checksum: leaderChecksum(sector) });
  tt.same(encodeDeltaSector(decoded.leader, 4096, decoded.bitmap), sector, "round trip with bitmap");
  tt.ok(
    sector.subarray(512).every((b) => b === 0),
    "bytes 512.. zero in a 4K sector",
  );
  clearHostBitmap(sector);
  tt.same(hostBitsSet(sector, 2000), []);
  tt.throws(() => encodeDeltaSector(rec, 1024), { code: "ERR_DISK_BAD_GEOMETRY" });
});

t.test("request record (§6.3)", async (tt) => {
  const rec = { magic: REQ_DISK_MAGIC, version: REQ_DISK_VERSION, lver: BIG, forceMode: 2 };
  const bytes = encodeRequestRecord(rec);
  tt.equal(bytes.length, 24);
  tt.same(decodeRequestRecord(bytes), rec);
  const garbage = bytes.slice();
  garbage.set([0x61, 0x55], 20);
  tt.same(decodeRequestRecord(garbage), rec, "padding ignored on read");
  tt.same([...bytes.subarray(20)], [0, 0, 0, 0], "padding written as zero");
  const bad = bytes.slice();
  bad[0] = 0;
  tt.throws(() => decodeRequestRecord(bad, 0, 1536), { code: "ERR_DISK_BAD_MAGIC", details: { field: "magic", offset: 1536 } });
  const badVer = bytes.slice();
  new DataView(badVer.buffer).setUint32(4, 0x00020001, true);
  tt.throws(() => decodeRequestRecord(badVer, 0, 512), { code: "ERR_DISK_BAD_VERSION", details: { offset: 516 } });
});

t.test("dblock, mode block, dblock sector (§6.4, §6.5)", async (tt) => {
  const d = { mbal: 4001n, bal: 4001n, inp: 1, inp2: BIG, inp3: 1152n, lver: 3n, checksum: 0, flags: 1 };
  const bytes = encodeDblock(d);
  tt.equal(bytes.length, 56);
  const back = decodeDblock(bytes);
  tt.same(back, { ...d, checksum: sanlockCrc32c(bytes, 0, 48) });
  const flagChanged = encodeDblock({ ...d, flags: 0 });
  tt.equal(decodeDblock(flagChanged).checksum, back.checksum, "flags not covered by the checksum");
  const corrupt = bytes.slice();
  corrupt[8] = corrupt[8]! ^ 0x10;
  tt.throws(() => decodeDblock(corrupt, 0, 2048), { code: "ERR_DISK_BAD_CHECKSUM", details: { field: "checksum", offset: 2048 + 48 } });
  tt.ok(isEmptyDblock(decodeDblock(new Uint8Array(56))), "all-zero dblock accepted without checksum");
  const zeroSumNonEmpty = new Uint8Array(56);
  zeroSumNonEmpty[0] = 1;
  tt.throws(() => decodeDblock(zeroSumNonEmpty), { code: "ERR_DISK_BAD_CHECKSUM" }, "zero checksum only accepted when everything is zero");
  tt.same(decodeModeBlock(encodeModeBlock({ flags: 1, generation: BIG })), { flags: 1, generation: BIG });
  const sector = encodeDblockSector(d, 512, { flags: 1, generation: 7n });
  tt.equal(sector.length, 512);
  tt.equal(sector[128], 1, "mode block at sector offset 128");
  tt.equal(new DataView(sector.buffer).getBigUint64(136, true), 7n, "generation at 136");
  tt.same(decodeDblockSector(sector), { dblock: back, mode: { flags: 1, generation: 7n } });
  tt.same(
    encodeDblockSector(emptyDblock(), 4096)
      .subarray(56)
      .every((b) => b === 0),
    true,
  );
});

t.test("rindex header and entries (§8)", async (tt) => {
  const h = {
    magic: RINDEX_DISK_MAGIC,
    version: RINDEX_DISK_VERSION,
    flags: 8,
    sectorSize: 4096,
    maxResources: 4096,
    unused: 0,
    rxOffset: 8 * MiB,
    lockspaceName: "LS",
  };
  const bytes = encodeRindexHeader(h);
  tt.equal(bytes.length, 80);
  tt.same(decodeRindexHeader(bytes, 0, { at: 8 * MiB, lockspaceName: "LS" }), h);
  tt.throws(() => decodeRindexHeader(bytes, 0, { at: MiB }), { code: "ERR_DISK_FIELD_RANGE", details: { field: "rx_offset", offset: MiB + 24 } });
  tt.throws(() => decodeRindexHeader(bytes, 0, { at: 8 * MiB, lockspaceName: "X" }), { code: "ERR_DISK_NAME_MISMATCH" });
  const e = { resOffset: 3 * MiB, flags: 0, unused: 0, name: "RXA" };
  const eb = encodeRindexEntry(e);
  tt.equal(eb.length, 64);
  tt.same(decodeRindexEntry(eb), e);
  tt.notOk(isFreeRindexEntry(e));
  tt.ok(isFreeRindexEntry(decodeRindexEntry(new Uint8Array(64))));
});

t.test("LVB placement (§6.6, §11)", async (tt) => {
  tt.equal(lvbOffset(3 * MiB, geometryFor(512, MiB)), 3 * MiB + 1025024);
  tt.equal(lvbOffset(0, geometryFor(4096, MiB)), 8200192);
  tt.same(GEOMETRIES.map(lvbOutsideArea), [false, true, true, true, false]);
  const previous = new Uint8Array(512).fill(7);
  const sector = encodeLvbSector(new TextEncoder().encode("hi"), 512, previous);
  tt.same([...sector.subarray(0, 3)], [0x68, 0x69, 7], "data then the previous content");
  tt.throws(() => encodeLvbSector(new Uint8Array(513), 512), { code: "ERR_DISK_FIELD_RANGE" });
});

t.test("memory device enforces the BlockDevice contract", async (tt) => {
  const dev = new MemoryDevice({ size: 8192, sectorSize: 4096 });
  await tt.rejects(dev.read(512, 4096), { code: "ERR_DEVICE_MISALIGNED" });
  await tt.rejects(dev.read(0, 512), { code: "ERR_DEVICE_MISALIGNED" });
  await tt.rejects(dev.write(0, new Uint8Array(100)), { code: "ERR_DEVICE_MISALIGNED" });
  await tt.rejects(dev.read(4096, 8192), { code: "ERR_DEVICE_OUT_OF_RANGE" });
  await tt.rejects(dev.write(8192, new Uint8Array(4096)), { code: "ERR_DEVICE_OUT_OF_RANGE" });
  const data = new Uint8Array(4096).fill(9);
  await dev.write(4096, data);
  const back = await dev.read(4096, 4096);
  tt.same(back, data);
  back[0] = 1;
  tt.equal((await dev.read(4096, 4096))[0], 9, "reads return copies");
  const grow = new MemoryDevice({ size: 0, growable: true });
  await grow.write(1024, new Uint8Array(512));
  tt.equal(await grow.size(), 1536, "growable device extends like a file");
  await dev.close();
  await tt.rejects(dev.read(0, 4096), { code: "ERR_DEVICE_CLOSED" });
  tt.throws(() => new MemoryDevice({ size: 1000 }), { code: "ERR_DEVICE_MISALIGNED" });
});
