// The wire result of a sector size the storage cannot do (sanlock's upstream python_test.py
// *_4k_invalid_sector_size cases: write_lockspace, read_lockspace, read_resource and
// read_resource_owners with 512-byte sectors on 4K storage answer EINVAL): sanlock passes the
// failed O_DIRECT I/O's −EINVAL through.
//  - a 4K block device asked for 512-byte sectors: refused at open (ERR_DEVICE_BAD_SECTOR_SIZE) → −EINVAL;
//  - a file whose read or write gets EINVAL from the kernel (512-byte I/O to a file on a 4K
//    device) → −EINVAL;
//  - EINVAL from open (a file system without O_DIRECT) stays −ENODEV, as sanlock's open_disk failure.
// test/upstream-suite.test.ts runs the whole cases against both daemons, on a real 4K device and
// a file on ext4 on one.
import t from "tap";
import { createLoopDevice, createSparseFile, loopDeviceSkipReason } from "../../../test/support/index.js";
import { DeviceError, nodeDeviceIo, openDirectDevice } from "../src/device/index.js";
import { wireResultOf } from "../src/results.js";

const EINVAL = 22;
const ENODEV = 19;

async function thrown(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure, the call succeeded");
}

const einval = (syscall: string) => Object.assign(new Error(`EINVAL: invalid argument, ${syscall}`), { code: "EINVAL", syscall });

t.test("EINVAL from a read or write is −EINVAL on the wire", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4096 });
  const device = await openDirectDevice(file.path, {
    io: { ...nodeDeviceIo, read: () => Promise.reject(einval("read")), write: () => Promise.reject(einval("write")) },
  });
  t.teardown(() => device.close());
  const onRead = await thrown(() => device.read(0, 512));
  t.ok(onRead instanceof DeviceError && onRead.syscall === "read", "the error names the read");
  t.equal(wireResultOf(onRead), -EINVAL, "read");
  t.equal(wireResultOf(await thrown(() => device.write(0, new Uint8Array(512)))), -EINVAL, "write");
});

t.test("EINVAL from open stays −ENODEV", async (t) => {
  const file = await createSparseFile(t, { sizeBytes: 4096 });
  const err = await thrown(() => openDirectDevice(file.path, { io: { ...nodeDeviceIo, open: () => Promise.reject(einval("open")) } }));
  t.equal(wireResultOf(err), -ENODEV);
});

t.test("512-byte sectors on a 4K block device are −EINVAL", { skip: loopDeviceSkipReason() }, async (t) => {
  const loop = await createLoopDevice(t, { sizeBytes: 4 * 1024 * 1024, sectorSize: 4096 });
  const err = await thrown(() => openDirectDevice(loop.path, { sectorSize: 512 }));
  t.equal((err as DeviceError).code, "ERR_DEVICE_BAD_SECTOR_SIZE");
  t.equal(wireResultOf(err), -EINVAL);
});
