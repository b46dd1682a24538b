// Host states from observed renewals (docs/algorithms.md §3.3, §3.4), on a virtual clock.
import t from "tap";
import { HostStatusTable, VirtualClock, type ObservedRecord } from "../src/index.js";

function record(hostId: number, timestamp: bigint, generation = 1n, ioTimeout = 10): ObservedRecord {
  return {
    hostId,
    valid: true,
    ownerId: timestamp === 0n && generation === 0n ? 0 : hostId,
    ownerGeneration: generation,
    timestamp,
    ioTimeout,
    hostName: `h${hostId}`,
    ourBitSet: false,
    eventGeneration: 0n,
    eventNumber: 0n,
    eventData: 0n,
  };
}

function table(clock: VirtualClock): HostStatusTable {
  return new HostStatusTable({ ourHostId: 1, ownIoTimeout: 10, maxHosts: 8, clock, setBitmapSeconds: 60 });
}

t.test("a live host is UNKNOWN until its timestamp changes, then LIVE", async (t) => {
  const clock = new VirtualClock(500);
  const st = table(clock);
  st.observe([record(1, 400n), record(2, 77n)]);
  t.equal(st.state(2), "UNKNOWN", "first examination: no change seen yet");
  t.equal(st.state(1), "LIVE", "our own host_id");
  clock.advance(20);
  st.observe([record(1, 420n), record(2, 97n)]);
  t.equal(st.state(2), "LIVE");
  t.equal(st.state(3), "FREE", "never-used record");
});

t.test("a stopped host goes FAIL after 8N and DEAD after 8N+60 of its own io_timeout", async (t) => {
  const clock = new VirtualClock(500);
  const st = table(clock);
  st.observe([record(2, 77n, 1n, 5)]);
  clock.advance(20);
  st.observe([record(2, 97n, 1n, 5)]); // last change seen at 520
  clock.advance(40);
  st.observe([record(2, 97n, 1n, 5)]);
  t.equal(st.state(2), "LIVE", "40 s = 8N: still LIVE");
  clock.advance(1);
  t.equal(st.state(2), "FAIL", "41 s > 8N");
  t.ok(st.isSharedHolderAlive(2, 1n), "not yet proven dead");
  clock.advance(59);
  t.equal(st.state(2), "FAIL", "100 s = 8N+60: not yet DEAD");
  clock.advance(1);
  t.equal(st.state(2), "DEAD", "more than 8N+60 = 100 s without change");
  t.notOk(st.isSharedHolderAlive(2, 1n), "shared holder proven dead");
});

t.test("a host seen at first examination but never changing: DEAD host_dead_seconds after we started", async (t) => {
  const clock = new VirtualClock(500);
  const st = table(clock);
  st.observe([record(2, 77n)]);
  clock.advance(80);
  t.equal(st.state(2), "UNKNOWN", "8N: still UNKNOWN");
  clock.advance(1);
  t.equal(st.state(2), "FAIL");
  clock.advance(60);
  t.equal(st.state(2), "DEAD");
});

t.test("shared holder judged by generation and free host_id", async (t) => {
  const clock = new VirtualClock(500);
  const st = table(clock);
  t.ok(st.isSharedHolderAlive(2, 1n), "never examined: alive");
  st.observe([record(2, 77n, 3n)]);
  t.notOk(st.isSharedHolderAlive(2, 2n), "rejoined with a newer generation: old instance dead");
  t.ok(st.isSharedHolderAlive(2, 3n), "same generation, recently seen: alive");
  clock.advance(5);
  st.observe([{ ...record(2, 0n, 3n), ownerId: 2 }]);
  t.notOk(st.isSharedHolderAlive(2, 3n), "host_id released: dead");
  t.equal(st.state(2), "FREE");
});

t.test("our bit in a changed record is reported once per set_bitmap_seconds for requests", async (t) => {
  const clock = new VirtualClock(500);
  const st = table(clock);
  const withBit = (ts: bigint): ObservedRecord => ({ ...record(2, ts), ourBitSet: true, eventNumber: 9n, eventData: 4n });
  const first = st.observe([withBit(10n)]);
  t.equal(first.length, 1);
  t.equal(first[0]?.examineRequests, true);
  t.equal(first[0]?.eventNumber, 9n);
  clock.advance(20);
  const second = st.observe([withBit(30n)]);
  t.equal(second[0]?.examineRequests, false, "within set_bitmap_seconds: event delivered, no re-examination");
  const unchanged = st.observe([withBit(30n)]);
  t.equal(unchanged.length, 0, "unchanged record: bitmap not examined");
});

// observeChanges (the daemon's main thread, fed by the renewal worker's changes) against observe()
// of every record: random reads of a few hosts, with invalid records whose owner differs from the
// entry's identity (observed again every read) among them.
t.test("observeChanges of the changed records equals observe() of the whole read", async (t) => {
  const maxHosts = 6;
  let seed = 11;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const randomRecord = (hostId: number): ObservedRecord => ({
    hostId,
    valid: random(3) !== 0,
    ownerId: random(3),
    ownerGeneration: BigInt(random(3)),
    timestamp: BigInt(random(4)),
    ioTimeout: 1 + random(2),
    hostName: `h${random(2)}`,
    ourBitSet: random(2) === 0,
    eventGeneration: BigInt(random(2)),
    eventNumber: BigInt(random(2)),
    eventData: 0n,
  });
  const empty = (hostId: number): ObservedRecord => ({
    ...randomRecord(hostId),
    valid: false,
    ownerId: 0,
    ownerGeneration: 0n,
    timestamp: 0n,
    ioTimeout: 0,
    hostName: "",
    ourBitSet: false,
    eventGeneration: 0n,
    eventNumber: 0n,
  });
  const clock = new VirtualClock(100);
  const options = { ourHostId: 2, ownIoTimeout: 1, maxHosts, clock, setBitmapSeconds: 6 };
  const whole = new HostStatusTable(options);
  const changes = new HostStatusTable(options);
  let read: ObservedRecord[] = Array.from({ length: maxHosts }, (_, i) => empty(i + 1)); // both start from all-zero sectors
  const stored = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
  let differences = 0;
  for (let n = 0; n < 400 && differences === 0; n++) {
    clock.advance(1 + random(4));
    const next = read.map((rec) => (random(3) === 0 ? randomRecord(rec.hostId) : rec));
    const changed = next.filter((rec, i) => stored(rec) !== stored(read[i]));
    read = next;
    const a = whole.observe(read);
    const b = changes.observeChanges(changed);
    if (stored(a) !== stored(b)) differences++;
    for (let h = 1; h <= maxHosts; h++) {
      if (stored(whole.snapshot(h)) !== stored(changes.snapshot(h)) || whole.state(h) !== changes.state(h)) differences++;
    }
    if (differences > 0) t.fail(`read ${n}: notifications ${stored(a)} vs ${stored(b)}`);
  }
  t.equal(differences, 0, "400 random reads: same notifications, snapshots and states");
});
