// A join waits for every earlier write of our own delta record in the same I/O domain
// (docs/deviations.md D2). A delta release that timed out may still land; landing after a new
// join it would make our host_id look free to every other host, which then takes our leases at
// once (simulator seed 118146). Here the release write is held back by the device, the join that
// follows must fail with −202 (SANLK_AIO_TIMEOUT) after io_timeout without writing, and once the
// write has landed a join succeeds in the next generation.
import t from "tap";
import { DeltaLease, LeaseError, type MemoryDevice, SanlockResult, VirtualClock, readLeaderFields, type BlockDevice } from "../src/index.js";
import { drive, lockspaceDevice } from "./delta-harness.js";

/** A memory device whose writes can be held: a held write lands (and completes) only on `land()`. */
class HoldingDevice implements BlockDevice {
  hold = false;
  writes = 0;
  private held: Array<() => void> = [];
  constructor(private readonly inner: MemoryDevice) {}
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.writes++;
    if (!this.hold) return this.inner.write(offset, data);
    const copy = data.slice();
    return new Promise((resolve, reject) => {
      this.held.push(() => void this.inner.write(offset, copy).then(resolve, reject));
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  land(): void {
    for (const go of this.held.splice(0)) go();
  }
}

function lease(dev: BlockDevice, clock: VirtualClock): DeltaLease {
  return new DeltaLease({ lockspace: "LS", hostId: 1, hostName: "hostA", ioTimeout: 2, device: dev, offset: 0, clock });
}

t.test("a join waits for our own earlier delta write, and refuses while it may still land", async (t) => {
  const mem = lockspaceDevice();
  const dev = new HoldingDevice(mem);
  const clock = new VirtualClock(100);
  const first = lease(dev, clock);
  const joined = await drive(clock, first.acquire());
  t.equal(joined.generation, 1n);

  dev.hold = true;
  const released = await drive(
    clock,
    first.release().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(released instanceof LeaseError && released.result === SanlockResult.AIO_TIMEOUT, "the release write timed out (still in flight)");

  const writesBefore = dev.writes;
  const start = clock.now();
  const refused = await drive(
    clock,
    lease(dev, clock)
      .acquire()
      .then(
        () => undefined,
        (e: unknown) => e,
      ),
  );
  t.ok(refused instanceof LeaseError && refused.result === SanlockResult.AIO_TIMEOUT, `the join is refused: ${String(refused)}`);
  t.equal(clock.now() - start, 2, "after waiting io_timeout for the earlier write");
  t.equal(dev.writes, writesBefore, "without writing anything");

  dev.hold = false;
  dev.land();
  t.equal(readLeaderFields(mem.contents, 0).timestamp, 0n, "the late release landed: the record is free");
  const again = await drive(clock, lease(dev, clock).acquire());
  t.equal(again.generation, 2n, "then the join succeeds, in the next generation");
  t.equal(readLeaderFields(mem.contents, 0).ownerGeneration, 2n, "and its record stays on disk");
});
