/**
 * Mapping of thrown errors to the i32 results sent on the wire (docs/wire.md §9).
 * Lease errors carry their sanlock result; a path that cannot be opened is −ENODEV (docs/wire.md §7.2);
 * anything unexpected is SANLK_ERROR (−201) so a bug never looks like success.
 */
import { Errno, LeaseError, SanlockResult, SanlockTsError, toLeaseError } from "@sanlock-ts/core";
import { DeviceError } from "./device/errors.js";

const OPEN_FAILURE_CODES: ReadonlySet<string> = new Set(["ERR_DEVICE_NOT_FOUND", "ERR_DEVICE_ACCESS", "ERR_DEVICE_NOT_A_DEVICE", "ERR_DEVICE_NO_O_DIRECT"]);

/** errno values sanlock passes through from failed I/O. */
export const EMSGSIZE = Errno.EMSGSIZE;
export const EISDIR = Errno.EISDIR;

/** The i32 result the daemon sends on the wire for an error thrown while serving a command. */
export function wireResultOf(thrown: unknown): number {
  const error = toLeaseError(thrown, "lease record");
  if (error instanceof LeaseError) return error.result;
  // No leader to take the geometry from: "no lockspace/lease at that offset" (docs/wire.md §9.4).
  if (error instanceof SanlockTsError && error.code === "ERR_DISK_GEOMETRY_NOT_FOUND") return SanlockResult.LEADER_MAGIC;
  if (error instanceof SanlockTsError && error.code === "ERR_DISK_BAD_GEOMETRY") return -Errno.EINVAL;
  // A sector size the device cannot do (512 on a 4K device, refused at open) and the kernel's
  // EINVAL on a read or write (512-byte I/O to a file on a 4K device) are −EINVAL, as sanlock
  // passes the failed O_DIRECT I/O's −EINVAL through; EINVAL from open stays −ENODEV below.
  if (error instanceof SanlockTsError && error.code === "ERR_DEVICE_BAD_SECTOR_SIZE") return -Errno.EINVAL;
  if (error instanceof DeviceError && error.errno === "EINVAL" && error.syscall !== undefined && error.syscall !== "open") return -Errno.EINVAL;
  if (error instanceof SanlockTsError && OPEN_FAILURE_CODES.has(error.code)) return -Errno.ENODEV;
  if (error instanceof SanlockTsError && error.code === "ERR_DEVICE_IO_TIMEOUT") return SanlockResult.AIO_TIMEOUT;
  // sanlock returns a short read as −EMSGSIZE and the kernel's O_DIRECT −EINVAL as is.
  if (error instanceof SanlockTsError && error.code === "ERR_DEVICE_OUT_OF_RANGE") return -EMSGSIZE;
  if (error instanceof SanlockTsError && error.code === "ERR_DEVICE_MISALIGNED") return -Errno.EINVAL;
  if (error instanceof SanlockTsError && error.code === "ERR_DISK_BAD_MAGIC") return SanlockResult.LEADER_MAGIC;
  return SanlockResult.ERROR;
}

/** A result-carrying failure raised by the daemon's own checks (code names the errno). */
/** A daemon reply result with its reason; `code` is ERR_DAEMON_RESULT_<errno or SANLK number>. */
export class DaemonResultError extends SanlockTsError {
  declare readonly result: number;
  override readonly name = "DaemonResultError";
  constructor(result: number, message: string) {
    super(`ERR_DAEMON_RESULT_${-result}`, message, undefined, { result });
  }
}

export function resultOfAny(error: unknown): number {
  return error instanceof DaemonResultError ? error.result : wireResultOf(error);
}
