// The /dev/watchdog backend (docs/algorithms.md §7.5, wdmd's use of the device) against a fake
// device file with an injected ioctl: the exact ioctl request numbers (<linux/watchdog.h>)
// and argument bytes, the 60 s check, the magic close; the real `ioctl` addon on a file
// that is not a watchdog; the choice of backend for -w 0 / -w 1.
import t from "tap";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DevWatchdogDevice, NoWatchdog, WatchdogError, WatchdogTester, createWatchdog, systemWatchdogIo, type WatchdogIo } from "../src/watchdog/index.js";
import { tempLeaseDir } from "../../../test/support/index.js";

// _IOR('W', 5, int), _IOWR('W', 6, int), _IOR('W', 7, int): dir<<30 | size<<16 | 'W'<<8 | nr.
const IOC_READ = 2;
const IOC_READ_WRITE = 3;
const ioc = (dir: number, nr: number): number => ((dir << 30) | (4 << 16) | (0x57 << 8) | nr) >>> 0;
const KEEPALIVE = ioc(IOC_READ, 5);
const SETTIMEOUT = ioc(IOC_READ_WRITE, 6);
const GETTIMEOUT = ioc(IOC_READ, 7);

interface IoctlCall {
  fd: number;
  request: number;
  bytes: number[];
}

/** A watchdog driver model: holds a timeout, answers GET/SET like the kernel (int, native order). */
function fakeIo(options: { initialTimeout: number; settable: boolean }): { io: WatchdogIo; calls: IoctlCall[] } {
  const calls: IoctlCall[] = [];
  let timeout = options.initialTimeout;
  const io: WatchdogIo = {
    open: systemWatchdogIo.open,
    write: systemWatchdogIo.write,
    close: systemWatchdogIo.close,
    ioctl(fd, request, arg) {
      calls.push({ fd, request, bytes: [...arg] });
      const view = new DataView(arg.buffer, arg.byteOffset, 4);
      if (request === GETTIMEOUT) view.setInt32(0, timeout, true);
      if (request === SETTIMEOUT && options.settable) timeout = view.getInt32(0, true);
      return 0;
    },
  };
  return { io, calls };
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (err) {
    return err instanceof WatchdogError ? err.code : `not a WatchdogError: ${String(err)}`;
  }
  return undefined;
}

t.test("ioctl numbers are those of linux/watchdog.h", async (t) => {
  t.equal(KEEPALIVE, 0x80045705);
  t.equal(SETTIMEOUT, 0xc0045706);
  t.equal(GETTIMEOUT, 0x80045707);
});

t.test("a device already at 60 s: GETTIMEOUT then KEEPALIVE, no SETTIMEOUT", async (t) => {
  const path = join(tempLeaseDir(t, "slts-"), "watchdog");
  writeFileSync(path, "");
  const { io, calls } = fakeIo({ initialTimeout: 60, settable: true });
  const device = new DevWatchdogDevice(path, io);
  device.arm(60);
  t.equal(device.isOpen, true);
  t.same(
    calls.map((c) => c.request),
    [GETTIMEOUT, KEEPALIVE],
  );
  t.ok(
    calls.every((c) => c.fd === calls[0]?.fd && c.fd >= 0),
    "every ioctl on the opened fd",
  );
});

t.test("a device at another timeout: GET, SET 60 (int 60 in the argument), GET to verify, KEEPALIVE", async (t) => {
  const path = join(tempLeaseDir(t, "slts-"), "watchdog");
  writeFileSync(path, "");
  const { io, calls } = fakeIo({ initialTimeout: 30, settable: true });
  const device = new DevWatchdogDevice(path, io);
  device.arm(60);
  t.same(
    calls.map((c) => c.request),
    [GETTIMEOUT, SETTIMEOUT, GETTIMEOUT, KEEPALIVE],
  );
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  t.same(calls[1]?.bytes, little ? [0x3c, 0, 0, 0] : [0, 0, 0, 0x3c], "SETTIMEOUT carries the int 60");
  t.equal(calls[3]?.bytes.length, 4, "KEEPALIVE passes an int");
  device.keepalive();
  t.equal(calls.at(-1)?.request, KEEPALIVE);
  device.disarm();
  t.equal(readFileSync(path, "latin1"), "V", "clean shutdown writes the magic 'V'");
  t.equal(device.isOpen, false);
});

t.test("a device that does not take 60 s is refused and disarmed", async (t) => {
  const path = join(tempLeaseDir(t, "slts-"), "watchdog");
  writeFileSync(path, "");
  const { io, calls } = fakeIo({ initialTimeout: 30, settable: false });
  const device = new DevWatchdogDevice(path, io);
  t.equal(
    codeOf(() => device.arm(60)),
    "ERR_WATCHDOG_TIMEOUT",
  );
  t.equal(device.isOpen, false);
  t.notOk(
    calls.some((c) => c.request === KEEPALIVE),
    "never kept alive",
  );
  t.equal(readFileSync(path, "latin1"), "V", "closed with the magic code so it does not fire");
});

t.test("close without magic writes nothing", async (t) => {
  const path = join(tempLeaseDir(t, "slts-"), "watchdog");
  writeFileSync(path, "");
  const { io } = fakeIo({ initialTimeout: 60, settable: true });
  const device = new DevWatchdogDevice(path, io);
  device.arm(60);
  device.closeUnclean();
  t.equal(device.isOpen, false);
  t.equal(readFileSync(path, "latin1"), "", "no 'V': the watchdog keeps counting");
  device.reopen();
  t.equal(device.isOpen, true);
  device.disarm();
});

t.test("the real ioctl addon on a file that is no watchdog fails with ENOTTY", async (t) => {
  const path = join(tempLeaseDir(t, "slts-"), "not-a-watchdog");
  writeFileSync(path, "");
  const device = new DevWatchdogDevice(path);
  let error: unknown;
  try {
    device.arm(60);
  } catch (err) {
    error = err;
  }
  t.ok(error instanceof WatchdogError);
  t.equal((error as WatchdogError).code, "ERR_WATCHDOG_IOCTL");
  t.match((error as WatchdogError).message, /WDIOC_GETTIMEOUT failed: ENOTTY/);
  t.equal(device.isOpen, false);
});

t.test("a missing device node", async (t) => {
  const device = new DevWatchdogDevice(join(tempLeaseDir(t, "slts-"), "absent"));
  t.equal(
    codeOf(() => device.arm(60)),
    "ERR_WATCHDOG_NO_DEVICE",
  );
});

t.test("-w 0 selects no watchdog; -w 1 without a device is a clear error", async (t) => {
  t.ok(createWatchdog({ useWatchdog: false }) instanceof NoWatchdog);
  const dir = tempLeaseDir(t, "slts-");
  let error: unknown;
  try {
    createWatchdog({ useWatchdog: true, devicePath: join(dir, "watchdog") });
  } catch (err) {
    error = err;
  }
  t.equal((error as WatchdogError).code, "ERR_WATCHDOG_NO_DEVICE");
  t.match((error as Error).message, /does not exist.*-w 0/);
  // A regular file is not a character device either.
  writeFileSync(join(dir, "watchdog"), "");
  t.equal(
    codeOf(() => createWatchdog({ useWatchdog: true, devicePath: join(dir, "watchdog") })),
    "ERR_WATCHDOG_NO_DEVICE",
  );
  const chosen = createWatchdog({ useWatchdog: true, devicePath: join(dir, "watchdog"), deviceExists: () => true });
  t.ok(chosen instanceof WatchdogTester);
  t.equal(chosen.status().deviceOpen, false, "the device is not opened before the first join");
});

t.test("-w 0: connections record their expiry, nothing is armed", async (t) => {
  const none = new NoWatchdog();
  const c = none.register("ls", 100, 10);
  t.equal(c.expire, 180);
  c.renewed(120);
  t.equal(c.expire, 200);
  c.clearExpiry();
  t.equal(c.expire, 0);
  c.close();
  t.same(none.shutdown(), { disarmed: true, expiriesInForce: [] });
});
