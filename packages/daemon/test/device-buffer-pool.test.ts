// The aligned buffer pool, the per-device in-flight limiter and the threadpool policy
// (packages/daemon/src/device): limits hold, quarantined buffers are never handed out again
// while their I/O may still run.
import t from "tap";
import { AlignedBufferPool, applyDaemonThreadpoolSize, DAEMON_THREADPOOL_SIZE, DeviceError, InFlightLimiter, WASM_PAGE_BYTES } from "../src/device/index.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof DeviceError ? err.code : `not a DeviceError: ${String(err)}`;
  }
  return undefined;
}

t.test("a buffer is a view of exactly the asked length at the start of a whole-page slab", async (t) => {
  const pool = new AlignedBufferPool();
  const buffer = pool.acquire(4096 * 3);
  t.equal(buffer.bytes.length, 4096 * 3);
  t.equal(buffer.bytes.byteOffset, 0, "starts at the (page-aligned) start of its memory");
  t.equal(buffer.bytes.buffer.byteLength % WASM_PAGE_BYTES, 0);
  t.ok(buffer.bytes.buffer.byteLength >= 4096 * 3);
  pool.release(buffer);
});

t.test("lengths outside 1..maxBufferBytes are refused", async (t) => {
  const pool = new AlignedBufferPool({ maxBufferBytes: 2 * WASM_PAGE_BYTES });
  t.equal(
    codeOf(() => pool.acquire(0)),
    "ERR_CORE_INVALID_ARGUMENT",
  );
  t.equal(
    codeOf(() => pool.acquire(2 * WASM_PAGE_BYTES + 1)),
    "ERR_CORE_INVALID_ARGUMENT",
  );
  t.equal(
    codeOf(() => pool.acquire(1.5)),
    "ERR_CORE_INVALID_ARGUMENT",
  );
});

t.test("a released buffer's slab is reused; a quarantined one is not until released", async (t) => {
  const pool = new AlignedBufferPool();
  const first = pool.acquire(512);
  const firstSlab = first.slab;
  pool.release(first);
  const second = pool.acquire(512);
  t.equal(second.slab, firstSlab, "idle slab reused");

  pool.quarantine(second);
  t.equal(second.state, "quarantined");
  t.same(pool.stats(), { inUse: 0, quarantined: 1, idle: 0, kept: 0, totalBytes: WASM_PAGE_BYTES });
  const third = pool.acquire(512);
  t.not(third.slab, firstSlab, "the quarantined slab is not handed out");

  pool.release(second); // its I/O completed
  t.same(pool.stats(), { inUse: 1, quarantined: 0, idle: 1, kept: 0, totalBytes: 2 * WASM_PAGE_BYTES });
  const fourth = pool.acquire(512);
  t.equal(fourth.slab, firstSlab, "after its I/O completed the slab circulates again");
  pool.release(third);
  pool.release(fourth);
});

t.test("quarantined buffers count against the limit, so stalled I/O exhausts the pool", async (t) => {
  const pool = new AlignedBufferPool({ maxTotalBytes: 2 * WASM_PAGE_BYTES, maxBuffers: 10 });
  const a = pool.acquire(512);
  const b = pool.acquire(512);
  pool.quarantine(a);
  pool.quarantine(b);
  t.equal(
    codeOf(() => pool.acquire(512)),
    "ERR_DEVICE_BUFFER_POOL_EXHAUSTED",
  );
  pool.release(a);
  const c = pool.acquire(512);
  t.equal(c.slab, a.slab, "space came back only when a's I/O completed");
  pool.release(b);
  pool.release(c);
});

t.test("maxBuffers bounds the slab count; idle slabs are dropped to make room", async (t) => {
  const pool = new AlignedBufferPool({ maxBuffers: 2, maxTotalBytes: 64 * WASM_PAGE_BYTES });
  const a = pool.acquire(512);
  const b = pool.acquire(512);
  t.equal(
    codeOf(() => pool.acquire(512)),
    "ERR_DEVICE_BUFFER_POOL_EXHAUSTED",
  );
  pool.release(b);
  const big = pool.acquire(3 * WASM_PAGE_BYTES); // the idle one-page slab is too small: dropped, new one made
  t.equal(big.bytes.buffer.byteLength, 3 * WASM_PAGE_BYTES);
  t.same(pool.stats(), { inUse: 2, quarantined: 0, idle: 0, kept: 0, totalBytes: 4 * WASM_PAGE_BYTES });
  pool.release(a);
  pool.release(big);
});

t.test("releasing twice, or quarantining a released buffer, is a bug and throws", async (t) => {
  const pool = new AlignedBufferPool();
  const a = pool.acquire(512);
  pool.release(a);
  t.throws(() => pool.release(a), /released twice/);
  t.throws(() => pool.quarantine(a), /quarantine of a released buffer/);
  t.same(pool.stats().inUse, 0, "accounting unchanged by the refused calls");
});

t.test("only maxIdleBuffers idle slabs are kept", async (t) => {
  const pool = new AlignedBufferPool({ maxIdleBuffers: 1 });
  const a = pool.acquire(512);
  const b = pool.acquire(512);
  pool.release(a);
  pool.release(b);
  t.same(pool.stats(), { inUse: 0, quarantined: 0, idle: 1, kept: 0, totalBytes: WASM_PAGE_BYTES });
});

t.test("in-flight limiter: waits for a slot within its deadline, hands slots on in order", async (t) => {
  const limiter = new InFlightLimiter(1, 2);
  t.equal(await limiter.acquire(1000), "acquired");
  const waiting = limiter.acquire(60_000);
  t.equal(limiter.waitingCount, 1);
  limiter.release();
  t.equal(await waiting, "acquired", "the freed slot went to the waiter");
  t.equal(limiter.inFlightCount, 1);
  limiter.release();
  t.equal(limiter.inFlightCount, 0);
  t.throws(() => limiter.release(), /released more often than taken/);
});

t.test("in-flight limiter: no slot within the deadline → timeout; too many waiters → queue-full", async (t) => {
  const limiter = new InFlightLimiter(1, 1);
  t.equal(await limiter.acquire(1000), "acquired");
  t.equal(await limiter.acquire(0), "timeout", "zero wait fails at once");
  const timedOut = limiter.acquire(20);
  t.equal(await limiter.acquire(60_000), "queue-full", "only one waiter allowed");
  t.equal(await timedOut, "timeout");
  t.equal(limiter.waitingCount, 0, "a timed-out waiter leaves the queue");
  limiter.release();
  t.equal(limiter.inFlightCount, 0, "nobody waiting: the slot is free");
});

t.test("threadpool: raised to the daemon size unless the operator set a larger one", async (t) => {
  const env: Record<string, string | undefined> = {};
  t.same(applyDaemonThreadpoolSize(env), { size: DAEMON_THREADPOOL_SIZE, changed: true });
  t.equal(env.UV_THREADPOOL_SIZE, String(DAEMON_THREADPOOL_SIZE));
  const small: Record<string, string | undefined> = { UV_THREADPOOL_SIZE: "4" };
  t.equal(applyDaemonThreadpoolSize(small).size, DAEMON_THREADPOOL_SIZE);
  t.equal(small.UV_THREADPOOL_SIZE, String(DAEMON_THREADPOOL_SIZE));
  const large: Record<string, string | undefined> = { UV_THREADPOOL_SIZE: "512" };
  t.same(applyDaemonThreadpoolSize(large), { size: 512, changed: false });
  t.throws(() => applyDaemonThreadpoolSize({}, 2000), RangeError);
});

t.test("trimIdle drops only the slabs idle for at least keepMs, and counts their bytes", async (t) => {
  const pool = new AlignedBufferPool();
  const old = pool.acquire(WASM_PAGE_BYTES);
  const fresh = pool.acquire(2 * WASM_PAGE_BYTES);
  const busy = pool.acquire(WASM_PAGE_BYTES);
  pool.release(old);
  const now = performance.now();
  pool.release(fresh);
  t.equal(pool.trimIdle(1000, now + 999), 0, "nothing idle for 1000 ms yet");
  t.equal(pool.stats().idle, 2);
  t.equal(pool.trimIdle(0, performance.now()), 3 * WASM_PAGE_BYTES, "both idle slabs dropped");
  t.same(pool.stats(), { inUse: 1, quarantined: 0, idle: 0, kept: 0, totalBytes: WASM_PAGE_BYTES }, "the one in use is untouched and still counted");
  pool.release(busy);
});

// SlabKeeper: a lockspace's renewal device keeps its read slab between renewals (fresh slabs
// cost page faults on every renewal); the kept slab never stands in the way of an allocation.
t.test("a keeper keeps its largest slab between I/Os and lends it to the next one that fits", async (t) => {
  const pool = new AlignedBufferPool({ maxIdleBuffers: 0 });
  const keeper = pool.keeper();
  const read = pool.acquire(16 * WASM_PAGE_BYTES, keeper);
  const readSlab = read.slab;
  pool.release(read, keeper);
  t.same(pool.stats(), { inUse: 0, quarantined: 0, idle: 0, kept: 1, totalBytes: 16 * WASM_PAGE_BYTES }, "kept, although the pool keeps no idle slab");
  const write = pool.acquire(512, keeper);
  t.equal(write.slab, readSlab, "a smaller I/O uses the kept slab");
  const concurrentRead = pool.acquire(16 * WASM_PAGE_BYTES, keeper);
  t.not(concurrentRead.slab, readSlab, "while lent out, the keeper has nothing to lend");
  pool.release(write, keeper);
  pool.release(concurrentRead, keeper);
  t.same(pool.stats(), { inUse: 0, quarantined: 0, idle: 0, kept: 1, totalBytes: 16 * WASM_PAGE_BYTES }, "one slab kept, the other dropped");

  const small = pool.keeper();
  const first = pool.acquire(512, small);
  pool.release(first, small);
  const larger = pool.acquire(2 * WASM_PAGE_BYTES, small);
  t.not(larger.slab, first.slab, "a kept slab too small for the I/O is not lent");
  pool.release(larger, small);
  t.equal(pool.acquire(2 * WASM_PAGE_BYTES, small).slab, larger.slab, "the larger slab replaced the smaller one");
});

t.test("a quarantined buffer returns to its keeper only when its I/O completes; a closed keeper keeps nothing", async (t) => {
  const pool = new AlignedBufferPool({ maxIdleBuffers: 1 });
  const keeper = pool.keeper();
  const stuck = pool.acquire(512, keeper);
  pool.quarantine(stuck);
  t.not(pool.acquire(512, keeper).slab, stuck.slab, "not lent while the kernel may use it");
  pool.release(stuck, keeper);
  t.equal(pool.stats().kept, 1, "kept once its I/O completed");
  keeper.close();
  t.same(pool.stats().kept, 0, "close gives the slab back");
  t.equal(pool.stats().idle, 1, "as an idle slab");
  const after = pool.acquire(512, keeper);
  pool.release(after, keeper);
  t.equal(pool.stats().kept, 0, "a closed keeper keeps nothing");
});

t.test("kept slabs are dropped before an allocation would fail", async (t) => {
  const pool = new AlignedBufferPool({ maxTotalBytes: 4 * WASM_PAGE_BYTES, maxBuffers: 3, maxIdleBuffers: 0 });
  const keepers = [pool.keeper(), pool.keeper(), pool.keeper()];
  for (const keeper of keepers) pool.release(pool.acquire(WASM_PAGE_BYTES, keeper), keeper);
  t.equal(pool.stats().kept, 3, "three kept slabs: the buffer limit");
  const big = pool.acquire(3 * WASM_PAGE_BYTES);
  t.same(pool.stats(), { inUse: 1, quarantined: 0, idle: 0, kept: 1, totalBytes: 4 * WASM_PAGE_BYTES }, "two kept slabs made room");
  pool.release(big);
  t.equal(
    codeOf(() => pool.acquire(4 * WASM_PAGE_BYTES)),
    undefined,
    "the last kept slab yields too",
  );
});
