// docs/dlm.md §9 test 39: a host crashes at every I/O of a round, and at the slot write of a
// downgrade. Its peer is always granted in the end, and never before the crashed host is dead
// (8N+60 s after its last renewal) once the crashed host's leader commit or slot could be on disk.
import t from "tap";
import type { BlockDevice } from "../src/index.js";
import { LKF, LKM } from "../src/dlm/index.js";
import { Req, World, enc } from "./dlm-harness.js";

const R = "r1";
const DEAD_AFTER = 8 * 10 + 60;

/** A device whose I/O from the `crashAt`-th on never completes and never lands (the host is gone). */
function crashingDevice(inner: BlockDevice, crashAt: number, onCrash: () => void): BlockDevice {
  let n = 0;
  const gate = <T>(io: () => Promise<T>): Promise<T> => {
    n++;
    if (n === crashAt) onCrash();
    return n >= crashAt ? new Promise<T>(() => {}) : io();
  };
  return {
    sectorSize: inner.sectorSize,
    size: () => inner.size(),
    read: (offset, length) => gate(() => inner.read(offset, length)),
    write: (offset, data) => gate(() => inner.write(offset, data)),
    close: () => inner.close(),
  };
}

async function grantTime(w: World, req: Req, maxSeconds: number): Promise<number | undefined> {
  for (let s = 0; s < maxSeconds; s++) {
    if (req.status === 0) return w.clock.now();
    await w.pass(1);
  }
  return req.status === 0 ? w.clock.now() : undefined;
}

t.test("crash at every I/O of a first round", async (tt) => {
  // The round's I/O: 1 geometry read, 2 own sector, 3 pre-check view, 4 area read, 5-8 ballot
  // phases, 9 leader commit, 10 view, 11 slot write, 12 leader read, 13 leader free.
  for (let k = 1; k <= 13; k++) {
    const w = new World();
    let crashedAt = 0;
    const h1 = w.addHost(1, {
      device: crashingDevice(w.device, k, () => {
        crashedAt = w.clock.now();
        w.kill(1);
      }),
    });
    const h2 = w.addHost(2);
    const a = new Req(h1, { pid: 1, mode: LKM.EX, resource: R, flags: LKF.VALBLK, lvb: enc("") });
    await w.settle();
    // The grant is delivered once the slot write (I/O 11) completed (O2), before the leader is freed.
    tt.equal(
      a.status === 0 ? "granted" : "not granted",
      k >= 12 ? "granted" : "not granted",
      `crash at I/O ${k}: host 1's lock ${k >= 12 ? "is" : "is not"} delivered`,
    );
    const b = new Req(h2, { pid: 2, mode: LKM.EX, resource: R });
    await w.settle();
    const at = await grantTime(w, b, 200);
    tt.ok(at !== undefined, `crash at I/O ${k}: host 2 is granted in the end`);
    // From the leader commit (I/O 9, issued but never landed: not on disk) on, host 1's leader or slot is on disk.
    if (k >= 10)
      tt.ok(
        at !== undefined && at - crashedAt > DEAD_AFTER,
        `crash at I/O ${k}: not before host 1 is dead (${at === undefined ? "never" : (at - crashedAt).toFixed(0)} s)`,
      );
  }
});

t.test("crash at the slot write of an unlock: the old slot holds until the host is dead, the LVB is invalid", async (tt) => {
  const w = new World();
  let allowed = Number.POSITIVE_INFINITY;
  let crashedAt = 0;
  const inner = w.device;
  let n = 0;
  const device: BlockDevice = {
    sectorSize: inner.sectorSize,
    size: () => inner.size(),
    read: (o, l) => (++n >= allowed ? new Promise(() => {}) : inner.read(o, l)),
    write: (o, d) => {
      if (++n >= allowed) {
        if (n === allowed) {
          crashedAt = w.clock.now();
          w.kill(1);
        }
        return new Promise(() => {});
      }
      return inner.write(o, d);
    },
    close: () => inner.close(),
  };
  const h1 = w.addHost(1, { device });
  const h2 = w.addHost(2);
  const a = new Req(h1, { pid: 1, mode: LKM.EX, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  tt.equal(a.status, 0, "host 1 holds EX with VALBLK");
  allowed = n + 1; // the next I/O — the unlock's slot write — crashes the host
  const done = await h1.unlock({ lkid: a.lkid, flags: LKF.VALBLK, lvb: enc("lost") });
  tt.equal(done.status !== 0, true, "the unlock completed locally");
  const b = new Req(h2, { pid: 2, mode: LKM.EX, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  const at = await grantTime(w, b, 200);
  tt.ok(
    at !== undefined && at - crashedAt > DEAD_AFTER,
    `host 2 granted only after host 1 is dead (${at === undefined ? "never" : (at - crashedAt).toFixed(0)} s)`,
  );
  tt.equal(b.result?.sb.valNotValid, true, "the value host 1 wrote never landed: VALNOTVALID");
});
