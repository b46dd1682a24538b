// Derived timeouts equal the table of docs/algorithms.md §1.3 for N = 5, 10, 20.
import t from "tap";
import { deriveTimeouts, deltaAcquireHeldWait, deltaShortDelay, effectiveIoTimeout, hostDeadSeconds } from "../src/index.js";

const table = [
  // N, renewal, warn, fail, host_dead, short, held wait, set_bitmap, renewal write
  [5, 10, 30, 40, 100, 10, 100, 30, 100],
  [10, 20, 60, 80, 140, 20, 140, 60, 140],
  [20, 40, 120, 160, 220, 40, 220, 120, 220],
] as const;

for (const [n, renewal, warn, fail, dead, short, held, bitmap, write] of table) {
  t.test(`io_timeout ${n}`, async (t) => {
    const d = deriveTimeouts(n);
    t.equal(d.idRenewalSeconds, renewal);
    t.equal(d.idRenewalWarnSeconds, warn);
    t.equal(d.idRenewalFailSeconds, fail);
    t.equal(d.hostDeadSeconds, dead);
    t.equal(d.deltaShortDelay, short);
    t.equal(d.deltaAcquireHeldWait, held);
    t.equal(d.setBitmapSeconds, bitmap);
    t.equal(d.renewalWriteTimeout, write);
    t.equal(d.watchdogFireTimeout, 60);
    t.equal(d.killGraceSeconds, 40);
  });
}

t.test("the contested join waits use the previous owner's io_timeout", async (t) => {
  t.equal(deltaAcquireHeldWait(1), 68, "previous owner N=1");
  t.equal(deltaShortDelay(10), 20, "init record N=10 even when we join with 1");
  t.equal(hostDeadSeconds(effectiveIoTimeout(0, 2)), 76, "recorded 0 -> our own");
});

t.test("io_timeout outside 1..255 is refused", async (t) => {
  t.throws(() => deriveTimeouts(0));
  t.throws(() => deriveTimeouts(256));
  t.throws(() => deriveTimeouts(10, { killGraceSeconds: 61 }));
});
