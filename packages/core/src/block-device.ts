// The storage seen by the lease algorithms: a byte-addressed device read and written in whole
// sectors. Implementations: MemoryDevice (tests, simulator) and the daemon's O_DIRECT files.

/**
 * Alignment contract: `offset` and `length` (and `data.length`) are multiples of
 * `sectorSize`, the device's logical sector size; reads and writes beyond size() fail
 * (reads never return short data). Implementations reject violations with ERR_MISALIGNED /
 * ERR_OUT_OF_RANGE rather than silently rounding. A write has completed on stable storage
 * (as far as the device promises) when its promise resolves.
 */
export interface BlockDevice {
  /** logical sector size in bytes (512 or 4096) */
  readonly sectorSize: number;
  /** current size in bytes */
  size(): Promise<number>;
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Largest single I/O the area helpers issue: one 8 MiB area. */
export const MAX_AREA_IO = 8 * 1048576;
