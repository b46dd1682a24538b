/**
 * Errors of the device layer. Every error carries a stable string `code` that
 * callers branch on; the message names the device, the offset and the field.
 *
 * The lease algorithms treat every DeviceError as a failed I/O. ERR_DEVICE_IO_TIMEOUT
 * additionally means "the I/O may still complete later" (docs/algorithms.md §1.5
 * item 5): a timed-out write may or may not reach the disk.
 */
import { SanlockTsError } from "@sanlock-ts/core";

export const DeviceErrorCode = {
  /** The path does not exist (ENOENT at open). */
  NOT_FOUND: "ERR_DEVICE_NOT_FOUND",
  /** Permission denied at open (EACCES / EPERM / EROFS). */
  ACCESS: "ERR_DEVICE_ACCESS",
  /** The path is neither a regular file nor a block device. */
  NOT_A_DEVICE: "ERR_DEVICE_NOT_A_DEVICE",
  /** The filesystem rejected O_DIRECT (EINVAL at open, or on an aligned I/O). */
  NO_O_DIRECT: "ERR_DEVICE_NO_O_DIRECT",
  /** The requested range ends beyond the end of the device or file (core's BlockDevice contract code). */
  OUT_OF_RANGE: "ERR_DEVICE_OUT_OF_RANGE",
  /** Offset or length is not a multiple of the sector size, checked before the kernel sees it (core's code). */
  MISALIGNED: "ERR_DEVICE_MISALIGNED",
  /** Offset or length is negative, not an integer, zero-length, or above the per-I/O limit (core's code). */
  INVALID_ARGUMENT: "ERR_CORE_INVALID_ARGUMENT",
  /** Sector size not 512 or 4096, or smaller than the block device's logical sector size. */
  BAD_SECTOR_SIZE: "ERR_DEVICE_BAD_SECTOR_SIZE",
  /** The I/O did not complete within its deadline; it counts as failed and may still land. */
  IO_TIMEOUT: "ERR_DEVICE_IO_TIMEOUT",
  /** The kernel returned an error for the read or write (errno in `errno`). */
  IO_FAILED: "ERR_DEVICE_IO_FAILED",
  /** The kernel transferred fewer bytes than asked for, inside the device. */
  SHORT_IO: "ERR_DEVICE_SHORT_IO",
  /** Too many I/Os already wait for an in-flight slot on this device (it is likely stalled). */
  BUSY: "ERR_DEVICE_BUSY",
  /** The device was closed; no new I/O is accepted. */
  CLOSED: "ERR_DEVICE_CLOSED",
  /** The aligned buffer pool is at its byte or count limit (e.g. buffers quarantined by stalled I/O). */
  POOL_EXHAUSTED: "ERR_DEVICE_BUFFER_POOL_EXHAUSTED",
} as const;

export type DeviceErrorCodeValue = (typeof DeviceErrorCode)[keyof typeof DeviceErrorCode];

export type DeviceSyscall = "open" | "read" | "write";

/**
 * A SanlockTsError (stable `code`, one-line message) from the device layer.
 * The message names the device; `errno` holds the kernel's errno name.
 */
export class DeviceError extends SanlockTsError {
  declare readonly code: DeviceErrorCodeValue;
  /** The errno name from the kernel ("EIO", "EINVAL", ...) when there was one. */
  readonly errno: string | undefined;
  /** The system call that failed with `errno` ("open", "read", "write"), when one did. */
  readonly syscall: DeviceSyscall | undefined;
  constructor(code: DeviceErrorCodeValue, message: string, options?: { cause?: unknown; errno?: string; syscall?: DeviceSyscall }) {
    super(code, message, options?.errno === undefined ? undefined : { errno: options.errno });
    this.name = "DeviceError";
    this.errno = options?.errno;
    this.syscall = options?.syscall;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The errno name of a Node system error ("ENOENT"), or undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}
