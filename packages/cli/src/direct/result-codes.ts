/**
 * The numeric results `sanlock direct` prints ("init done -19", "read_leader
 * done -223"): negative errno values and SANLK_* codes (src/sanlock_rv.h,
 * docs/wire.md §9.2). sanlock-ts prints the same number for the same problem; the numbers come
 * from core's result table.
 */
import { SanlockTsError } from "@sanlock-ts/client/errors";
import { Errno, SanlkResult } from "@sanlock-ts/client/wire";

export const RC = {
  OK: 0,
  /** generic failure (-1), e.g. no leader found to take the sizes from */
  FAILED: -1,
  ENOENT: -Errno.ENOENT,
  EINVAL: -Errno.EINVAL,
  ENODEV: -Errno.ENODEV,
  ENOSPC: -Errno.ENOSPC,
  SANLK_LEADER_READ: SanlkResult.LEADER_READ,
  SANLK_LEADER_MAGIC: SanlkResult.LEADER_MAGIC,
  SANLK_LEADER_VERSION: SanlkResult.LEADER_VERSION,
  SANLK_LEADER_LOCKSPACE: SanlkResult.LEADER_LOCKSPACE,
  SANLK_LEADER_RESOURCE: SanlkResult.LEADER_RESOURCE,
  SANLK_LEADER_NUMHOSTS: SanlkResult.LEADER_NUMHOSTS,
  SANLK_LEADER_CHECKSUM: SanlkResult.LEADER_CHECKSUM,
  SANLK_RINDEX_MAGIC: SanlkResult.RINDEX_MAGIC,
  SANLK_RINDEX_VERSION: SanlkResult.RINDEX_VERSION,
  SANLK_RINDEX_LOCKSPACE: SanlkResult.RINDEX_LOCKSPACE,
  SANLK_RINDEX_OFFSET: SanlkResult.RINDEX_OFFSET,
  SANLK_RINDEX_DIFF: SanlkResult.RINDEX_DIFF,
} as const;

/** A failed direct action: the number sanlock would print, and a one-line explanation. */
export class DirectFailure extends SanlockTsError {
  override readonly name = "DirectFailure";
  /** The rc the direct command prints and exits with (a sanlock result). */
  readonly rc: number;
  constructor(code: string, rc: number, message: string) {
    super(code, message, undefined, { result: rc });
    this.rc = rc;
  }
}

/** The sanlock result for the first validation problem of a leader (src/paxos_lease.c verify_leader order). */
export function leaderProblemRc(code: string, field: string): number {
  switch (code) {
    case "ERR_DISK_BAD_MAGIC":
    case "ERR_DISK_LEASE_CLEARED":
      return RC.SANLK_LEADER_MAGIC;
    case "ERR_DISK_BAD_VERSION":
      return RC.SANLK_LEADER_VERSION;
    case "ERR_DISK_NAME_MISMATCH":
      return field === "resourceName" ? RC.SANLK_LEADER_RESOURCE : RC.SANLK_LEADER_LOCKSPACE;
    case "ERR_DISK_FIELD_RANGE":
      return RC.SANLK_LEADER_NUMHOSTS;
    case "ERR_DISK_BAD_CHECKSUM":
      return RC.SANLK_LEADER_CHECKSUM;
    default:
      return RC.FAILED;
  }
}

/**
 * The number sanlock prints for a failed direct action, from the error that
 * sanlock-ts raised (core's SanlockTsError codes, the device layer's codes).
 */
export function failureRc(error: unknown): number {
  if (error instanceof DirectFailure) return error.rc;
  const code = (error as { code?: unknown } | null)?.code;
  const field = (error as { details?: { field?: unknown } } | null)?.details?.field;
  switch (code) {
    case "ERR_DEVICE_NOT_FOUND":
    case "ERR_DEVICE_ACCESS":
    case "ERR_DEVICE_NOT_A_DEVICE":
    case "ERR_CLI_PATH_MISSING":
      return RC.ENODEV;
    case "ERR_DISK_BAD_MAGIC":
      return field === "magic" && isRindexError(error) ? RC.SANLK_RINDEX_MAGIC : RC.SANLK_LEADER_MAGIC;
    case "ERR_DISK_BAD_VERSION":
      return isRindexError(error) ? RC.SANLK_RINDEX_VERSION : RC.SANLK_LEADER_VERSION;
    case "ERR_DISK_NAME_MISMATCH":
      if (field === "lockspace_name") return RC.SANLK_RINDEX_LOCKSPACE;
      if (field === undefined) return RC.SANLK_RINDEX_DIFF;
      return field === "resourceName" ? RC.SANLK_LEADER_RESOURCE : RC.SANLK_LEADER_LOCKSPACE;
    case "ERR_DISK_FIELD_RANGE":
      return field === "rx_offset" ? RC.SANLK_RINDEX_OFFSET : RC.FAILED;
    case "ERR_DEVICE_MISALIGNED":
    case "ERR_DEVICE_OUT_OF_RANGE":
      return RC.SANLK_RINDEX_OFFSET;
    case "ERR_DISK_RINDEX_FULL":
    case "ERR_DISK_RINDEX_NOT_FOUND":
      return RC.ENOENT;
    case "ERR_CORE_INVALID_ARGUMENT":
      return RC.EINVAL;
    default:
      return RC.FAILED;
  }
}

function isRindexError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("rindex");
}
