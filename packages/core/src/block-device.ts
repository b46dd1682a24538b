// The storage seen by the lease algorithms: a byte-addressed device read and written in whole
// sectors. Implementations: MemoryDevice (tests, simulator) and the daemon's O_DIRECT files.

/**
 * Alignment contract: `offset` and `length` (and `data.length`) are multiples of
 * `sectorSize`, the device's logical sector size; reads and writes beyond size() fail
 * (reads never return short data). Implementations reject violations with ERR_DEVICE_MISALIGNED /
 * ERR_DEVICE_OUT_OF_RANGE rather than silently rounding. A write has completed on stable storage
 * (as far as the device promises) when its promise resolves.
 */
export interface BlockDevice {
  /** logical sector size in bytes (512 or 4096) */
  readonly sectorSize: number;
  /** current size in bytes */
  size(): Promise<number>;
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional read without a copy: `use` runs once, synchronously, on the device's own memory
   * for the read, valid only during that call (it must not keep the array or a view of it), and
   * its result (or what it throws) settles the promise. Large reads that are parsed at once (the
   * 1 MiB lease-area reads of every acquire) use it to skip a 1 MiB allocation and copy.
   */
  readWith?<T>(offset: number, length: number, use: (bytes: Uint8Array) => T): Promise<T>;
  write(offset: number, data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Largest single I/O the area helpers issue: one 8 MiB area. */
export const MAX_AREA_IO = 8 * 1048576;
