// One device per lease path shared by the resources on it (src/resources/lease-devices.ts):
// opened once while in use, closed after the last user, opened afresh afterwards; a failed open
// is not remembered; a device whose I/O timed out keeps its fd (and the I/O's buffer) until the
// kernel finishes that I/O, while a new user of the path gets a new device.
import t from "tap";
import { createSparseFile } from "../../../test/helpers/loop-device.js";
import { DeviceError, nodeDeviceIo, openDirectDevice, type DeviceIo, type DirectDevice } from "../src/device/index.js";
import { SharedLeaseDevices } from "../src/resources/lease-devices.js";

const MIB = 1024 * 1024;

/** Opens real devices, counting opens and closed fds. */
function countingOpener(io: DeviceIo = nodeDeviceIo): { open: (path: string, ioTimeoutMs: number) => Promise<DirectDevice>; opened: DirectDevice[]; closedFds: number[] } {
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

t.test("users of one path share one open device; the last release closes it", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4 * MIB });
  const opener = countingOpener();
  const devices = new SharedLeaseDevices(opener.open);
  const [a, b] = await Promise.all([devices.use(file.path, 5000), devices.use(file.path, 5000)]);
  t.equal(opener.opened.length, 1, "two concurrent users, one open");
  t.equal(a.device, b.device);
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
  t.not(c.device, a.device);
  await c.release();
});

t.test("a different I/O deadline gets its own device", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const opener = countingOpener();
  const devices = new SharedLeaseDevices(opener.open);
  const short = await devices.use(file.path, 5000);
  const long = await devices.use(file.path, 50_000);
  t.not(short.device, long.device);
  t.equal(short.device.ioTimeoutMs, 5000);
  t.equal(long.device.ioTimeoutMs, 50_000);
  await short.release();
  await long.release();
  t.equal(opener.closedFds.length, 2);
});

t.test("a failed open is reported to its users and tried again by the next one", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const missing = `${file.path}.missing`;
  const devices = new SharedLeaseDevices(countingOpener().open);
  const first = await devices.use(missing, 5000).then(() => "opened", (err: unknown) => (err as DeviceError).code);
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
  const timedOut = await stalled.device.read(0, 512).then(() => "read", (err: unknown) => (err as DeviceError).code);
  t.equal(timedOut, "ERR_IO_TIMEOUT");
  await stalled.release();
  t.same(opener.closedFds, [], "the fd stays open while the timed-out read may still run");
  t.equal(stalled.device.stats().inFlight, 1, "its slot stays taken");

  const fresh = await devices.use(file.path, 200);
  t.not(fresh.device, stalled.device, "the closing device is not handed out again");
  t.same(await fresh.device.read(0, 512), new Uint8Array(512));

  resumeHeld?.();
  await stalled.device.whenFdClosed();
  t.equal(opener.closedFds.length, 1, "closed once the kernel finished the read");
  await fresh.release();
  t.equal(opener.closedFds.length, 2);
});
