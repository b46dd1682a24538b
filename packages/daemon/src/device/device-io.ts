/**
 * The system calls the device layer makes, behind an interface so tests can
 * inject slow or failing I/O (a real hang cannot be produced on demand).
 *
 * Contract for read/write: the returned promise settles only when the kernel
 * has finished with the buffer (the libuv completion fired). The device layer
 * relies on this to know when a quarantined buffer may be reused.
 */
import fs from "node:fs";
import { createRequire } from "node:module";

export interface FileStat {
  isBlockDevice: boolean;
  isRegularFile: boolean;
  /** Bytes; for a block device this is 0 (use the ioctl). */
  size: number;
}

export interface BlockDeviceGeometry {
  /** BLKSSZGET: the logical sector size, the O_DIRECT alignment unit. */
  logicalSectorSize: number;
  /** BLKGETSIZE64: device size in bytes. */
  sizeBytes: number;
}

export interface DeviceIo {
  open(path: string, flags: number): Promise<number>;
  fstat(fd: number): Promise<FileStat>;
  /** Synchronous ioctls; they ask the block layer and do no media I/O. */
  blockGeometry(fd: number): BlockDeviceGeometry;
  /** Read `target.length` bytes at `position`; resolves with the bytes read. */
  read(fd: number, target: Uint8Array, position: number): Promise<number>;
  /** Write all of `source` at `position`; resolves with the bytes written. */
  write(fd: number, source: Uint8Array, position: number): Promise<number>;
  close(fd: number): Promise<void>;
}

/** <linux/fs.h>: _IO(0x12, 104), an int. */
export const BLKSSZGET = 0x1268;
/** <linux/fs.h>: _IOR(0x12, 114, size_t), a u64. */
export const BLKGETSIZE64 = 0x80081272;

type IoctlFn = (fd: number, request: number, data: Buffer) => number;
let ioctlFn: IoctlFn | undefined;

/** The `ioctl` package is CommonJS with a native addon; load it on first use. */
function ioctl(fd: number, request: number, data: Buffer): number {
  ioctlFn ??= createRequire(import.meta.url)("ioctl") as IoctlFn;
  return ioctlFn(fd, request, data);
}

export function readBlockGeometry(fd: number): BlockDeviceGeometry {
  const sectorSizeOut = Buffer.alloc(4);
  ioctl(fd, BLKSSZGET, sectorSizeOut);
  const sizeOut = Buffer.alloc(8);
  ioctl(fd, BLKGETSIZE64, sizeOut);
  const sizeBytes = sizeOut.readBigUInt64LE(0);
  if (sizeBytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`block device size ${sizeBytes} exceeds 2^53`);
  return { logicalSectorSize: sectorSizeOut.readInt32LE(0), sizeBytes: Number(sizeBytes) };
}

/** The real thing: node:fs callbacks on libuv's threadpool, ioctls via the `ioctl` addon. */
export const nodeDeviceIo: DeviceIo = {
  open: (path, flags) =>
    new Promise((resolve, reject) => fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd)))),
  fstat: (fd) =>
    new Promise((resolve, reject) =>
      fs.fstat(fd, (err, st) =>
        err ? reject(err) : resolve({ isBlockDevice: st.isBlockDevice(), isRegularFile: st.isFile(), size: st.size }),
      ),
    ),
  blockGeometry: readBlockGeometry,
  read: (fd, target, position) =>
    new Promise((resolve, reject) =>
      fs.read(fd, target, 0, target.length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
    ),
  write: (fd, source, position) =>
    new Promise((resolve, reject) =>
      fs.write(fd, source, 0, source.length, position, (err, written) => (err ? reject(err) : resolve(written))),
    ),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
};
