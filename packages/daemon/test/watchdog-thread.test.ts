// The watchdog on its own thread (docs/algorithms.md §7.5, src/watchdog/thread.ts): the device is
// armed, kept alive and closed on the watchdog thread; registrations, renewals, clears and
// closes reach it in order; a refusal to arm fails the registration synchronously; the
// /dev/watchdog backend does its system calls from the thread. And the point of it all: a
// main thread busy for 30 s right when an expiry comes within 10 s no longer delays the
// close, so the modelled reset fires no later than expire + 60 s — which the main-thread
// tester, under the same stall, does not achieve (the control test).
import t from "tap";
import type { Test } from "tap";
import { threadId } from "node:worker_threads";
import {
  NoWatchdog,
  RealScheduler,
  ResetModelDevice,
  ThreadedWatchdog,
  WatchdogError,
  WatchdogTester,
  createWatchdog,
  type WatchdogConnection,
} from "../src/watchdog/index.js";
import { sleep } from "../../../test/support/index.js";

const FIRE = 60;
/** The stall of the main thread: a plain busy loop, nothing else runs on this thread meanwhile. */
const STALL_SECONDS = 30;

const monotonic = (): number => Number(process.hrtime.bigint()) / 1e9;

function busyLoop(seconds: number): { start: number; end: number } {
  const start = monotonic();
  while (monotonic() - start < seconds) {
    // spin: timers, I/O and messages of this thread wait
  }
  return { start, end: monotonic() };
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (err) {
    return err instanceof WatchdogError ? err.code : `not a WatchdogError: ${String(err)}`;
  }
  return undefined;
}

/** A threaded watchdog over the reset model that only records resets; shut down in teardown. */
function threadedModel(t: Test, options: { hardwareTimeoutSeconds?: number } = {}) {
  const resets: number[] = [];
  const logs: string[] = [];
  const watchdog = createWatchdog({
    useWatchdog: true,
    resetModel: { onReset: (at) => resets.push(at), ...options },
    log: (line) => logs.push(line),
  });
  if (!(watchdog instanceof ThreadedWatchdog)) throw new Error("resetModel must give a ThreadedWatchdog");
  t.teardown(() => {
    watchdog.shutdown();
  });
  return { watchdog, resets, logs };
}

t.test("createWatchdog: the device goes on the watchdog thread unless a test injects doubles of this thread", async (t) => {
  t.ok(createWatchdog({ useWatchdog: false }) instanceof NoWatchdog);
  // /dev/null is a character device, so the default existence check passes; nothing is opened before a join.
  const byDefault = createWatchdog({ useWatchdog: true, devicePath: "/dev/null" });
  t.teardown(() => void byDefault.shutdown());
  t.ok(byDefault instanceof ThreadedWatchdog, "-w 1: /dev/watchdog is driven from the watchdog thread");
  t.equal(byDefault.status().deviceOpen, false);
  t.ok(
    createWatchdog({ useWatchdog: true, devicePath: "/dev/null", deviceExists: () => true }) instanceof WatchdogTester,
    "an injected double keeps the tester on this thread (unit tests)",
  );
  const scheduler = new RealScheduler();
  const device = new ResetModelDevice({ scheduler, onReset: () => undefined });
  t.ok(createWatchdog({ useWatchdog: true, device, scheduler }) instanceof WatchdogTester);
  t.equal(
    codeOf(() => createWatchdog({ useWatchdog: true, device, thread: true })),
    "ERR_WATCHDOG_ARGUMENT",
    "an object of this thread cannot be moved to the watchdog thread",
  );
  t.equal(
    codeOf(() => createWatchdog({ useWatchdog: true, device, resetModel: {} })),
    "ERR_WATCHDOG_ARGUMENT",
  );
  t.equal(
    codeOf(() => createWatchdog({ useWatchdog: true, resetModel: {}, testIntervalSeconds: 11 })),
    "ERR_WATCHDOG_ARGUMENT",
    "a bad test interval is refused here, not in the thread",
  );
});

t.test("reset model on the thread: armed at the first register, renewals and clears in order, magic close when unused", async (t) => {
  const { watchdog, resets } = threadedModel(t);
  t.not(watchdog.threadId, threadId, "a thread of its own");
  t.ok(watchdog.threadStatus(), "the thread answers");
  const now = Math.floor(monotonic());
  const a = watchdog.register("A:1", now, 10);
  t.equal(a.expire, now + 80, "expire = last_success + 8N, as before");
  const model = watchdog.resetModelState();
  t.ok(model.deadline !== undefined && model.lastPing !== undefined, "the thread armed the model before register returned");
  t.equal(watchdog.status().deviceOpen, true);
  t.equal(watchdog.status().testInterval, 10);
  const b = watchdog.register("B:2", now, 5);
  // A burst of updates, then a clear and a close of B: the thread must end in the state of the last ones.
  for (let k = 1; k <= 200; k++) a.renewed(now + k);
  b.renewed(now + 3);
  b.clearExpiry();
  b.close();
  const seen = watchdog.threadStatus();
  t.same(
    seen?.connections,
    [{ name: "A:1", renewal: now + 200, expire: now + 280, closed: false }],
    "the thread saw every update in order: A at its last renewal, B cleared and gone",
  );
  t.same(watchdog.status().connections, seen?.connections, "the mirror here agrees");
  t.throws(() => b.renewed(now + 4), { code: "ERR_WATCHDOG_CLOSED" }, "misuse still throws synchronously");
  a.clearExpiry();
  a.close();
  t.same(watchdog.threadStatus()?.connections, []);
  t.equal(watchdog.status().deviceOpen, false, "no users: stopped");
  t.equal(watchdog.resetModelState().deadline, undefined, "with the magic close: the model will not fire");
  t.same(watchdog.shutdown(), { disarmed: true, expiriesInForce: [] });
  t.same(resets, []);
});

t.test("a device that will not take 60 s: register throws ERR_WATCHDOG_TIMEOUT from the thread, nothing stays armed", async (t) => {
  const { watchdog, resets } = threadedModel(t, { hardwareTimeoutSeconds: 30 });
  const now = Math.floor(monotonic());
  t.equal(
    codeOf(() => watchdog.register("WD:1", now, 10)),
    "ERR_WATCHDOG_TIMEOUT",
  );
  t.same(watchdog.status().connections, []);
  t.same(watchdog.threadStatus()?.connections, []);
  t.equal(watchdog.resetModelState().deadline, undefined, "disarmed by the thread");
  t.same(watchdog.shutdown(), { disarmed: true, expiriesInForce: [] });
  t.same(resets, []);
});

t.test("/dev/watchdog backend: open and ioctl happen on the thread (a device that is no watchdog: ENOTTY)", async (t) => {
  const logs: string[] = [];
  const watchdog = createWatchdog({ useWatchdog: true, devicePath: "/dev/null", log: (line) => logs.push(line) });
  t.ok(watchdog instanceof ThreadedWatchdog);
  let error: unknown;
  try {
    watchdog.register("DEV:1", Math.floor(monotonic()), 10);
  } catch (err) {
    error = err;
  }
  t.ok(error instanceof WatchdogError, String(error));
  t.equal((error as WatchdogError).code, "ERR_WATCHDOG_IOCTL");
  t.match((error as Error).message, /^\/dev\/null: WDIOC_GETTIMEOUT failed: ENOTTY/);
  t.equal(watchdog.status().deviceOpen, false);
  t.same(watchdog.shutdown(), { disarmed: true, expiriesInForce: [] });
});

/**
 * Registers a connection whose expiry E lies 15 s ahead (N = 2, 8N = 16, last_success one
 * second ago) right after a test of the 10 s loop; the next test, about 10 s later, finds
 * `now >= E - 10` and must close the device. The main thread busy-loops for 30 s right after
 * the registration, so that test falls in the middle of the stall.
 */
function registerCloseDue(watchdog: { register(name: string, lastSuccess: number, ioTimeout: number): WatchdogConnection }) {
  const lastSuccess = Math.floor(monotonic()) - 1;
  const connection = watchdog.register("STALL:1", lastSuccess, 2);
  return { connection, expire: lastSuccess + 16 };
}

t.test(`main thread busy for ${STALL_SECONDS} s as an expiry comes within 10 s: the thread closes on time, the reset fires by expire + 60`, async (t) => {
  const { watchdog, resets, logs } = threadedModel(t);
  t.ok(watchdog.threadStatus(), "the thread is up before the clock starts");
  const { expire } = registerCloseDue(watchdog);
  const armedPing = watchdog.resetModelState().lastPing ?? NaN;
  t.ok(armedPing < expire - 10, "armed and kept alive while the expiry is more than 10 s away");

  const stall = busyLoop(STALL_SECONDS);
  t.ok(stall.end - stall.start >= STALL_SECONDS, "this thread ran nothing for the whole stall");

  // Read without running this thread's event loop: the thread published it during the stall.
  const during = watchdog.resetModelState();
  const close = during.lastPing ?? NaN;
  t.ok(close >= expire - 10 && close < expire, `the unclean close (the last ping) at expire ${(close - expire).toFixed(2)} s, in [expire - 10, expire)`);
  t.ok(close < stall.end - 5, "it happened while this thread was busy");
  t.equal(watchdog.status().deviceOpen, false, "the device is closed");
  t.ok((during.deadline ?? Infinity) <= expire + FIRE, `the reset is due at expire + ${((during.deadline ?? NaN) - expire).toFixed(2)} s`);

  await until("the model to fire", () => watchdog.resetModelState().firedAt !== undefined, (expire + FIRE + 10 - monotonic()) * 1000);
  const firedAt = watchdog.resetModelState().firedAt ?? NaN;
  t.ok(
    firedAt >= expire + 50 && firedAt <= expire + FIRE,
    `fired at expire + ${(firedAt - expire).toFixed(2)} s on the thread's clock, within [expire + 50, expire + 60]`,
  );
  await until("the reset to be reported here", () => resets.length === 1, 5000);
  t.equal(resets[0], firedAt);
  t.ok(
    logs.some((line) => /watchdog test failed at \d+ for STALL:1: closing reset-model without disarming/.test(line)),
    "the thread's log reached the daemon's log",
  );
});

t.test(`control: the main-thread tester under the same ${STALL_SECONDS} s stall closes late, and its reset would come after expire + 60`, async (t) => {
  const scheduler = new RealScheduler();
  const device = new ResetModelDevice({ scheduler, onReset: () => undefined });
  const tester = new WatchdogTester({ device, scheduler });
  const { connection, expire } = registerCloseDue(tester);
  const stall = busyLoop(STALL_SECONDS);
  await sleep(200); // let the overdue test run
  const close = device.pings.at(-1) ?? NaN;
  t.ok(close >= stall.end, "the close had to wait for the stall to end");
  t.ok(close > expire, `and pinged at expire + ${(close - expire).toFixed(2)} s`);
  t.ok((device.deadline ?? NaN) > expire + FIRE, `so the reset would come at expire + ${((device.deadline ?? NaN) - expire).toFixed(2)} s: too late`);
  // Stop the model without waiting a minute: clear the expiry; the next 1 s test reopens, and then no user is left.
  connection.clearExpiry();
  connection.close();
  await until("the device to be stopped", () => device.deadline === undefined, 5000);
  tester.shutdown();
});
