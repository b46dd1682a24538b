// Delta leases on an in-memory lockspace with a virtual clock: bytes written
// match what sanlock 3.8.5 wrote (vectors scenario S), and the join/renewal rules hold.
import t from "tap";
import { DeltaLease, LeaseError, MemoryDevice, SetEventFlags, VirtualClock, isCorruptRenewalError } from "../src/index.js";
import { SCENARIO_S_HOST, ScriptedClock, drive, loadVector, lockspaceDevice } from "./delta-harness.js";

function hostLease(dev: ReturnType<typeof lockspaceDevice>, clock: VirtualClock, hostId: number, hostName: string, ioTimeout = 1): DeltaLease {
  return new DeltaLease({ lockspace: "LS", hostId, hostName, ioTimeout, device: dev, offset: 0, clock });
}

t.test("join, renew, event, release reproduce sanlock's sectors byte for byte", async (t) => {
  const dev = lockspaceDevice();
  // Replay of vectors scenario S with the timestamps sanlock wrote (689 join, 694/697/704 renewals).
  const clock = new ScriptedClock(689);
  const lease = new DeltaLease({ lockspace: "LS", hostId: 1, hostName: SCENARIO_S_HOST, ioTimeout: 1, device: dev, offset: 0, clock });
  const joined = await lease.acquire();
  t.equal(joined.generation, 1n);
  t.equal(joined.timestamp, 689n);
  // docs/algorithms.md §2.2 step 7: the short delay uses the previous owner's io_timeout (10 from init), not ours (1).
  t.equal(clock.slept, 20, "join slept 2 x the recorded io_timeout");
  t.same(dev.contents.slice(0, 1024), loadVector("ls-512-live.bin"), "after join: host 1 live, host 2 untouched");

  clock.current = 694;
  await lease.renew();
  t.same(dev.contents.slice(0, 512), loadVector("ls-512-renewed.bin"), "after renewal at 694");

  clock.current = 696;
  lease.setEvent(2, { generation: 7n, event: 0x1122n, data: 0x3344n });
  clock.current = 697;
  await lease.renew();
  t.same(dev.contents.slice(0, 512), loadVector("ls-512-event.bin"), "event fields and bit for host 2");

  clock.current = 704;
  await lease.renew();
  t.same(dev.contents.slice(0, 512), loadVector("ls-512-event-bitcleared.bin"), "bit dropped after set_bitmap_seconds, event kept");

  await lease.release();
  t.same(dev.contents.slice(0, 512), loadVector("ls-512-removed.bin"), "release: timestamp 0, identity and event kept");
});

t.test("two hosts join with io_timeout 1 as in scenario T", async (t) => {
  const dev = lockspaceDevice(8 * 1048576);
  // Scenario T initialised the lockspace with -o 1: patch io_timeout (not covered by the checksum).
  for (let h = 0; h < 2000; h++) dev.contents[h * 512 + 174] = 1;
  const clock = new VirtualClock(1074);
  const a = hostLease(dev, clock, 1, "hostA");
  const b = hostLease(dev, clock, 2, "hostB");
  await drive(clock, Promise.all([a.acquire(), b.acquire()]));
  t.equal(clock.now(), 1076, "free host_id: 2 x io_timeout 1");
  // sanlock's vector was captured after each host's first renewal at 1076.
  await drive(clock, Promise.all([a.renew(), b.renew()]));
  t.same(dev.contents.slice(0, 1024), loadVector("two-ls-joined.bin"), "records after the first renewal at 1076 equal sanlock's");
});

t.test("a second host cannot join a live host_id; waits host_dead_seconds first", async (t) => {
  const dev = lockspaceDevice();
  const clock = new VirtualClock(100);
  const a = hostLease(dev, clock, 1, "hostA");
  await drive(clock, a.acquire());
  let stop = false;
  const renewLoop = (async () => {
    while (!stop) {
      await clock.sleep(2);
      if (!stop) await a.renew();
    }
  })();
  const intruder = hostLease(dev, clock, 1, "hostB");
  const start = clock.now();
  const err = await drive(
    clock,
    intruder.acquire().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  stop = true;
  await drive(clock, renewLoop);
  t.ok(err instanceof LeaseError && err.result === -262, "host_id busy (-262)");
  t.ok(clock.now() - start >= 8 * 1 + 60, "waited 8N+60 of the recorded io_timeout before giving up");
});

t.test("a dead host's host_id is taken after host_dead_seconds; the old owner then sees not-owner", async (t) => {
  const dev = lockspaceDevice();
  const clock = new VirtualClock(100);
  const a = hostLease(dev, clock, 1, "hostA");
  await drive(clock, a.acquire());
  const deadAt = clock.now();
  const b = hostLease(dev, clock, 1, "hostB", 2);
  const joined = await drive(clock, b.acquire());
  t.equal(joined.generation, 2n, "generation incremented from the dead owner's");
  t.ok(clock.now() - deadAt >= 68, "took at least 8N+60 of the previous owner's io_timeout");
  const err = await drive(
    clock,
    a.renew().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(err instanceof LeaseError && err.result === -260 && isCorruptRenewalError(err), "old owner: -260, corrupt");
});

t.test("fast reacquire under the same name skips the wait and bumps the generation", async (t) => {
  const dev = lockspaceDevice();
  const clock = new VirtualClock(100);
  const first = hostLease(dev, clock, 3, "same");
  await drive(clock, first.acquire());
  const start = clock.now();
  const again = hostLease(dev, clock, 3, "same");
  const joined = await drive(clock, again.acquire());
  t.equal(joined.generation, 2n);
  t.equal(clock.now() - start, 2, "only the 2N short delay (our own io_timeout recorded)");
});

t.test("renewal detects a foreign write to our record", async (t) => {
  const dev = lockspaceDevice();
  const clock = new VirtualClock(100);
  const a = hostLease(dev, clock, 1, "hostA");
  await drive(clock, a.acquire());
  dev.contents[192] = 0x55; // write_timestamp: not covered by the checksum, so only the unchanged check sees it
  clock.advance(2);
  const err = await drive(
    clock,
    a.renew().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(err instanceof LeaseError && err.result === -261, "record changed (-261)");
});

t.test("events reach the target host through its renewal; busy rule", async (t) => {
  const dev = lockspaceDevice();
  const clock = new VirtualClock(100);
  const a = hostLease(dev, clock, 1, "hostA");
  const b = hostLease(dev, clock, 2, "hostB");
  await drive(clock, Promise.all([a.acquire(), b.acquire()]));
  await drive(clock, b.renew());
  clock.advance(1);
  await drive(clock, a.renew()); // host 1 observes host 2's generation
  a.setEvent(2, { generation: 0n, event: 5n, data: 9n }, SetEventFlags.CUR_GENERATION);
  t.throws(() => a.setEvent(2, { generation: 0n, event: 6n, data: 1n }), { code: "ERR_SANLK_EBUSY" }, "different event within set_bitmap_seconds");
  a.setEvent(2, { generation: 0n, event: 5n, data: 10n }, SetEventFlags.CUR_GENERATION);
  clock.advance(2);
  await drive(clock, a.renew());
  clock.advance(1);
  const seen = await drive(clock, b.renew());
  const ev = seen.notifications.find((n) => n.fromHostId === 1);
  t.ok(ev, "host 2 notified by host 1");
  t.equal(ev?.eventNumber, 5n);
  t.equal(ev?.eventData, 10n, "same event number replaced the data");
  t.equal(ev?.eventGeneration, 1n, "CUR_GENERATION filled in host 2's generation");
});

t.test("a timed-out renewal read fails the attempt; a later attempt recovers; release after failure writes nothing", async (t) => {
  const mem = lockspaceDevice();
  let stallReads = false;
  const dev = {
    sectorSize: 512,
    size: () => mem.size(),
    read: (offset: number, length: number) => (stallReads && length === 1048576 ? new Promise<Uint8Array>(() => undefined) : mem.read(offset, length)),
    write: (offset: number, data: Uint8Array) => mem.write(offset, data),
    close: () => mem.close(),
  };
  const clock = new VirtualClock(100);
  const lease = new DeltaLease({ lockspace: "LS", hostId: 1, hostName: "a", ioTimeout: 1, device: dev, offset: 0, clock });
  await drive(clock, lease.acquire());
  const before = lease.lastSuccess;
  clock.advance(2);
  stallReads = true;
  const err = await drive(
    clock,
    lease.renew().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(err instanceof LeaseError && err.result === -202 && !isCorruptRenewalError(err), "I/O timeout: transient failure");
  t.equal(lease.lastSuccess, before, "last_success unchanged");
  t.equal(lease.lastAttemptSucceeded, false);
  stallReads = false;
  await drive(clock, lease.renew());
  t.ok(lease.lastSuccess > before, "next attempt renewed");
  stallReads = true;
  clock.advance(2);
  await drive(
    clock,
    lease.renew().catch(() => undefined),
  );
  const record = mem.contents.slice(0, 512);
  await drive(clock, lease.release());
  t.same(mem.contents.slice(0, 512), record, "no release write after a failed attempt (§2.5)");
});

t.test("4K sectors / 1M alignment: the event renewal matches sanlock's sector (bitmap at byte 256)", async (t) => {
  const record = loadVector("ls-4096-1M-init.bin").subarray(0, 4096);
  const dev = new MemoryDevice({ sectorSize: 4096, size: 1048576 });
  for (let h = 0; h < 250; h++) dev.contents.set(record, h * 4096);
  const clock = new ScriptedClock(770);
  const lease = new DeltaLease({ lockspace: "LS", hostId: 1, hostName: SCENARIO_S_HOST, ioTimeout: 1, device: dev, offset: 0, clock });
  await lease.acquire();
  clock.current = 775;
  lease.setEvent(2, { generation: 7n, event: 0x1122n, data: 0x3344n });
  clock.current = 776;
  await lease.renew();
  t.same(dev.contents.slice(0, 4096), loadVector("ls-4096-1M-event.bin"));
});
