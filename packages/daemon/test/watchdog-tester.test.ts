// The wdmd-style tester (docs/algorithms.md §7.5) over the reset model, in virtual time:
// keepalives every 10 s while every expiry is more than 10 s away, the unclean close once
// one is not, 1 s tests after a failure, the firing window [expire + 50, expire + 60),
// expiries surviving a closed connection, clearing, reopening, and the magic close.
import t from "tap";
import { spawn } from "node:child_process";
import { killPidsOnReset, ResetModelDevice, VirtualScheduler, WatchdogTester, type WatchdogError } from "../src/watchdog/index.js";

const FIRE = 60; // hardware timeout every host assumes (docs/algorithms.md §1.3)
const FAIL = (n: number): number => 8 * n; // id_renewal_fail_seconds

function setup(start: number, options: { hardwareTimeoutSeconds?: number; testIntervalSeconds?: number } = {}) {
  const scheduler = new VirtualScheduler(start);
  const resets: number[] = [];
  const device = new ResetModelDevice({
    scheduler,
    onReset: (at) => resets.push(at),
    hardwareTimeoutSeconds: options.hardwareTimeoutSeconds,
  });
  const tester = new WatchdogTester({ device, scheduler, testIntervalSeconds: options.testIntervalSeconds });
  return { scheduler, device, tester, resets };
}

t.test("§7.6 timeline, N = 10: pings until expire - 10, close, fire at 170", async (t) => {
  const T = 1000;
  const { scheduler, device, tester, resets } = setup(T);
  const conn = tester.register("ls", T, 10);
  t.equal(conn.expire, T + FAIL(10), "expire = last_success + 8N at join");
  // Renewals succeed at 0, 20, 40; fail from 60 on (expiry stays last + 8N).
  for (const at of [20, 40]) scheduler.after(at, () => conn.renewed(T + at));
  scheduler.advanceTo(T + 109);
  t.equal(conn.expire, T + 120);
  t.equal(device.isOpen, true, "still open before expire - 10");
  t.same(
    [...new Set(device.pings.map((p) => p - T))],
    [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    "pinged at join (open, keepalive, first test), then at every 10 s test",
  );
  scheduler.advanceTo(T + 110);
  t.equal(device.isOpen, false, "test at 110: now >= 120 - 10 -> closed without magic");
  t.equal(device.pings.at(-1), T + 110, "the close is the last ping");
  t.equal(tester.status().testInterval, 1, "tests every 1 s after a failure");
  scheduler.advanceTo(T + 169);
  t.same(resets, [], "not fired before 170");
  t.equal(device.pings.at(-1), T + 110, "no ping after the close");
  scheduler.advanceTo(T + 200);
  t.same(resets, [T + 170], "fires 60 s after the last ping");
  const expire = T + 120;
  const fired = resets[0] ?? NaN;
  t.ok(fired >= expire + 50 && fired < expire + 60, "inside [expire + 50, expire + 60)");
  t.ok(fired < T + 40 + 8 * 10 + FIRE, "strictly before last_success + host_dead_seconds");
});

t.test("firing window holds for every phase of the 10 s test cycle and several N", async (t) => {
  for (const n of [2, 5, 10, 20]) {
    for (let phase = 0; phase < 10; phase++) {
      const T = 500;
      const { scheduler, tester, resets } = setup(T);
      const conn = tester.register(`ls${n}`, T, n);
      // Renew every 2N for a while, starting off the test cycle by `phase` seconds, then stop.
      let last = T;
      for (let k = 1; k <= 5; k++) {
        const at = T + phase + 2 * n * k;
        scheduler.after(at - T, () => conn.renewed(at));
        last = at;
      }
      scheduler.advanceTo(last + FAIL(n) + 120);
      const expire = last + FAIL(n);
      t.equal(resets.length, 1, `N=${n} phase=${phase}: fired once`);
      const fired = resets[0] ?? NaN;
      t.ok(fired >= expire + 50 && fired < expire + 60, `N=${n} phase=${phase}: fired at expire+${fired - expire}`);
    }
  }
});

t.test("N = 1 with wdmd's 10 s interval: every test fails (8N < 10), so the device fires 60 s after join", async (t) => {
  const T = 100;
  const { scheduler, tester, device, resets } = setup(T);
  const conn = tester.register("ls", T, 1);
  // Healthy renewals every 2 s for the whole run.
  for (let k = 1; k <= 60; k++) scheduler.after(2 * k, () => conn.renewed(T + 2 * k));
  scheduler.advanceTo(T + 100);
  t.equal(device.pings.at(-1), T, "closed at the first test");
  t.same(resets, [T + 60]);
});

t.test("N = 1 with a 1 s test interval: healthy renewals keep the host up; a stop fires in [expire + 59, expire + 60)", async (t) => {
  const T = 100;
  const { scheduler, tester, resets } = setup(T, { testIntervalSeconds: 1 });
  const conn = tester.register("ls", T, 1);
  for (let k = 1; k <= 30; k++) scheduler.after(2 * k, () => conn.renewed(T + 2 * k));
  scheduler.advanceTo(T + 60);
  t.same(resets, [], "renewing every 2N keeps it alive");
  const last = T + 60;
  const expire = last + FAIL(1);
  scheduler.advanceTo(T + 300);
  t.equal(resets.length, 1);
  const fired = resets[0] ?? NaN;
  t.ok(fired >= expire + 59 && fired < expire + 60, `fired at expire+${fired - expire}`);
});

t.test("a closed connection keeps its expiry in force (§7.5.5)", async (t) => {
  const T = 1000;
  const { scheduler, tester, resets } = setup(T);
  const conn = tester.register("crashed", T, 10);
  conn.close();
  t.equal(tester.status().connections.length, 1, "still tested");
  scheduler.advanceTo(T + 300);
  t.equal(resets.length, 1);
  const fired = resets[0] ?? NaN;
  t.ok(fired >= T + 80 + 50 && fired < T + 80 + 60);
});

t.test("clearing the expiry after a failed test reopens and keeps alive; the last user gone disarms", async (t) => {
  const T = 1000;
  const { scheduler, tester, device, resets } = setup(T);
  const a = tester.register("a", T, 10);
  scheduler.advanceTo(T + 75);
  t.equal(device.isOpen, false, "closed at the test at 70 (>= 80 - 10)");
  // Recovery finished: holders gone, expiry cleared, lockspace left.
  a.clearExpiry();
  scheduler.advanceTo(T + 76);
  t.equal(device.isOpen, true, "next 1 s test passes and reopens the device");
  t.equal(device.pings.at(-1), T + 76);
  a.close();
  // The tester was resetting; the next test (10 s interval after the pass) passes and then disarms.
  scheduler.advanceTo(T + 200);
  t.equal(device.isOpen, false);
  t.equal(device.deadline, undefined, "magic close: no countdown left");
  t.same(resets, []);
  t.equal(tester.status().testInterval, 0, "not testing any more");
});

t.test("one failing lockspace stops the keepalives for all", async (t) => {
  const T = 1000;
  const { scheduler, tester, resets } = setup(T);
  const healthy = tester.register("healthy", T, 10);
  const failing = tester.register("failing", T, 10);
  for (let k = 1; k <= 20; k++) scheduler.after(20 * k, () => healthy.renewed(T + 20 * k));
  scheduler.advanceTo(T + 400);
  t.equal(resets.length, 1);
  const fired = resets[0] ?? NaN;
  t.ok(fired >= failing.expire + 50 && fired < failing.expire + 60);
});

t.test("renewals after clearing or closing are refused (§7.11.5)", async (t) => {
  const { tester } = setup(0);
  const c = tester.register("ls", 10, 10);
  c.clearExpiry();
  t.throws(() => c.renewed(30), { code: "ERR_WATCHDOG_CLOSED" });
  const d = tester.register("ls2", 10, 10);
  d.close();
  t.throws(() => d.renewed(30), { code: "ERR_WATCHDOG_CLOSED" });
});

t.test("a device that cannot be set to 60 s fails the join and stays stopped", async (t) => {
  const { scheduler, tester, device, resets } = setup(0, { hardwareTimeoutSeconds: 30 });
  let error: WatchdogError | undefined;
  try {
    tester.register("ls", 0, 10);
  } catch (err) {
    error = err as WatchdogError;
  }
  t.equal(error?.code, "ERR_WATCHDOG_TIMEOUT");
  t.equal(tester.status().connections.length, 0, "no connection left behind");
  scheduler.advanceTo(200);
  t.same(resets, [], "disarmed: the refused device never fires");
  t.equal(device.isOpen, false);
});

t.test("shutdown: magic close without expiries, left to fire with one", async (t) => {
  const clean = setup(0);
  const c = clean.tester.register("ls", 0, 10);
  c.clearExpiry();
  t.same(clean.tester.shutdown(), { disarmed: true, expiriesInForce: [] });
  clean.scheduler.advanceTo(500);
  t.same(clean.resets, []);

  const dirty = setup(0);
  dirty.tester.register("held", 0, 10);
  dirty.scheduler.advanceTo(5);
  t.same(dirty.tester.shutdown(), { disarmed: false, expiriesInForce: ["held"] });
  dirty.scheduler.advanceTo(500);
  t.same(dirty.resets, [65], "fires 60 s after the shutdown's unclean close");
});

t.test("the reset model kills the listed processes with SIGKILL when it fires", async (t) => {
  const children = [spawn("sleep", ["30"], { stdio: "ignore" }), spawn("sleep", ["30"], { stdio: "ignore" })];
  t.teardown(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
  const exits = children.map((c) => new Promise((resolve) => c.once("exit", (_code, signal) => resolve(signal))));
  const scheduler = new VirtualScheduler(0);
  const kill = killPidsOnReset(() => children.map((c) => c.pid ?? 0));
  const firedAt: number[] = [];
  const device = new ResetModelDevice({
    scheduler,
    onReset: (at) => {
      firedAt.push(at);
      kill(at);
    },
  });
  const tester = new WatchdogTester({ device, scheduler });
  tester.register("ls", 0, 10);
  scheduler.advanceTo(129);
  t.same(firedAt, [], "not before expire + 50");
  t.ok(
    children.every((c) => c.exitCode === null && c.signalCode === null),
    "processes still run",
  );
  scheduler.advanceTo(200);
  t.equal(firedAt.length, 1);
  t.same(await Promise.all(exits), ["SIGKILL", "SIGKILL"]);
});

t.test("shutdown right after recovery finished: the closed, still counting device is reopened and disarmed", async (t) => {
  const { scheduler, tester, device, resets } = setup(0);
  const c = tester.register("ls", 0, 10);
  scheduler.advanceTo(75);
  t.equal(device.isOpen, false, "closed uncleanly by the failed test at 70");
  c.clearExpiry();
  t.same(tester.shutdown(), { disarmed: true, expiriesInForce: [] });
  scheduler.advanceTo(500);
  t.same(resets, [], "did not fire");
  t.equal(device.deadline, undefined);
});

t.test("a daemon stopped past the deadline: on resume the model fires before anything pings", async (t) => {
  const { scheduler, tester, device, resets } = setup(0);
  const c = tester.register("ls", 0, 10);
  for (let k = 1; k <= 3; k++) scheduler.after(20 * k, () => c.renewed(20 * k));
  scheduler.advanceTo(65);
  const lastPing = device.pings.at(-1) ?? NaN;
  t.equal(lastPing, 60);
  scheduler.stall(200); // SIGSTOP for 200 s: the hardware would have fired at 120
  scheduler.advance(0); // SIGCONT: overdue timers run now
  t.same(resets, [265], "fired at resume");
  t.equal(device.pings.at(-1), lastPing, "the overdue test did not ping first");
});
