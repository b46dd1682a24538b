// The watcher fed a whole renewal read (docs/algorithms.md §3.2): HostStatusTable.observeArea must
// give exactly what observe() gives for the per-record view decoded record by record, and the
// name and record comparisons it relies on must agree with the decoding ones.
import t from "tap";
import {
  DELTA_DISK_MAGIC,
  HostStatusTable,
  SeededRandom,
  VirtualClock,
  buildLockspaceAreaFirstWrite,
  emptyLeader,
  encodeDeltaSector,
  encodeLeader,
  freeDeltaLeader,
  geometryFor,
  leaderFieldsEqual,
  nameCompareBytes,
  nameFieldEquals,
  namesEqual,
  readName,
  setHostBit,
  writeName,
  type Geometry,
  type LeaderRecord,
  type ObservedRecord,
} from "../src/index.js";
import { decodeEveryRecord } from "../../../test/support/index.js";

const MiB = 1048576;
const OUR_HOST = 3;

/** The per-record view as decoded field by field (what renewals built before observeArea). */
function decodedRecords(area: Uint8Array, g: Geometry, lockspace: string): ObservedRecord[] {
  return decodeEveryRecord(area, { sectorSize: g.sectorSize, maxHosts: g.maxHosts, lockspace, ourHostId: OUR_HOST });
}

function lockspaceArea(g: Geometry): Uint8Array {
  const area = buildLockspaceAreaFirstWrite("LS", g, 10);
  area.set(encodeDeltaSector(freeDeltaLeader("LS", g, 10), g.sectorSize), 0);
  return area;
}

/** One random change to host h's record, like joins, renewals, leaves, events and corruption. */
function mutate(area: Uint8Array, g: Geometry, h: number, rnd: SeededRandom): void {
  const at = (h - 1) * g.sectorSize;
  const sector = area.subarray(at, at + g.sectorSize);
  const view = new DataView(area.buffer, area.byteOffset + at, g.sectorSize);
  const pick = Math.floor(rnd.next() * 8);
  const small = (): bigint => BigInt(1 + Math.floor(rnd.next() * 5));
  if (pick === 0) view.setBigUint64(152, view.getBigUint64(152, true) + small(), true); // renewal
  if (pick === 1) {
    // join
    view.setBigUint64(32, BigInt(h), true);
    view.setBigUint64(40, view.getBigUint64(40, true) + 1n, true);
    view.setBigUint64(152, small(), true);
    writeName(sector, 104, `host-${h}-${Math.floor(rnd.next() * 100)}`);
    view.setUint16(174, 1 + Math.floor(rnd.next() * 20), true);
  }
  if (pick === 2) view.setBigUint64(152, 0n, true); // leave
  if (pick === 3) setHostBit(sector, OUR_HOST, rnd.next() < 0.7); // request bit
  if (pick === 4) {
    view.setBigUint64(176, small(), true);
    view.setBigUint64(184, small(), true);
  } // event
  if (pick === 5) view.setUint32(0, rnd.next() < 0.5 ? 0 : DELTA_DISK_MAGIC, true); // magic lost / back
  if (pick === 6) writeName(sector, 56, rnd.next() < 0.5 ? "OTHER" : "LS"); // lockspace name
  if (pick === 7) view.setBigUint64(152 + 4 * Math.floor(rnd.next() * 2), BigInt(Math.floor(rnd.next() * 2 ** 32)) << 16n, true); // high timestamp bits
}

function statusOf(table: HostStatusTable, g: Geometry): unknown[] {
  const out: unknown[] = [];
  for (let h = 1; h <= g.maxHosts; h++) out.push([table.snapshot(h), table.state(h), table.isSharedHolderAlive(h, 1n)]);
  return out;
}

for (const g of [geometryFor(512, MiB), geometryFor(4096, MiB)]) {
  t.test(`${g.sectorSize}-byte sectors: observeArea matches observe() over random rounds`, async (t) => {
    const rnd = new SeededRandom(g.sectorSize);
    const area = lockspaceArea(g);
    const clockA = new VirtualClock(1000);
    const clockB = new VirtualClock(1000);
    const opts = { ourHostId: OUR_HOST, ownIoTimeout: 10, maxHosts: g.maxHosts, setBitmapSeconds: 60 };
    const byRecords = new HostStatusTable({ ...opts, clock: clockA });
    const byArea = new HostStatusTable({ ...opts, clock: clockB });
    // The daemon's main thread: never sees the area, only what byArea examined in it.
    const mirror = new HostStatusTable({ ...opts, clock: clockB });
    let notified = 0;
    let reexamined = 0;
    let previous: Uint8Array = area.slice();
    for (let round = 0; round < 40; round++) {
      const changes = Math.floor(rnd.next() * 30);
      // Half the changes fall on 16 hosts, so that one record sees several in a row.
      for (let i = 0; i < changes; i++) mutate(area, g, 1 + Math.floor(rnd.next() * (rnd.next() < 0.5 ? 16 : g.maxHosts)), rnd);
      const a = byRecords.observe(decodedRecords(area, g, "LS"));
      const examined = byArea.examineArea(area, g.sectorSize, "LS");
      const b = byArea.observeExamined(examined);
      const c = mirror.observeExamined(examined);
      t.same(b, a, `round ${round}: notifications`);
      t.same(c, a, `round ${round}: the mirror's notifications`);
      notified += a.length;
      reexamined += examined.filter((rec) => sectorOf(area, g, rec.hostId).every((byte, i) => byte === sectorOf(previous, g, rec.hostId)[i])).length;
      previous = area.slice();
      const step = 1 + Math.floor(rnd.next() * 40);
      clockA.advance(step);
      clockB.advance(step);
      if (round % 10 === 9) {
        const expected = statusOf(byRecords, g);
        t.same(statusOf(byArea, g), expected, `round ${round}: every host's status`);
        t.same(statusOf(mirror, g), expected, `round ${round}: every host's status in the mirror`);
      }
    }
    t.ok(notified > 0, "some rounds carried notifications for us");
    // An invalid record whose owner differs from the entry's identity is examined again while unchanged (docs/algorithms.md §3.2 step 4).
    t.ok(reexamined > 0, "some unchanged records were examined again");
  });
}

function sectorOf(area: Uint8Array, g: Geometry, hostId: number): Uint8Array {
  return area.subarray((hostId - 1) * g.sectorSize, hostId * g.sectorSize);
}

// Another host's record with count fields above 2^53-1 (torn or random bytes) no longer fails the
// observation: sanlock reads them as u64 and joins (corrupt-areas.test.ts compares with it); a
// failing observation made our join answer -201.
t.test("another host's record with out-of-range count fields is observed leniently", async (t) => {
  const g = geometryFor(512, MiB);
  const area = lockspaceArea(g);
  const table = new HostStatusTable({ ourHostId: OUR_HOST, ownIoTimeout: 10, maxHosts: g.maxHosts, setBitmapSeconds: 60, clock: new VirtualClock(1000) });
  new DataView(area.buffer).setBigUint64(7 * 512 + 152, 55n, true);
  new DataView(area.buffer).setBigUint64(7 * 512 + 32, 8n, true);
  table.observeArea(area, 512, "LS");
  const before = statusOf(table, g);
  new DataView(area.buffer).setBigUint64(5 * 512 + 152, 99n, true); // host 6 renewed
  new DataView(area.buffer).setBigUint64(1500 * 512 + 24, 2n ** 60n, true); // host 1501: max_hosts above 2^53-1
  t.throws(() => table.observe(decodedRecords(area, g, "LS")), { code: "ERR_DISK_FIELD_RANGE" }, "decoding record by record fails");
  t.doesNotThrow(() => table.observeArea(area, 512, "LS"), "observeArea reads the record anyway");
  t.notSame(statusOf(table, g), before, "host 6's renewal was applied");
  t.throws(() => table.observeArea(area.subarray(0, 1000 * 512), 512, "LS"), RangeError, "short read");
});

t.test("raw name comparison agrees with strncmp on decoded names", async (t) => {
  const names = ["LS", "LS2", "L", "", "a".repeat(47), "a".repeat(48), `${"a".repeat(48)}X`, "ünïcödé"];
  for (const stored of names) {
    const field = new Uint8Array(48);
    writeName(field, 0, stored.length > 48 ? stored.slice(0, 48) : stored);
    for (const name of names) {
      t.equal(nameFieldEquals(field, 0, nameCompareBytes(name)), namesEqual(readName(field, 0), name), `"${stored}" vs "${name}"`);
    }
  }
});

t.test("leaderFieldsEqual agrees with comparing encodings", async (t) => {
  const base: LeaderRecord = {
    ...emptyLeader(),
    magic: DELTA_DISK_MAGIC,
    version: 0x30004,
    flags: 0x10,
    sectorSize: 512,
    numHosts: 7,
    maxHosts: 2000,
    ownerId: 5,
    ownerGeneration: 9n,
    lver: 3n,
    spaceName: "LS",
    resourceName: "res",
    timestamp: 77n,
    unused1: 1n,
    checksum: 1234,
    unused2: 2,
    ioTimeout: 10,
    writeId: 5n,
    writeGeneration: 9n,
    writeTimestamp: 70n,
  };
  const changes: Partial<LeaderRecord>[] = [
    {},
    { magic: 1 },
    { version: 1 },
    { flags: 0x11 },
    { sectorSize: 4096 },
    { numHosts: 8 },
    { maxHosts: 250 },
    { ownerId: 6 },
    { ownerGeneration: 10n },
    { lver: 4n },
    { spaceName: "LT" },
    { resourceName: "res2" },
    { timestamp: 78n },
    { unused1: 0n },
    { checksum: 99 },
    { unused2: 0 },
    { ioTimeout: 11 },
    { writeId: 6n },
    { writeGeneration: 8n },
    { writeTimestamp: 71n },
    { resourceName: "\ud800" },
    { spaceName: "\udfff" },
  ];
  const encoded = (r: LeaderRecord): string => Buffer.from(encodeLeader(r)).toString("hex");
  for (const a of changes) {
    for (const b of changes) {
      const x = { ...base, ...a };
      const y = { ...base, ...b };
      t.equal(leaderFieldsEqual(x, y), encoded(x) === encoded(y), `${JSON.stringify(Object.keys(a))} vs ${JSON.stringify(Object.keys(b))}`);
    }
  }
});
