// Every lease I/O is bounded by a timeout on the injected clock (docs/algorithms.md §1.5): -202 when
// it does not complete in time, its late outcome ignored; the same with either kind of clock.
import t from "tap";
import { LeaseError, SanlockResult, VirtualClock, type Clock } from "../src/index.js";
import { boundedIo } from "../src/lease-io.js";

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A clock with only now() and sleep(): lease-io falls back to an abortable sleep. */
function sleepOnly(clock: VirtualClock): Clock {
  return { now: () => clock.now(), sleep: (s, signal) => clock.sleep(s, signal) };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function outcome<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown; settled: boolean }> {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (value) => {
      state.value = value;
      state.settled = true;
    },
    (error: unknown) => {
      state.error = error;
      state.settled = true;
    },
  );
  await flush();
  return state;
}

for (const kind of ["timer clock", "sleep-only clock"] as const) {
  const make = (): { virtual: VirtualClock; clock: Clock } => {
    const virtual = new VirtualClock(100);
    return { virtual, clock: kind === "timer clock" ? virtual : sleepOnly(virtual) };
  };

  t.test(`${kind}: an I/O that completes in time returns its result and stops the timer`, async (t) => {
    const { virtual, clock } = make();
    const io = deferred<string>();
    const result = boundedIo(clock, 10, io.promise, "test read", "LEADER_READ");
    virtual.advance(9.5);
    io.resolve("data");
    t.equal(await result, "data");
    await flush();
    t.equal(virtual.pendingSleeps(), 0, "no timer left behind");
  });

  t.test(`${kind}: an I/O still pending at the timeout fails with -202 and its late outcome is ignored`, async (t) => {
    const { virtual, clock } = make();
    const io = deferred<string>();
    const pending = boundedIo(clock, 10, io.promise, "test read", "LEADER_READ");
    virtual.advance(9.9);
    t.equal((await outcome(pending)).settled, false, "not yet at 9.9 s");
    virtual.advance(0.1);
    const state = await outcome(pending);
    t.ok(state.error instanceof LeaseError && state.error.result === SanlockResult.AIO_TIMEOUT, "-202 at 10 s");
    t.match((state.error as Error).message, /test read did not complete within 10 s/);
    io.reject(new Error("late failure")); // must not surface as an unhandled rejection
    await flush();
    t.equal(virtual.pendingSleeps(), 0);
  });

  t.test(`${kind}: a failed I/O is reported with the caller's result name`, async (t) => {
    const { virtual, clock } = make();
    const err = await boundedIo(clock, 10, Promise.reject(new Error("EIO")), "dblock write", "DBLOCK_WRITE").then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof LeaseError && err.result === SanlockResult.DBLOCK_WRITE);
    t.match((err as Error).message, /dblock write failed: EIO/);
    await flush();
    t.equal(virtual.pendingSleeps(), 0);
  });
}

t.test("VirtualClock timers: due ones fire in order, cancelled ones never", async (t) => {
  const clock = new VirtualClock(0);
  const fired: string[] = [];
  clock.startTimer(2, () => fired.push("b"));
  const cancelled = clock.startTimer(1, () => fired.push("x"));
  clock.startTimer(1, () => fired.push("a"));
  cancelled.cancel();
  cancelled.cancel();
  t.equal(clock.pendingSleeps(), 2);
  clock.advanceToNextWakeup();
  t.same(fired, ["a"]);
  clock.advance(5);
  t.same(fired, ["a", "b"]);
  t.throws(() => clock.startTimer(-1, () => undefined), RangeError);
});
