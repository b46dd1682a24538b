// O_DIRECT I/O on a loop block device with 4096-byte logical sectors: sector size and size
// come from the ioctls, 512-byte I/O is refused before the kernel, data round-trips and is
// visible to a normal read of the device and of its backing file.
import t from "tap";
import { open, readFile } from "node:fs/promises";
import { createLoopDevice, loopDeviceSkipReason } from "../../../test/support/index.js";
import { DeviceError, nodeDeviceIo, openDirectDevice, readBlockGeometry, type DeviceIo } from "../src/device/index.js";

const MIB = 1024 * 1024;
const skip = loopDeviceSkipReason();

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
  for (let i = 0; i < length; i++) bytes[i] = (i * 13 + seed) & 0xff;
  return bytes;
}

/** A normal (page-cache) read of `length` bytes at `offset`. */
async function bufferedRead(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const out = Buffer.alloc(length);
    const { bytesRead } = await handle.read(out, 0, length, offset);
    return out.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

t.test("4096-byte loop device", { skip }, async (t) => {
  const loop = await createLoopDevice(t, { sizeBytes: 16 * MIB, sectorSize: 4096 });
  let kernelCalls = 0;
  const io: DeviceIo = {
    ...nodeDeviceIo,
    read: (fd, target, position) => ((kernelCalls += 1), nodeDeviceIo.read(fd, target, position)),
    write: (fd, source, position) => ((kernelCalls += 1), nodeDeviceIo.write(fd, source, position)),
  };
  const device = await openDirectDevice(loop.path, { io });
  t.teardown(() => device.close());

  t.test("BLKSSZGET and BLKGETSIZE64 describe the device", async (t) => {
    const handle = await open(loop.path, "r");
    try {
      t.same(readBlockGeometry(handle.fd), { logicalSectorSize: 4096, sizeBytes: 16 * MIB });
    } finally {
      await handle.close();
    }
    t.equal(device.kind, "block");
    t.equal(device.sectorSize, 4096, "the device's logical sector size");
    t.equal(await device.size(), 16 * MIB);
  });

  t.test("512-byte I/O is refused with a clear error before reaching the kernel", async (t) => {
    const before = kernelCalls;
    const read = await rejection(() => device.read(0, 512));
    t.equal(read.code, "ERR_DEVICE_MISALIGNED");
    t.match(read.message, new RegExp(`read of 512 bytes at offset 0 on ${loop.path}: .*4096-byte sector size`));
    t.equal((await rejection(() => device.write(512, new Uint8Array(4096)))).code, "ERR_DEVICE_MISALIGNED");
    t.equal(kernelCalls, before, "no read or write was issued");
  });

  t.test("a range past the end of the device is refused before the kernel", async (t) => {
    const before = kernelCalls;
    const err = await rejection(() => device.read(16 * MIB - 4096, 8192));
    t.equal(err.code, "ERR_DEVICE_OUT_OF_RANGE");
    t.match(err.message, /device is only 16777216 bytes/);
    t.equal((await rejection(() => device.write(16 * MIB, new Uint8Array(4096)))).code, "ERR_DEVICE_OUT_OF_RANGE");
    t.equal(kernelCalls, before);
  });

  t.test("data round-trips and is visible to normal reads", async (t) => {
    const data = pattern(3 * 4096, 5);
    await device.write(MIB + 4096, data);
    t.same(await device.read(MIB + 4096, 3 * 4096), data, "O_DIRECT round trip");
    t.same(await bufferedRead(loop.path, MIB + 4096, 3 * 4096), Buffer.from(data), "normal read of the block device");
    const backing = await readFile(loop.backingFile);
    t.same(backing.subarray(MIB + 4096, MIB + 4 * 4096), Buffer.from(data), "normal read of the backing file");
    t.ok(
      backing.subarray(MIB, MIB + 4096).every((b) => b === 0),
      "the sector before is untouched",
    );
  });

  t.test("asking for 512-byte sectors on a 4096-byte device is refused at open", async (t) => {
    const err = await rejection(() => openDirectDevice(loop.path, { sectorSize: 512 }));
    t.equal(err.code, "ERR_DEVICE_BAD_SECTOR_SIZE");
    t.match(err.message, /sector size 512 is below the device's logical sector size 4096/);
  });
});

t.test("512-byte loop device: 512-byte I/O works, 4096 may be asked for", { skip }, async (t) => {
  const loop = await createLoopDevice(t, { sizeBytes: 4 * MIB, sectorSize: 512 });
  const device = await openDirectDevice(loop.path);
  t.teardown(() => device.close());
  t.equal(device.sectorSize, 512);
  const data = pattern(512, 9);
  await device.write(512 * 3, data);
  t.same(await device.read(512 * 3, 512), data);
  t.same(await bufferedRead(loop.path, 512 * 3, 512), Buffer.from(data));

  const as4k = await openDirectDevice(loop.path, { sectorSize: 4096 });
  t.teardown(() => as4k.close());
  t.equal(as4k.sectorSize, 4096, "an area recorded with 4096-byte sectors on a 512 device");
  t.equal((await rejection(() => as4k.read(512, 4096))).code, "ERR_DEVICE_MISALIGNED");
});
