/**
 * The system calls the device layer makes, behind an interface so tests can
 * inject slow or failing I/O (a real hang cannot be produced on demand).
 *
 * Contract for read/write: the returned promise settles only when the kernel
 * has finished with the buffer (the libuv completion fired). The device layer
 * relies on this to know when a quarantined buffer may be reused.
 */
import fs from "node:fs";
import { errnoError, libcFunction } from "../libc.js";

export interface FileStat {
  isBlockDevice: boolean;
  isRegularFile: boolean;
  /** Bytes; for a block device this is 0 (use the ioctl). */
  size: number;
  /**
   * What the path named when opened: "block:<rdev>" for a block device, "file:<dev>:<ino>"
   * otherwise. Equal identities mean the same device or the same file (not a replaced one).
   */
  identity?: string;
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
  /** stat(2) of a path (following symlinks, as open does). */
  stat?(path: string): Promise<FileStat>;
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

/**
 * libc's ioctl(2) through koffi (libc.ts), bound on first use. Not the `ioctl` npm addon: that addon
 * is not context-aware, so once one thread has loaded it every other thread's load fails ("Module
 * did not self-register") — and each lockspace's renewal worker opens its device in its own thread
 * while the main thread opens the same path. koffi loads in every thread; the watchdog thread
 * uses it too.
 */
function ioctl(fd: number, request: number, data: Buffer): number {
  ioctlFn ??= loadLibcIoctl();
  const rc = ioctlFn(fd, request, data);
  if (rc < 0) throw errnoError(`ioctl 0x${request.toString(16)} failed`);
  return rc;
}

function loadLibcIoctl(): IoctlFn {
  // The third argument is a pointer to the caller's out-buffer (an int or a u64 here).
  return libcFunction<IoctlFn>("int ioctl(int fd, unsigned long request, _Out_ uint8_t *data)");
}

function fileStatOf(st: fs.Stats): FileStat {
  const isBlockDevice = st.isBlockDevice();
  return {
    isBlockDevice,
    isRegularFile: st.isFile(),
    size: st.size,
    identity: isBlockDevice ? `block:${st.rdev}` : `file:${st.dev}:${st.ino}`,
  };
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

/** The real thing: node:fs callbacks on libuv's threadpool, ioctls via libc through koffi. */
export const nodeDeviceIo: DeviceIo = {
  open: (path, flags) => new Promise((resolve, reject) => fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd)))),
  fstat: (fd) => new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(fileStatOf(st))))),
  stat: (path) => new Promise((resolve, reject) => fs.stat(path, (err, st) => (err ? reject(err) : resolve(fileStatOf(st))))),
  blockGeometry: readBlockGeometry,
  read: (fd, target, position) =>
    new Promise((resolve, reject) => fs.read(fd, target, 0, target.length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)))),
  write: (fd, source, position) =>
    new Promise((resolve, reject) => fs.write(fd, source, 0, source.length, position, (err, written) => (err ? reject(err) : resolve(written)))),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
};
