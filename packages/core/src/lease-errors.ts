/**
 * The results the lease algorithms fail with (docs/algorithms.md §11; numbers from results.ts) and
 * the error type that carries them. The daemon maps `result` onto the wire.
 */
import { SanlockTsError, type ErrorDetails } from "./errors.js";
import { Errno, SanlkResult } from "./results.js";
export const SanlockResult = {
  ...SanlkResult,
  EAGAIN: -Errno.EAGAIN,
  EBUSY: -Errno.EBUSY,
  EEXIST: -Errno.EEXIST,
  /** −EUCLEAN: an orphan of the resource exists (acquire with ORPHAN). */
  ORPHAN_EXISTS: -Errno.EUCLEAN,
  IO_ERROR: -Errno.EIO,
} as const;

export type SanlockResultName = keyof typeof SanlockResult;

/**
 * A lease operation failed with a sanlock result code. `code` is the stable
 * string "ERR_SANLK_<NAME>", `result` the negative sanlock number.
 */
export class LeaseError extends SanlockTsError {
  declare readonly result: number;
  constructor(name: SanlockResultName, message: string, details?: ErrorDetails) {
    super(`ERR_SANLK_${name}`, message, details, { result: SanlockResult[name] });
    this.name = "LeaseError";
  }
}

/** True when `err` is a LeaseError with the given result name. */
export function isLeaseError(err: unknown, name?: SanlockResultName): err is LeaseError {
  return err instanceof LeaseError && (name === undefined || err.result === SanlockResult[name]);
}

/**
 * Map a record validation failure (OnDiskFormatError from the ondisk codecs) to
 * the sanlock result verify_leader / verify_dblock would give. Other errors pass through.
 */
export function toLeaseError(err: unknown, what: string): unknown {
  if (!(err instanceof SanlockTsError) || err instanceof LeaseError) return err;
  const field = typeof err.details?.["field"] === "string" ? err.details["field"] : "";
  const name: SanlockResultName | undefined =
    err.code === "ERR_DISK_BAD_MAGIC" || err.code === "ERR_DISK_LEASE_CLEARED"
      ? "LEADER_MAGIC"
      : err.code === "ERR_DISK_BAD_VERSION"
        ? "LEADER_VERSION"
        : err.code === "ERR_DISK_NAME_MISMATCH"
          ? field === "resourceName"
            ? "LEADER_RESOURCE"
            : "LEADER_LOCKSPACE"
          : err.code === "ERR_DISK_FIELD_RANGE" && field === "numHosts"
            ? "LEADER_NUMHOSTS"
            : err.code === "ERR_DISK_BAD_CHECKSUM"
              ? "LEADER_CHECKSUM"
              : undefined;
  if (name === undefined) return err;
  return new LeaseError(name, `${what}: ${err.message}`, { cause: err.code, ...(err.details ?? {}) });
}
