// One device per lease path shared by the resources on it (src/resources/lease-devices.ts):
// opened once while in use, kept open a while after the last user and reused only while the path
// still names the same file, closed after that; a failed open is not remembered; a device whose
// I/O timed out keeps its fd (and the I/O's buffer) until the kernel finishes that I/O, while a
// new user of the path gets a new device.
import t from "tap";
import { renameSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createSparseFile } from "../../../test/support/index.js";
import { type DeviceError, nodeDeviceIo, openDirectDevice, type DeviceIo, type DirectDevice } from "../src/device/index.js";
import { SharedLeaseDevices } from "../src/resources/lease-devices.js";

const MIB = 1024 * 1024;

/** Opens real devices, counting opens and closed fds. */
function countingOpener(io: DeviceIo = nodeDeviceIo): {
  open: (path: string, ioTimeoutMs: number) => Promise<DirectDevice>;
  opened: DirectDevice[];
  closedFds: number[];
} {
  const opened: DirectDevice[] = [];
  const closedFds: number[] = [];
  const countingIo: DeviceIo = { ...io, close: (fd) => (closedFds.push(fd), io.close(fd)) };
  return {
    opened,
    closedFds,
    open: async (path, ioTimeoutMs) => {
      const device = await openDirectDevice(path, { ioTimeoutMs, io: countingIo });
      opened.push(device);
      return device;
    },
  };
}

t.test("users of one path share one open device; without an idle period the last release closes it", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4 * MIB });
  const opener = countingOpener();
  const devices = new SharedLeaseDevices(opener.open, { idleCloseMs: 0 });
  const [a, b] = await Promise.all([devices.use(file.path, 5000), devices.use(file.path, 5000)]);
  t.equal(opener.opened.length, 1, "two concurrent users, one open");
  t.equal(await a.device.confirmed(), await b.device.confirmed());
  t.equal(devices.usersOf(file.path, 5000), 2);

  await a.device.write(0, new Uint8Array(512).fill(7));
  await a.release();
  await a.release(); // a second release of the same claim changes nothing
  t.equal(devices.usersOf(file.path, 5000), 1);
  t.same(opener.closedFds, [], "still open for the other user");
  t.same(await b.device.read(0, 512), new Uint8Array(512).fill(7), "the remaining user still reads through it");

  await b.release();
  t.equal(opener.closedFds.length, 1, "closed after the last user");
  t.equal(devices.openCount, 0);

  const c = await devices.use(file.path, 5000);
  t.equal(opener.opened.length, 2, "a later user opens the path again");
  t.not(await c.device.confirmed(), await a.device.confirmed());
  await c.release();
});

t.test("a different I/O deadline gets its own device", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const opener = countingOpener();
  const devices = new SharedLeaseDevices(opener.open, { idleCloseMs: 0 });
  const short = await devices.use(file.path, 5000);
  const long = await devices.use(file.path, 50_000);
  t.not(await short.device.confirmed(), await long.device.confirmed());
  t.equal((await short.device.confirmed()).ioTimeoutMs, 5000);
  t.equal((await long.device.confirmed()).ioTimeoutMs, 50_000);
  await short.release();
  await long.release();
  t.equal(opener.closedFds.length, 2);
});

t.test("a failed open is reported to its users and tried again by the next one", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const missing = `${file.path}.missing`;
  const devices = new SharedLeaseDevices(countingOpener().open);
  const first = await devices.use(missing, 5000).then(
    () => "opened",
    (err: unknown) => (err as DeviceError).code,
  );
  t.equal(first, "ERR_DEVICE_NOT_FOUND");
  t.equal(devices.openCount, 0, "nothing kept of the failed open");
  t.equal(devices.usersOf(missing, 5000), 0);
  const again = await devices.use(file.path, 5000);
  t.equal(devices.usersOf(file.path, 5000), 1);
  await again.release();
});

t.test("a device with a timed-out I/O keeps its fd until the kernel finishes; new users get a new device", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  let resumeHeld: (() => void) | undefined;
  let holdNext = true;
  const stallingIo: DeviceIo = {
    ...nodeDeviceIo,
    read: (fd, bytes, position) => {
      if (!holdNext) return nodeDeviceIo.read(fd, bytes, position);
      holdNext = false;
      return new Promise((resolve, reject) => {
        resumeHeld = () => void nodeDeviceIo.read(fd, bytes, position).then(resolve, reject);
      });
    },
  };
  const opener = countingOpener(stallingIo);
  const devices = new SharedLeaseDevices(opener.open);
  const stalled = await devices.use(file.path, 200);
  const timedOut = await stalled.device.read(0, 512).then(
    () => "read",
    (err: unknown) => (err as DeviceError).code,
  );
  t.equal(timedOut, "ERR_DEVICE_IO_TIMEOUT");
  await stalled.release();
  t.equal(devices.idleCount, 0, "a device with I/O still in the kernel is not kept for reuse");
  t.same(opener.closedFds, [], "the fd stays open while the timed-out read may still run");
  t.equal((await stalled.device.confirmed()).stats().inFlight, 1, "its slot stays taken");

  const fresh = await devices.use(file.path, 200);
  t.not(await fresh.device.confirmed(), await stalled.device.confirmed(), "the closing device is not handed out again");
  t.same(await fresh.device.read(0, 512), new Uint8Array(512));

  resumeHeld?.();
  await (await stalled.device.confirmed()).whenFdClosed();
  t.equal(opener.closedFds.length, 1, "closed once the kernel finished the read");
  await fresh.release();
  t.equal(devices.idleCount, 1, "a device without I/O in the kernel waits for its next user");
  await devices.closeIdle();
  t.equal(opener.closedFds.length, 2);
});

t.test("an idle device is reused while the path names the same file, and closed after the idle period", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const opener = countingOpener();
  const devices = new SharedLeaseDevices(opener.open, { idleCloseMs: 300 });
  const first = await devices.use(file.path, 5000);
  await first.device.write(0, new Uint8Array(512).fill(3));
  await first.release();
  t.same(opener.closedFds, [], "kept open after the last user");
  t.equal(devices.idleCount, 1);

  const second = await devices.use(file.path, 5000);
  t.equal(await second.device.confirmed(), await first.device.confirmed(), "the same device again, no new open");
  t.equal(opener.opened.length, 1);
  t.equal(devices.idleCount, 0, "in use again");
  t.same(await second.device.read(0, 512), new Uint8Array(512).fill(3));
  await second.release();

  await sleep(600);
  t.equal(opener.closedFds.length, 1, "closed once idle for the idle period");
  t.equal(devices.openCount, 0);
  const third = await devices.use(file.path, 5000);
  t.equal(opener.opened.length, 2, "opened afresh after that");
  await third.release();
  await devices.closeIdle();
  t.equal(opener.closedFds.length, 2, "closeIdle closes what waits");
});

t.test("a lease file replaced while its device was idle gets a new device: no lease I/O through a stale fd", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const opener = countingOpener();
  const devices = new SharedLeaseDevices(opener.open, { idleCloseMs: 60_000 });
  const before = await devices.use(file.path, 5000);
  await before.release();

  const replacement = `${file.path}.new`;
  writeFileSync(replacement, new Uint8Array(MIB).fill(9));
  renameSync(replacement, file.path); // same path, another inode: what another host now sees
  const after = await devices.use(file.path, 5000);
  t.not(await after.device.confirmed(), await before.device.confirmed(), "not the idle device");
  t.equal(opener.opened.length, 2);
  t.same(await after.device.read(0, 512), new Uint8Array(512).fill(9), "reads the file now at the path");
  await (await before.device.confirmed()).whenFdClosed();
  t.equal(opener.closedFds.length, 1, "the stale device was closed");
  await after.release();
  await devices.closeIdle();
});

/**
 * nodeDeviceIo whose path stats wait until `answer()`, counting kernel reads and writes per
 * open (0 = the first open): fd numbers are reused once a device closes, so opens are told
 * apart by their order.
 */
function heldStatIo(): { io: DeviceIo; answer: () => void; stallFirstOpenReads: () => () => void; reads: number[]; writes: number[] } {
  const openOf = new Map<number, number>();
  const reads: number[] = [];
  const writes: number[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let readStall: Promise<void> = Promise.resolve();
  const count = (counts: number[], fd: number): void => {
    const open = openOf.get(fd)!;
    counts[open] = (counts[open] ?? 0) + 1;
  };
  const io: DeviceIo = {
    ...nodeDeviceIo,
    open: async (path, flags) => {
      const fd = await nodeDeviceIo.open(path, flags);
      openOf.set(fd, reads.length);
      reads.push(0);
      writes.push(0);
      return fd;
    },
    stat: async (path) => {
      await gate;
      return nodeDeviceIo.stat!(path);
    },
    read: async (fd, target, position) => {
      count(reads, fd);
      if (openOf.get(fd) === 0) await readStall;
      return nodeDeviceIo.read(fd, target, position);
    },
    write: (fd, source, position) => (count(writes, fd), nodeDeviceIo.write(fd, source, position)),
  };
  const stallFirstOpenReads = (): (() => void) => {
    let resume: () => void = () => undefined;
    readStall = new Promise<void>((resolve) => (resume = resolve));
    return resume;
  };
  return { io, answer: () => release(), stallFirstOpenReads, reads, writes };
}

/** A path whose device is idle (first user wrote 4s to sector 0 and left), stats held. */
async function idleDeviceWithHeldStat(t: Parameters<typeof createSparseFile>[0], ioTimeoutMs = 5000) {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const held = heldStatIo();
  const opener = countingOpener(held.io);
  const devices = new SharedLeaseDevices(opener.open, { idleCloseMs: 60_000 });
  const first = await devices.use(file.path, ioTimeoutMs);
  await first.device.write(0, new Uint8Array(512).fill(4));
  await first.release();
  return { file, held, opener, devices };
}

t.test("a reused device reads before its stat answers; a write waits for it", async (t) => {
  const { file, held, opener, devices } = await idleDeviceWithHeldStat(t);

  const again = await devices.use(file.path, 5000); // handed out without waiting for the stat
  const read = again.device.read(0, 512);
  const write = again.device.write(512, new Uint8Array(512).fill(5));
  await sleep(50);
  t.equal(held.reads[0], 1, "the read reached the kernel while the stat was held");
  t.equal(held.writes[0], 1, "the write did not (only the first user's write did)");
  held.answer();
  t.same(await read, new Uint8Array(512).fill(4));
  await write;
  t.equal(held.writes[0], 2, "the write went to the confirmed device");
  t.equal(opener.opened.length, 1);
  await again.release();
  await devices.closeIdle();
});

t.test("reads started on a device whose file was replaced are dropped and issued on the new file", async (t) => {
  const { file, held, opener, devices } = await idleDeviceWithHeldStat(t);

  const replacement = `${file.path}.new`;
  writeFileSync(replacement, new Uint8Array(MIB).fill(9));
  renameSync(replacement, file.path);
  const again = await devices.use(file.path, 5000);
  const read = again.device.readWith(0, 512, (bytes) => bytes[0]);
  const write = again.device.write(512, new Uint8Array(512).fill(6));
  await sleep(50);
  t.equal(held.reads[0], 1, "the read went to the old file while the stat was held");
  held.answer();
  t.equal(await read, 9, "the result is the new file's");
  await write;
  t.equal(opener.opened.length, 2, "the new file was opened");
  const fresh = opener.opened[1]!;
  t.equal(held.reads[1], 1, "the read was issued again on it");
  t.equal(held.writes[0], 1, "nothing but the first user's write reached the old file");
  t.equal(held.writes[1], 1, "the write went to the new file");
  t.equal(await again.device.confirmed(), fresh);
  await again.release();
  await devices.closeIdle();
});

t.test("a read stuck on the replaced file does not hold up the read on the new one", async (t) => {
  const { file, held, opener, devices } = await idleDeviceWithHeldStat(t, 60_000);
  const resume = held.stallFirstOpenReads(); // the old file's device stops answering reads
  const replacement = `${file.path}.new`;
  writeFileSync(replacement, new Uint8Array(MIB).fill(9));
  renameSync(replacement, file.path);
  const again = await devices.use(file.path, 60_000);
  const read = again.device.readWith(0, 512, (bytes) => bytes[0]);
  await sleep(50);
  held.answer();
  // Well before the stuck read's 60 s deadline: the new file's read does not wait for it.
  const first = await Promise.race([read, sleep(10_000).then(() => "still waiting")]);
  t.equal(first, 9, "the new file's content, while the old file's read is still stuck");
  t.equal(opener.opened.length, 2);
  resume();
  await again.release();
  await devices.closeIdle();
});

t.test("at most maxIdle devices wait; the oldest closes first", async (t) => {
  const files = [];
  for (let i = 0; i < 3; i++) files.push(await createSparseFile(t, { sizeBytes: MIB }));
  const opener = countingOpener();
  const devices = new SharedLeaseDevices(opener.open, { idleCloseMs: 60_000, maxIdle: 2 });
  const uses = await Promise.all(files.map((f) => devices.use(f.path, 5000)));
  for (const use of uses) await use.release();
  await (await uses[0]!.device.confirmed()).whenFdClosed();
  t.equal(devices.idleCount, 2);
  t.same(opener.closedFds.length, 1, "the first released was closed when the third became idle");
  t.equal(devices.usersOf(files[0]!.path, 5000), 0);
  const again = await devices.use(files[2]!.path, 5000);
  t.equal(await again.device.confirmed(), await uses[2]!.device.confirmed(), "the newest idle one is still there");
  await again.release();
  await devices.closeIdle();
  t.equal(opener.closedFds.length, 3);
});
