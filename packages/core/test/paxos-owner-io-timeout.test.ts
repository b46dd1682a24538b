// The dead-wait of the owner-gone check is host_dead_seconds of the OWNER's io_timeout
// (docs/algorithms.md §4.4 step 2.6; docs/deviations.md D1). Hosts of one lockspace may join with
// different io_timeouts; an owner whose io_timeout is longer than ours has a watchdog that fires
// later, so waiting by ours would take its lease while its processes may still write (simulator
// seed 109981). These cases build the leader on a memory device, answer the owner's delta record
// reads with a record that never changes, and measure on a virtual clock when the check says
// "gone": never before 8·(owner's io_timeout) + 60 from where the wait starts.
import t from "tap";
import {
  HostStatusTable,
  MemoryDevice,
  PaxosDisk,
  VirtualClock,
  decideOwnerGone,
  hostDeadSeconds,
  ownerIoTimeout,
  readLeaderFields,
  writeLeader,
  type DeltaRecordView,
  type HostLiveness,
  type HostStatusEntry,
  type OwnerVerdict,
} from "../src/index.js";
import { drive, placeResource } from "./delta-harness.js";

const MiB = 1048576;
const AREA = MiB;
const START = 1000;
const OWNER = 2;
const OWNER_GEN = 4n;

function leaseDevice(): MemoryDevice {
  const dev = new MemoryDevice({ sectorSize: 512, size: 3 * MiB });
  placeResource(dev, AREA, "R");
  writeLeader(dev.contents, AREA, {
    ...readLeaderFields(dev.contents, AREA),
    ownerId: OWNER,
    ownerGeneration: OWNER_GEN,
    lver: 7n,
    timestamp: 500n,
    writeId: BigInt(OWNER),
    writeGeneration: OWNER_GEN,
    writeTimestamp: 500n,
  });
  return dev;
}

/** A watcher that has a snapshot of the owner (seen live at `lastLive`, with `ioTimeout`), or none. */
function watcher(snap?: { lastLive: number; ioTimeout: number }): HostLiveness {
  const entry = (): HostStatusEntry | undefined =>
    snap && {
      hostId: OWNER,
      firstCheck: snap.lastLive,
      lastCheck: START,
      lastLive: snap.lastLive,
      lastReq: 0,
      ownerId: OWNER,
      ownerGeneration: OWNER_GEN,
      ownerName: "owner",
      ioTimeout: snap.ioTimeout,
      timestamp: 777n,
    };
  return { snapshot: (id) => (id === OWNER ? entry() : undefined), isSharedHolderAlive: () => true };
}

/** Runs the check as a host with io_timeout `ownIo`; the owner's record carries `recordIo` and never changes. */
async function secondsUntilGone(ownIo: number, recordIo: number, liveness: HostLiveness): Promise<number> {
  const dev = leaseDevice();
  const clock = new VirtualClock(START);
  const disk = new PaxosDisk("LS", { resource: "R", device: dev, offset: AREA }, 1, ownIo, clock);
  const cur = await drive(clock, disk.readLeader());
  const record: DeltaRecordView = { ownerId: OWNER, ownerGeneration: OWNER_GEN, timestamp: 777n, ioTimeout: recordIo };
  let verdict: OwnerVerdict | undefined;
  await drive(
    clock,
    decideOwnerGone(cur, {
      disk,
      clock,
      liveness,
      readDeltaRecord: async () => record,
      ownIoTimeout: ownIo,
      ownerNoWait: false,
      variant: "none",
    }).then((v) => {
      verdict = v;
    }),
  );
  if (verdict !== "gone") throw new Error(`verdict ${verdict}`);
  return clock.now() - START;
}

t.test("no watcher snapshot (acquire right after a join): the owner's recorded io_timeout paces the wait", async (t) => {
  const waited = await secondsUntilGone(1, 3, watcher());
  t.ok(waited > hostDeadSeconds(3), `gone after ${waited} s; the owner's host_dead_seconds are ${hostDeadSeconds(3)} (ours would be ${hostDeadSeconds(1)})`);
  t.ok(waited <= hostDeadSeconds(3) + 2, "and not much later");
});

t.test("a snapshot without an io_timeout: the record's io_timeout still paces the wait", async (t) => {
  // Seen renewing one second before the check (not at the watcher's last check: not "just live").
  const waited = await secondsUntilGone(2, 10, watcher({ lastLive: START - 1, ioTimeout: 0 }));
  t.ok(waited + 1 > hostDeadSeconds(10), `gone ${waited + 1} s after the owner was last seen renewing (owner io_timeout 10: ${hostDeadSeconds(10)} s)`);
});

t.test("a snapshot from the owner's last change: the wait counts from then, by the owner's io_timeout", async (t) => {
  const lastLive = START - 50;
  const waited = await secondsUntilGone(1, 5, watcher({ lastLive, ioTimeout: 5 }));
  t.ok(waited + 50 > hostDeadSeconds(5), `gone ${waited + 50} s after the owner was last seen renewing (${hostDeadSeconds(5)} s needed)`);
  t.ok(waited + 50 <= hostDeadSeconds(5) + 2, "counted from the watcher's last sight, not from the check's start");
});

t.test("an owner with a shorter io_timeout than ours is judged by its own, not ours", async (t) => {
  const waited = await secondsUntilGone(10, 1, watcher());
  t.ok(waited > hostDeadSeconds(1) && waited <= hostDeadSeconds(1) + 2, `gone after ${waited} s (owner io_timeout 1: ${hostDeadSeconds(1)} s)`);
});

t.test("ownerIoTimeout: the larger of record and watcher, ours only when both are 0 (§1.4)", async (t) => {
  t.equal(ownerIoTimeout(3, 0, 1), 3);
  t.equal(ownerIoTimeout(0, 4, 1), 4);
  t.equal(ownerIoTimeout(3, 5, 1), 5);
  t.equal(ownerIoTimeout(0, 0, 7), 7);
});

// The shared-holder check (docs/algorithms.md §5.4) judges a holder by host_live, from the watcher's table; a
// holder whose records the watcher could not read as valid has io_timeout 0 there, judged by
// ours. Before clearing its mark, the check reads its record and judges again by the io_timeout
// recorded there.
t.test("shared holder: the io_timeout from its record keeps it alive for its own host_dead_seconds", async (t) => {
  const clock = new VirtualClock(500);
  const table = new HostStatusTable({ ourHostId: 1, ownIoTimeout: 1, maxHosts: 8, clock, setBitmapSeconds: 60 });
  table.observe([
    {
      hostId: 2,
      valid: false,
      ownerId: 2,
      ownerGeneration: 3n,
      timestamp: 90n,
      ioTimeout: 3,
      hostName: "h2",
      ourBitSet: false,
      eventGeneration: 0n,
      eventNumber: 0n,
      eventData: 0n,
    },
  ]);
  clock.advance(hostDeadSeconds(1) + 5);
  t.notOk(table.isSharedHolderAlive(2, 3n), "by our io_timeout (1) the holder would be dead");
  t.ok(table.isSharedHolderAlive(2, 3n, 3), "by its recorded io_timeout (3) it may still be alive");
  clock.advance(hostDeadSeconds(3) - hostDeadSeconds(1));
  t.notOk(table.isSharedHolderAlive(2, 3n, 3), "past its own host_dead_seconds it is dead");
});
