// Deadlines on device I/O, with the kernel's slowness injected (a real hang cannot be made on
// demand): a late I/O rejects with ERR_DEVICE_IO_TIMEOUT and counts as failed; its buffer stays
// quarantined and its in-flight slot taken until it really completes; a timed-out write may
// still land; one stalled device cannot queue unbounded work; close waits for the stalled I/O
// before closing the fd.
import t from "tap";
import { readFile } from "node:fs/promises";
import { createSparseFile } from "../../../test/support/index.js";
import { AlignedBufferPool, DeviceError, nodeDeviceIo, openDirectDevice, type DeviceIo } from "../src/device/index.js";

/** A deadline that a held I/O always misses and a released one never gets near. */
const SHORT_DEADLINE_MS = 50;
const LONG_DEADLINE_MS = 30_000;

interface HeldIo {
  op: "read" | "write";
  position: number;
  /** The buffer the kernel would be using. */
  bytes: Uint8Array;
  /** Let the I/O run now (the real syscall); resolves when it finished. */
  resume(): Promise<void>;
}

/**
 * nodeDeviceIo whose next `holdCount` reads/writes wait until the test resumes them,
 * like I/O stuck in a dead path. Held ones are listed in `held`.
 */
function stallingIo(): { io: DeviceIo; held: HeldIo[]; holdNext(count: number): void } {
  const held: HeldIo[] = [];
  let holdCount = 0;
  const gate =
    (op: "read" | "write") =>
    (fd: number, bytes: Uint8Array, position: number): Promise<number> => {
      const run = () => (op === "read" ? nodeDeviceIo.read(fd, bytes, position) : nodeDeviceIo.write(fd, bytes, position));
      if (holdCount === 0) return run();
      holdCount -= 1;
      return new Promise<number>((resolve, reject) => {
        held.push({
          op,
          position,
          bytes,
          resume: () =>
            run()
              .then(resolve, reject)
              .then(() => undefined),
        });
      });
    };
  return { io: { ...nodeDeviceIo, read: gate("read"), write: gate("write") }, held, holdNext: (count) => (holdCount = count) };
}

async function rejection(work: () => Promise<unknown>): Promise<DeviceError> {
  try {
    await work();
  } catch (err) {
    if (err instanceof DeviceError) return err;
    throw err;
  }
  throw new Error("expected a DeviceError, the call succeeded");
}

/** Let settled promise callbacks (the completion path) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

t.test("a late read rejects with ERR_DEVICE_IO_TIMEOUT, counts as failed, and quarantines its buffer", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 65536 });
  const pool = new AlignedBufferPool();
  const { io, held, holdNext } = stallingIo();
  const device = await openDirectDevice(file.path, { io, pool, ioTimeoutMs: SHORT_DEADLINE_MS });
  t.teardown(() => device.close());

  holdNext(1);
  const err = await rejection(() => device.read(0, 4096));
  t.equal(err.code, "ERR_DEVICE_IO_TIMEOUT");
  t.match(err.message, /read of 4096 bytes at offset 0 on .*not complete after 50 ms; counted as failed, it may still complete/);
  t.same(device.stats(), { reads: 1, writes: 0, failed: 1, timedOut: 1, inFlight: 1 }, "the stalled read still holds its slot");
  t.same(pool.stats(), { inUse: 0, quarantined: 1, idle: 0, kept: 0, totalBytes: 65536 });

  // Other I/O goes on with other buffers while the first is stuck.
  const fresh = await device.read(4096, 4096, { timeoutMs: LONG_DEADLINE_MS });
  t.equal(fresh.length, 4096);
  t.not(fresh.buffer, held[0]!.bytes.buffer, "the result is a copy, not pool memory");
  t.same(pool.stats().quarantined, 1);

  await held[0]!.resume();
  await settle();
  t.same(pool.stats(), { inUse: 0, quarantined: 0, idle: 2, kept: 0, totalBytes: 2 * 65536 }, "completion ends the quarantine");
  t.equal(device.stats().inFlight, 0, "and frees the slot");
  t.equal(device.stats().failed, 1, "a late completion does not turn the failure into a success");
});

t.test("a timed-out write may still land, with the data it was given", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 65536 });
  const pool = new AlignedBufferPool();
  const { io, held, holdNext } = stallingIo();
  const device = await openDirectDevice(file.path, { io, pool, ioTimeoutMs: SHORT_DEADLINE_MS });
  t.teardown(() => device.close());

  holdNext(1);
  t.equal((await rejection(() => device.write(0, new Uint8Array(512).fill(0xaa)))).code, "ERR_DEVICE_IO_TIMEOUT");
  // More writes while the first is stuck: none of them may reuse (and overwrite) its buffer.
  for (let i = 1; i <= 3; i++) await device.write(512 * i, new Uint8Array(512).fill(0xb0 + i), { timeoutMs: LONG_DEADLINE_MS });
  t.ok(
    held[0]!.bytes.every((b) => b === 0xaa),
    "the stalled write's buffer still holds its own data",
  );

  await held[0]!.resume(); // the storage path comes back: the old write reaches the disk
  const disk = await readFile(file.path);
  t.ok(
    disk.subarray(0, 512).every((b) => b === 0xaa),
    "the timed-out write landed later",
  );
  t.ok(disk.subarray(512 * 3, 512 * 4).every((b) => b === 0xb3));
});

t.test("one stalled device holds at most maxInFlight slots; further I/O waits within its deadline", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 65536 });
  const { io, held, holdNext } = stallingIo();
  const device = await openDirectDevice(file.path, { io, pool: new AlignedBufferPool(), maxInFlight: 2, maxWaiting: 1, ioTimeoutMs: SHORT_DEADLINE_MS });
  t.teardown(() => device.close());

  holdNext(2);
  const stalled = await Promise.all([rejection(() => device.read(0, 512)), rejection(() => device.read(512, 512))]);
  t.same(
    stalled.map((e) => e.code),
    ["ERR_DEVICE_IO_TIMEOUT", "ERR_DEVICE_IO_TIMEOUT"],
  );
  t.equal(held.length, 2, "both reached the (stalled) kernel");

  const noSlot = await rejection(() => device.read(1024, 512));
  t.equal(noSlot.code, "ERR_DEVICE_IO_TIMEOUT");
  t.match(noSlot.message, /no in-flight slot freed within 50 ms \(2 I\/Os stuck\)/);
  t.equal(held.length, 2, "it never reached the kernel");

  const waiting = device.read(1024, 512, { timeoutMs: LONG_DEADLINE_MS });
  const busy = await rejection(() => device.read(1536, 512, { timeoutMs: LONG_DEADLINE_MS }));
  t.equal(busy.code, "ERR_DEVICE_BUSY", "the wait queue is bounded too");

  await held[0]!.resume(); // one stalled read finishes: its slot goes to the waiting read
  t.equal((await waiting).length, 512);
  await held[1]!.resume();
  await settle();
  t.equal(device.stats().inFlight, 0);
  t.same(device.stats(), { reads: 5, writes: 0, failed: 4, timedOut: 3, inFlight: 0 });
});

t.test("close with a stalled I/O: new I/O refused at once, fd closed only after the I/O finishes", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 65536 });
  const { io, held, holdNext } = stallingIo();
  let fdClosed = false;
  const device = await openDirectDevice(file.path, {
    io: { ...io, close: (fd) => ((fdClosed = true), nodeDeviceIo.close(fd)) },
    pool: new AlignedBufferPool(),
    ioTimeoutMs: SHORT_DEADLINE_MS,
  });
  holdNext(1);
  t.equal((await rejection(() => device.write(0, new Uint8Array(512)))).code, "ERR_DEVICE_IO_TIMEOUT");
  await device.close();
  t.equal(fdClosed, false, "the fd stays open while the kernel may still use it");
  t.equal((await rejection(() => device.read(0, 512))).code, "ERR_DEVICE_CLOSED");
  await held[0]!.resume();
  await device.whenFdClosed();
  t.equal(fdClosed, true);
});

t.test("the per-call deadline overrides the device's", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 65536 });
  const { io, held, holdNext } = stallingIo();
  const device = await openDirectDevice(file.path, { io, pool: new AlignedBufferPool(), ioTimeoutMs: LONG_DEADLINE_MS });
  t.teardown(() => device.close());
  holdNext(1);
  const err = await rejection(() => device.read(0, 512, { timeoutMs: SHORT_DEADLINE_MS }));
  t.equal(err.code, "ERR_DEVICE_IO_TIMEOUT");
  t.match(err.message, /after 50 ms/);
  await held[0]!.resume();
  t.throws(() => (device.ioTimeoutMs = 0), RangeError, "a zero deadline is refused");
  t.throws(() => (device.ioTimeoutMs = Number.POSITIVE_INFINITY), RangeError, "so is an unbounded one");
});

t.test("an open that outlives its deadline fails, and its late fd is closed", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 65536 });
  let releaseOpen: () => void = () => undefined;
  let closedFd: number | undefined;
  const openedFd = new Promise<number>((resolve) => {
    releaseOpen = () => void nodeDeviceIo.open(file.path, 0).then(resolve);
  });
  const io: DeviceIo = { ...nodeDeviceIo, open: () => openedFd, close: (fd) => ((closedFd = fd), nodeDeviceIo.close(fd)) };
  const err = await rejection(() => openDirectDevice(file.path, { io, openTimeoutMs: SHORT_DEADLINE_MS }));
  t.equal(err.code, "ERR_DEVICE_IO_TIMEOUT");
  t.match(err.message, /open of .*: not complete after 50 ms/);
  releaseOpen();
  const fd = await openedFd;
  await settle();
  t.equal(closedFd, fd, "the fd that arrived late was closed, not leaked");
});
