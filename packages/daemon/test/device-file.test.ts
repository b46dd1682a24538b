// O_DIRECT I/O on a regular file on a filesystem that supports it (ext4 under the test
// directory, see test/support/loop-device.ts), with 512- and 4096-byte sectors; the clear
// errors for a missing path, a directory, a range past the end, unaligned requests and a
// filesystem without O_DIRECT; close semantics.
import t from "tap";
import { readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createSparseFile, type Teardown } from "../../../test/support/index.js";
import { DeviceError, nodeDeviceIo, openDirectDevice, type DeviceIo, type DirectDevice } from "../src/device/index.js";

const MIB = 1024 * 1024;

async function codeOfAsync(work: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await work();
  } catch (err) {
    return err instanceof DeviceError ? err.code : `not a DeviceError: ${String(err)}`;
  }
  return undefined;
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

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** nodeDeviceIo that counts reads and writes reaching the kernel. */
function countingIo(): { io: DeviceIo; kernelCalls: () => number } {
  let calls = 0;
  const io: DeviceIo = {
    ...nodeDeviceIo,
    read: (fd, target, position) => ((calls += 1), nodeDeviceIo.read(fd, target, position)),
    write: (fd, source, position) => ((calls += 1), nodeDeviceIo.write(fd, source, position)),
  };
  return { io, kernelCalls: () => calls };
}

async function openClosing(t: Teardown, path: string, options: Parameters<typeof openDirectDevice>[1] = {}): Promise<DirectDevice> {
  const device = await openDirectDevice(path, options);
  t.teardown(() => device.close());
  return device;
}

t.test("512-byte sectors: a direct write is seen by a normal read, and the other way round", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const device = await openClosing(t, file.path);
  t.equal(device.kind, "file");
  t.equal(device.sectorSize, 512, "files default to 512-byte sectors (algorithms.md §1.5 item 2)");
  t.equal(await device.size(), MIB);

  const data = pattern(3 * 512, 7);
  await device.write(512 * 5, data);
  const onDisk = await readFile(file.path);
  t.same(onDisk.subarray(512 * 5, 512 * 8), Buffer.from(data), "page-cache read sees the O_DIRECT write");
  t.equal(
    onDisk.subarray(0, 512 * 5).every((b) => b === 0),
    true,
    "bytes before the range untouched",
  );
  t.same(await device.read(512 * 5, 3 * 512), data, "round trip");

  const outside = pattern(MIB, 99);
  await writeFile(file.path, outside);
  t.same(await device.read(MIB - 4096, 4096), outside.subarray(MIB - 4096), "O_DIRECT read sees a normal write");
  t.same(device.stats(), { reads: 2, writes: 1, failed: 0, timedOut: 0, inFlight: 0 });
});

t.test("a whole 8 MiB area in one read and one write", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 16 * MIB });
  const device = await openClosing(t, file.path, { sectorSize: 4096 });
  const area = pattern(8 * MIB, 3);
  await device.write(8 * MIB, area);
  const back = await device.read(8 * MIB, 8 * MIB);
  // Compared as Buffers: tap's deep comparison of 8 M elements takes minutes.
  t.ok(Buffer.from(back).equals(Buffer.from(area)), "8 MiB round trip");
  t.ok((await readFile(file.path)).subarray(8 * MIB).equals(Buffer.from(area)), "visible to a normal read");
});

t.test("readWith parses the read in place; what the parser throws is not a device failure", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const device = await openClosing(t, file.path);
  const data = pattern(MIB, 11);
  await device.write(0, data);
  const sums = await device.readWith(0, MIB, (bytes) => {
    t.equal(bytes.length, MIB, "the parser sees exactly the bytes asked for");
    t.equal(bytes.byteOffset % 4096, 0, "pool memory: page-aligned, as O_DIRECT needs");
    let sum = 0;
    for (const b of bytes) sum += b;
    return { sum, last: bytes[MIB - 1] };
  });
  let expected = 0;
  for (const b of data) expected += b;
  t.same(sums, { sum: expected, last: data[MIB - 1] });
  const thrown = await device
    .readWith(0, 512, () => {
      throw new RangeError("corrupt record");
    })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  t.ok(thrown instanceof RangeError && thrown.message === "corrupt record", "the parser's own error comes back as is");
  t.same(device.stats(), { reads: 2, writes: 1, failed: 0, timedOut: 0, inFlight: 0 }, "neither read counts as failed");
  t.equal(await codeOfAsync(() => device.readWith(100, 512, () => 0)), "ERR_DEVICE_MISALIGNED", "alignment is checked as for read");
  t.same(await device.read(0, 512), data.subarray(0, 512), "the buffer went back to the pool and read still copies");
});

t.test("4096-byte sectors on a file: 512-aligned requests are refused before the kernel", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: MIB });
  const { io, kernelCalls } = countingIo();
  const device = await openClosing(t, file.path, { sectorSize: 4096, io });
  t.equal(device.sectorSize, 4096);
  const misaligned = await rejection(() => device.read(512, 4096));
  t.equal(misaligned.code, "ERR_DEVICE_MISALIGNED");
  t.match(misaligned.message, /read of 4096 bytes at offset 512 on .*multiples of the 4096-byte sector size/);
  t.equal(await codeOfAsync(() => device.write(0, new Uint8Array(512))), "ERR_DEVICE_MISALIGNED");
  t.equal(await codeOfAsync(() => device.read(-4096, 4096)), "ERR_CORE_INVALID_ARGUMENT");
  t.equal(await codeOfAsync(() => device.read(0, 0)), "ERR_CORE_INVALID_ARGUMENT");
  t.equal(await codeOfAsync(() => device.read(0, 16 * MIB)), "ERR_CORE_INVALID_ARGUMENT", "above the per-I/O limit");
  t.equal(kernelCalls(), 0, "none of them reached the kernel");
  t.equal(device.stats().failed, 5, "each refused request counts as failed");
});

t.test("a read past the end of the file says the file is too small", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 64 * 1024 });
  const device = await openClosing(t, file.path);
  const err = await rejection(() => device.read(60 * 1024, 8192));
  t.equal(err.code, "ERR_DEVICE_OUT_OF_RANGE");
  t.match(err.message, /only 4096 bytes transferred; the file ends inside the range/);
  // Writes may extend a file (sanlock direct init does), so they are not refused.
  await device.write(64 * 1024, pattern(512, 1));
  t.equal(await device.size(), 64 * 1024 + 512);
});

t.test("reaches() answers from the size last seen and asks the kernel only beyond it", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 64 * 1024 });
  let fstats = 0;
  let stats = 0;
  const io: DeviceIo = {
    ...nodeDeviceIo,
    fstat: (fd) => ((fstats += 1), nodeDeviceIo.fstat(fd)),
    stat: (path) => ((stats += 1), nodeDeviceIo.stat!(path)),
  };
  const device = await openClosing(t, file.path, { io });
  const atOpen = fstats;
  t.ok(await device.reaches(64 * 1024), "the whole file, known since the open");
  t.equal(fstats, atOpen, "no fstat for a range within the size seen at open");
  t.notOk(await device.reaches(64 * 1024 + 512), "one sector past the end");
  t.equal(fstats, atOpen + 1, "a range beyond the known size asks again");
  // Another host extends the shared file: the next stat of the path sees the new size.
  await writeFile(file.path, new Uint8Array(512), { flag: "a" });
  t.ok(await device.stillNamedByPath());
  t.equal(stats, 1);
  t.ok(await device.reaches(64 * 1024 + 512), "the grown file, from the stat");
  t.equal(fstats, atOpen + 1, "without another fstat");
});

t.test("open errors name the problem", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4096 });
  const missing = await rejection(() => openDirectDevice(`${file.path}.missing`));
  t.equal(missing.code, "ERR_DEVICE_NOT_FOUND");
  t.match(missing.message, /\.missing: no such file or device/);
  t.equal(await codeOfAsync(() => openDirectDevice(dirname(file.path))), "ERR_DEVICE_NOT_A_DEVICE");
  const badSector = await rejection(() => openDirectDevice(file.path, { sectorSize: 1024 }));
  t.equal(badSector.code, "ERR_DEVICE_BAD_SECTOR_SIZE");
  t.match(badSector.message, /sector size 1024 is not one of 512, 4096/);
});

t.test("EINVAL from O_DIRECT (e.g. a filesystem without it) is reported as such", async (t) => {
  // Real tmpfs accepts O_DIRECT since Linux 6.6, so the kernel's EINVAL is injected.
  const file = await createSparseFile(t, { sizeBytes: 4096 });
  const einval = (syscall: string) => Object.assign(new Error(`EINVAL: invalid argument, ${syscall}`), { code: "EINVAL" });
  const atOpen = await rejection(() => openDirectDevice(file.path, { io: { ...nodeDeviceIo, open: () => Promise.reject(einval("open")) } }));
  t.equal(atOpen.code, "ERR_DEVICE_NO_O_DIRECT");
  t.match(atOpen.message, /filesystem does not support O_DIRECT/);
  t.equal(atOpen.errno, "EINVAL");

  const device = await openClosing(t, file.path, { io: { ...nodeDeviceIo, read: () => Promise.reject(einval("read")) } });
  const atRead = await rejection(() => device.read(0, 512));
  t.equal(atRead.code, "ERR_DEVICE_NO_O_DIRECT");
  t.match(atRead.message, /read of 512 bytes at offset 0 on .*filesystem does not support O_DIRECT/);
});

t.test("other kernel errors keep their errno", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4096 });
  const eio = Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
  const device = await openClosing(t, file.path, { io: { ...nodeDeviceIo, write: () => Promise.reject(eio) } });
  const err = await rejection(() => device.write(0, new Uint8Array(512)));
  t.equal(err.code, "ERR_DEVICE_IO_FAILED");
  t.equal(err.errno, "EIO");
  t.equal(device.stats().failed, 1);
});

t.test("after close no I/O is accepted and the fd is closed", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4096 });
  let closedFd: number | undefined;
  const device = await openDirectDevice(file.path, {
    io: { ...nodeDeviceIo, close: (fd) => ((closedFd = fd), nodeDeviceIo.close(fd)) },
  });
  await device.read(0, 512);
  await device.close();
  t.type(closedFd, "number", "closed with nothing in flight");
  t.equal(await codeOfAsync(() => device.read(0, 512)), "ERR_DEVICE_CLOSED");
  t.equal(await codeOfAsync(() => device.write(0, new Uint8Array(512))), "ERR_DEVICE_CLOSED");
  await device.close(); // idempotent
});

t.test("a failing sector-size ioctl is reported with the device and errno, and the fd is closed", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4096 });
  let closes = 0;
  // Pretend the regular file is a block device: the real BLKSSZGET then fails with ENOTTY.
  const io: DeviceIo = {
    ...nodeDeviceIo,
    fstat: async () => ({ isBlockDevice: true, isRegularFile: false, size: 0 }),
    close: (fd) => ((closes += 1), nodeDeviceIo.close(fd)),
  };
  const err = await rejection(() => openDirectDevice(file.path, { io }));
  t.equal(err.code, "ERR_DEVICE_IO_FAILED");
  t.match(err.message, /BLKSSZGET\/BLKGETSIZE64 ioctl failed \(ENOTTY\)/);
  t.equal(closes, 1, "the fd opened for the failed attempt was closed");
});
