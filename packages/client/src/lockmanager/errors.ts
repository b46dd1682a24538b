// Errors of the lock manager (docs/lockmanager.md §7): a stable ERR_LOCKMGR_* code, the libvirt
// error class the same failure has in libvirt, and libvirt's message text filled in, so that logs
// of a sanlock-ts host and of a libvirt host read alike.

import { SanlockTsError } from "@sanlock-ts/core";
import { isSanlkResult, resultMessage } from "@sanlock-ts/core/results";
import { ClientError, ClientErrorCode, SanlockError } from "../errors.js";

export const LockManagerErrorCode = {
  NOT_INITIALIZED: "ERR_LOCKMGR_NOT_INITIALIZED",
  UNSUPPORTED_TYPE: "ERR_LOCKMGR_UNSUPPORTED_TYPE",
  INVALID_FLAGS: "ERR_LOCKMGR_INVALID_FLAGS",
  INVALID_ARG: "ERR_LOCKMGR_INVALID_ARG",
  CONFIG: "ERR_LOCKMGR_CONFIG",
  LOCKSPACE_SETUP: "ERR_LOCKMGR_LOCKSPACE_SETUP",
  TOO_MANY_RESOURCES: "ERR_LOCKMGR_TOO_MANY_RESOURCES",
  NAME_TOO_LONG: "ERR_LOCKMGR_NAME_TOO_LONG",
  DISK_PARAMS: "ERR_LOCKMGR_DISK_PARAMS",
  LEASE_CREATE: "ERR_LOCKMGR_LEASE_CREATE",
  NO_LEASES: "ERR_LOCKMGR_NO_LEASES",
  REGISTER: "ERR_LOCKMGR_REGISTER",
  UNSUPPORTED_ACTION: "ERR_LOCKMGR_UNSUPPORTED_ACTION",
  KILLPATH_TOO_LONG: "ERR_LOCKMGR_KILLPATH_TOO_LONG",
  KILLPATH: "ERR_LOCKMGR_KILLPATH",
  STATE_PARSE: "ERR_LOCKMGR_STATE_PARSE",
  ACQUIRE: "ERR_LOCKMGR_ACQUIRE",
  RESTRICT: "ERR_LOCKMGR_RESTRICT",
  INQUIRE: "ERR_LOCKMGR_INQUIRE",
  RELEASE: "ERR_LOCKMGR_RELEASE",
  COOKIE: "ERR_LOCKMGR_COOKIE",
  ABORTED: "ERR_LOCKMGR_ABORTED",
} as const;
export type LockManagerErrorCodeValue = (typeof LockManagerErrorCode)[keyof typeof LockManagerErrorCode];

/** libvirt's virErrorNumber names for the errors the sanlock plugin raises. */
export type VirErrorKind = "INTERNAL_ERROR" | "INVALID_ARG" | "CONFIG_UNSUPPORTED" | "SYSTEM_ERROR" | "RESOURCE_BUSY" | "OPERATION_INVALID";

export class LockManagerError extends SanlockTsError {
  readonly virError: VirErrorKind;
  /** errno (positive) when the failure was a system error. */
  readonly errno: number | undefined;
  /** The daemon's raw result when it refused the call. */
  readonly sanlockResult: number | undefined;

  constructor(
    code: LockManagerErrorCodeValue,
    virError: VirErrorKind,
    message: string,
    facts: { errno?: number | undefined; sanlockResult?: number | undefined; cause?: unknown } = {},
  ) {
    super(code, message, { virError, errno: facts.errno, sanlockResult: facts.sanlockResult });
    this.name = "LockManagerError";
    this.virError = virError;
    this.errno = facts.errno;
    this.sanlockResult = facts.sanlockResult;
    if (facts.cause !== undefined) (this as { cause?: unknown }).cause = facts.cause;
  }
}

/**
 * How libvirt reports a failed libsanlock call (docs/lockmanager.md §7.1): a result ≤ −200 is a
 * sanlock code, reported as INTERNAL_ERROR (RESOURCE_BUSY for acquire) with sanlock_strerror's
 * text; any other negative result is −errno, a SYSTEM_ERROR with strerror's text.
 */
export function fromDaemonResult(
  code: LockManagerErrorCodeValue,
  text: string,
  result: number,
  options: { busyKind?: VirErrorKind; cause?: unknown } = {},
): LockManagerError {
  const reason = resultMessage(result);
  if (isSanlkResult(result) || result <= -200) {
    return new LockManagerError(code, options.busyKind ?? "INTERNAL_ERROR", `${text}: ${reason}`, { sanlockResult: result, cause: options.cause });
  }
  return new LockManagerError(code, "SYSTEM_ERROR", `${text}: ${reason}`, { errno: -result, sanlockResult: result, cause: options.cause });
}

/**
 * A failed client call as a lock-manager error: a daemon refusal keeps its result; an abort
 * becomes ERR_LOCKMGR_ABORTED; anything else (no daemon, closed connection) is a system error.
 */
export function fromClientFailure(code: LockManagerErrorCodeValue, text: string, err: unknown, busyKind?: VirErrorKind): LockManagerError {
  if (err instanceof LockManagerError) return err;
  if (err instanceof SanlockError) return fromDaemonResult(code, text, err.result, { busyKind, cause: err });
  if (err instanceof ClientError && err.code === ClientErrorCode.ABORTED) {
    return new LockManagerError(LockManagerErrorCode.ABORTED, "OPERATION_INVALID", `${text}: aborted`, { cause: err });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new LockManagerError(code, "SYSTEM_ERROR", `${text}: ${detail}`, { cause: err });
}

/** `text: strerror(errno)` for a Node system error (ENOENT, EACCES...). */
export function fromSystemError(code: LockManagerErrorCodeValue, text: string, err: unknown): LockManagerError {
  const e = err as NodeJS.ErrnoException;
  const errno = typeof e?.errno === "number" ? Math.abs(e.errno) : undefined;
  const known = errno !== undefined ? resultMessage(-errno) : "Unknown error";
  const reason = known !== "Unknown error" ? known : String(e?.message ?? err);
  return new LockManagerError(code, "SYSTEM_ERROR", `${text}: ${reason}`, { errno, cause: err });
}
