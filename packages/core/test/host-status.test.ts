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
