// Renewal reads handed to the main thread as changes (lockspaces/area-changes.ts): a host
// status table fed with the worker's changes ends every read exactly as a table fed with
// every record of the read, decoded in full (docs/algorithms.md §3.2) — same notifications, same
// per-host snapshot and state. Delta sectors are real sanlock 3.8.5 bytes (test/vectors).
import t from "tap";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { HostStatusTable, VirtualClock, nameCompareBytes, observedRecordAt, type ObservedRecord } from "@sanlock-ts/core";
import { AreaChangeTracker } from "../src/lockspaces/area-changes.js";
import { decodeEveryRecord } from "../../../test/support/index.js";

const VECTORS = fileURLToPath(new URL("../../../test/vectors/", import.meta.url));
const SECTOR = 512;
const MAX_HOSTS = 8;
const LOCKSPACE = "LS";
const OUR_HOST_ID = 2;

function sector(file: string, index = 0): Uint8Array {
  return new Uint8Array(readFileSync(VECTORS + file)).slice(index * SECTOR, (index + 1) * SECTOR);
}

const FREE = sector("ls-512-1M-init.bin");
const LIVE = sector("ls-512-live.bin");
const RENEWED = sector("ls-512-renewed.bin");
const EVENT = sector("ls-512-event.bin"); // bit for host 2 set, event 7/4386/13124
const BIT_CLEARED = sector("ls-512-event-bitcleared.bin");
const REMOVED = sector("ls-512-removed.bin");

/** The same record under another lockspace name (invalid for LS, docs/algorithms.md §3.2 step 2). */
function renamed(source: Uint8Array, name: string): Uint8Array {
  const copy = source.slice();
  copy.fill(0, 56, 56 + 48);
  copy.set(new TextEncoder().encode(name), 56);
  return copy;
}

/** An area of MAX_HOSTS sectors: `sectors[h-1]` for host h, FREE where not given. */
function area(sectors: Record<number, Uint8Array>): Uint8Array {
  const bytes = new Uint8Array(MAX_HOSTS * SECTOR);
  for (let h = 1; h <= MAX_HOSTS; h++) bytes.set(sectors[h] ?? FREE, (h - 1) * SECTOR);
  return bytes;
}

/** Reference: every record of the read decoded, as the watcher describes it (docs/algorithms.md §3.2 step 2). */
function fullObservation(bytes: Uint8Array): ObservedRecord[] {
  return decodeEveryRecord(bytes, { sectorSize: SECTOR, maxHosts: MAX_HOSTS, lockspace: LOCKSPACE, ourHostId: OUR_HOST_ID });
}

function table(clock: VirtualClock): HostStatusTable {
  return new HostStatusTable({ ourHostId: OUR_HOST_ID, ownIoTimeout: 1, maxHosts: MAX_HOSTS, clock, setBitmapSeconds: 6 });
}

t.test("a table fed with changes matches one fed with every record, read after read", async (t) => {
  const clock = new VirtualClock(100);
  const reference = table(clock);
  const fed = table(clock);
  const tracker = new AreaChangeTracker({ sectorSize: SECTOR, maxHosts: MAX_HOSTS }, LOCKSPACE, OUR_HOST_ID);
  const reads: [string, Uint8Array][] = [
    ["initialized area", area({})],
    ["nothing changed", area({})],
    ["host 1 joined", area({ 1: LIVE })],
    ["host 1 renewed", area({ 1: RENEWED })],
    ["host 1 renewed, nothing new on disk", area({ 1: RENEWED })],
    ["host 1 sets our bit and an event", area({ 1: EVENT })],
    ["host 1 clears the bit", area({ 1: BIT_CLEARED })],
    ["host 3 zeroed", area({ 1: BIT_CLEARED, 3: new Uint8Array(SECTOR) })],
    ["host 4 of another lockspace with our bit", area({ 1: BIT_CLEARED, 3: new Uint8Array(SECTOR), 4: renamed(EVENT, "OTHER") })],
    [
      "again (an invalid record with a new owner counts as changed every read)",
      area({ 1: BIT_CLEARED, 3: new Uint8Array(SECTOR), 4: renamed(EVENT, "OTHER") }),
    ],
    ["host 1 left", area({ 1: REMOVED, 3: new Uint8Array(SECTOR), 4: renamed(EVENT, "OTHER") })],
  ];
  let previous: Uint8Array = new Uint8Array(MAX_HOSTS * SECTOR); // both sides start from "all zero"
  let notified = 0;
  for (const [what, bytes] of reads) {
    clock.advance(2);
    const changed = tracker.changes(bytes);
    const differing = [];
    for (let h = 1; h <= MAX_HOSTS; h++) {
      const at = (h - 1) * SECTOR;
      if (Buffer.compare(bytes.subarray(at, at + SECTOR), previous.subarray(at, at + SECTOR)) !== 0) differing.push(h);
    }
    t.same(
      changed.map((r) => r.hostId),
      differing,
      `${what}: the worker sends exactly the hosts whose sector changed`,
    );
    const expected = reference.observe(fullObservation(bytes));
    const got = fed.observeChanges(changed);
    t.same(got, expected, `${what}: same notifications`);
    notified += got.length;
    for (let h = 1; h <= MAX_HOSTS; h++) {
      t.same(fed.snapshot(h), reference.snapshot(h), `${what}: host ${h} snapshot`);
      t.equal(fed.state(h), reference.state(h), `${what}: host ${h} state`);
    }
    previous = bytes;
  }
  t.ok(notified >= 1, "the event of host 1 was delivered");
});

// Another host's count fields above 2^53-1 (torn or random bytes) no longer fail the read: sanlock
// reads them as u64 and joins; failing the read made our join answer -201 (corrupt-areas.test.ts).
t.test("another host's record with out-of-range count fields is read leniently", async (t) => {
  const tracker = new AreaChangeTracker({ sectorSize: SECTOR, maxHosts: MAX_HOSTS }, LOCKSPACE, OUR_HOST_ID);
  t.equal(tracker.changes(area({})).length, MAX_HOSTS, "first read: every initialized record is new");
  const bad = LIVE.slice();
  bad.fill(0xff, 16, 24); // num_hosts = 2^64 - 1: not a JS number
  let changed: number[] = [];
  t.doesNotThrow(() => {
    changed = tracker.changes(area({ 1: RENEWED, 2: bad })).map((r) => r.hostId);
  }, "the read with the odd record is observed");
  t.ok(changed.includes(1), `host 1's renewal is reported (${JSON.stringify(changed)})`);
});

t.test("shape limits", async (t) => {
  t.throws(() => new AreaChangeTracker({ sectorSize: 1024, maxHosts: 8 }, LOCKSPACE, 1), RangeError);
  t.throws(() => new AreaChangeTracker({ sectorSize: 512, maxHosts: 2001 }, LOCKSPACE, 1), RangeError);
  t.throws(() => new AreaChangeTracker({ sectorSize: 512, maxHosts: 8 }, LOCKSPACE, 0), RangeError, "host_id 0");
  const live = fullObservation(area({ 1: LIVE }))[0]!;
  const small = table(new VirtualClock(100));
  t.same(small.observeChanges([{ ...live, hostId: MAX_HOSTS + 1 }]), [], "a record of a host_id beyond the table is ignored, as observe() does");
  const tracker = new AreaChangeTracker({ sectorSize: SECTOR, maxHosts: MAX_HOSTS }, LOCKSPACE, 1);
  t.throws(() => tracker.changes(new Uint8Array(SECTOR)), RangeError, "a short read is refused");
});

const bigints = (_key: string, value: unknown): unknown => (typeof value === "bigint" ? value.toString() : value);

/** The bitmap byte holding OUR_HOST_ID's bit (docs/ondisk.md §5.5). */
const OUR_BIT_BYTE = 256 + ((OUR_HOST_ID - 1) >> 3);

t.test("changes in a 2000-host area: exactly the sectors whose leader record or our bitmap byte changed", async (t) => {
  for (const sectorSize of [512, 4096]) {
    const maxHosts = sectorSize === 512 ? 2000 : 250;
    const tracker = new AreaChangeTracker({ sectorSize, maxHosts }, LOCKSPACE, OUR_HOST_ID);
    // An initialized area (every host's sector the same free record, as sanlock writes it), so
    // runs of equal records share kept bytes in the tracker, and changes split and join them.
    const area = new Uint8Array(sectorSize * maxHosts);
    for (let s = 0; s < maxHosts; s++) area.set(FREE, s * sectorSize);
    const last = new Uint8Array(area.length); // what the tracker saw at its previous read
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let read = 0; read < 200; read++) {
      const touched = new Set<number>();
      for (let k = random(6); k > 0; k--) {
        const s = random(maxHosts);
        touched.add(s);
        // a live record, a zeroed one, one byte of the leader record, our bit's byte, a byte
        // nothing is decoded from (another host's bitmap byte, or past the first 512), the free
        // record again, or the previous host's sector (equal neighbours share kept bytes)
        const choice = random(7);
        if (choice === 0) area.set(random(2) ? LIVE : RENEWED, s * sectorSize);
        else if (choice === 1) area.fill(0, s * sectorSize, s * sectorSize + 512);
        else if (choice === 2) area[s * sectorSize + random(200)] = random(256);
        else if (choice === 3) area[s * sectorSize + OUR_BIT_BYTE] = (area[s * sectorSize + OUR_BIT_BYTE] ?? 0) ^ (1 << random(8));
        else if (choice === 4) area[s * sectorSize + 200 + random(sectorSize - 200)] = random(256);
        else if (choice === 5) area.set(FREE, s * sectorSize);
        else if (s > 0) area.copyWithin(s * sectorSize, (s - 1) * sectorSize, s * sectorSize);
      }
      const expected: number[] = [];
      for (let s = 0; s < maxHosts; s++) {
        // what a record is decoded from: the leader record and the byte holding our bit
        const parts = (bytes: Uint8Array): number[] => [...bytes.subarray(s * sectorSize, s * sectorSize + 200), bytes[s * sectorSize + OUR_BIT_BYTE]!];
        const a = parts(area);
        const b = parts(last);
        if (!a.every((x, i) => x === b[i])) expected.push(s + 1);
      }
      // what the tracker leaves out is what cannot change a record: decoded, it is the same
      for (const s of touched) {
        if (expected.includes(s + 1)) continue;
        const decode = (bytes: Uint8Array): ObservedRecord =>
          observedRecordAt(bytes, s * sectorSize, sectorSize, s + 1, nameCompareBytes(LOCKSPACE), OUR_HOST_ID);
        if (JSON.stringify(decode(area), bigints) !== JSON.stringify(decode(last), bigints)) {
          t.fail(`${sectorSize}: read ${read}: host ${s + 1}'s record changed with neither part`);
          return;
        }
      }
      const got = tracker.changes(area).map((r) => r.hostId);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        t.fail(`${sectorSize}: read ${read}: changed ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
        return;
      }
      last.set(area);
    }
    t.pass(`${sectorSize}-byte sectors: 200 reads, every change and only those`);
  }
});

t.test("every byte a record is decoded from is compared, and no other", async (t) => {
  for (const sectorSize of [512, 4096]) {
    const tracker = new AreaChangeTracker({ sectorSize, maxHosts: MAX_HOSTS }, LOCKSPACE, OUR_HOST_ID);
    const bytes = new Uint8Array(sectorSize * MAX_HOSTS);
    for (let h = 1; h <= MAX_HOSTS; h++) bytes.set(LIVE, (h - 1) * sectorSize);
    tracker.changes(bytes);
    const host = 5;
    const at = (host - 1) * sectorSize;
    const missed: number[] = [];
    const extra: number[] = [];
    for (let offset = 0; offset < sectorSize; offset++) {
      const decodedFrom = offset < 200 || offset === OUR_BIT_BYTE;
      bytes[at + offset] = (bytes[at + offset] ?? 0) ^ 0x10;
      const changed = tracker.changes(bytes).map((r) => r.hostId);
      bytes[at + offset] = (bytes[at + offset] ?? 0) ^ 0x10;
      const back = tracker.changes(bytes).map((r) => r.hostId);
      const want = decodedFrom ? [host] : [];
      if (JSON.stringify(changed) !== JSON.stringify(want) || JSON.stringify(back) !== JSON.stringify(want)) (decodedFrom ? missed : extra).push(offset);
    }
    t.same(missed, [], `${sectorSize}: a change of any leader byte or our bitmap byte is reported, and its undoing`);
    t.same(extra, [], `${sectorSize}: a change of any other byte is not`);
  }
});
