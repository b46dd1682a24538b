// The project's one error family: every error sanlock-ts throws is a SanlockTsError with a
// stable string `code` that callers and tests match on, a one-line message naming the problem,
// optional structured details, and — when the error answers for a sanlock result — that result.
//
// Codes are prefixed by where they come from, so one code never means two things:
//   ERR_DISK_*      on-disk records and lease areas (core)
//   ERR_DEVICE_*    block devices and the I/O contract (core's MemoryDevice, the daemon's devices)
//   ERR_CORE_*      core arguments and invariants
//   ERR_SANLK_*     lease algorithm results (LeaseError; `result` is the SANLK_* number)
//   ERR_WIRE_*      the socket protocol codec
//   ERR_CLIENT_*    the typed client
//   ERR_DAEMON_*, ERR_WATCHDOG_*, ERR_RECOVERY_*   the daemon and its layers
//   ERR_CLI_*       the command line
//   ERR_SIM_*       the simulator
// Features add a prefix of their own (ERR_SAM_*, ERR_LOCKMGR_*, ERR_DLM_*).

/** Extra facts about an error (which field, which byte offset, which values). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface SanlockTsErrorOptions {
  /** The sanlock result (a negative errno or SANLK_* number) a daemon answers this error with. */
  result?: number;
  cause?: unknown;
}

export class SanlockTsError extends Error {
  /** Stable identifier, e.g. "ERR_DISK_BAD_MAGIC"; never changes between releases. */
  readonly code: string;
  readonly details: ErrorDetails | undefined;
  /** The sanlock result this error maps to, when it maps to one (docs/wire.md §9). */
  readonly result: number | undefined;

  constructor(code: string, message: string, details?: ErrorDetails, options?: SanlockTsErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SanlockTsError";
    this.code = code;
    this.details = details;
    this.result = options?.result;
  }
}

/** The sanlock result `err` carries, if it is one of ours and maps to one. */
export function resultOfError(err: unknown): number | undefined {
  return err instanceof SanlockTsError ? err.result : undefined;
}

/**
 * A structure read from disk does not have the expected content.
 * `details.field` names the field and `details.offset` the absolute byte position
 * (device offset) of that field when known.
 */
export class OnDiskFormatError extends SanlockTsError {
  constructor(code: string, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = "OnDiskFormatError";
  }
}

/** Stable error codes used by @sanlock-ts/core. Others may add their own codes. */
export const ErrorCodes = {
  BAD_MAGIC: "ERR_DISK_BAD_MAGIC",
  BAD_VERSION: "ERR_DISK_BAD_VERSION",
  BAD_CHECKSUM: "ERR_DISK_BAD_CHECKSUM",
  LEASE_CLEARED: "ERR_DISK_LEASE_CLEARED",
  NAME_MISMATCH: "ERR_DISK_NAME_MISMATCH",
  NAME_TOO_LONG: "ERR_DISK_NAME_TOO_LONG",
  FIELD_RANGE: "ERR_DISK_FIELD_RANGE",
  BAD_GEOMETRY: "ERR_DISK_BAD_GEOMETRY",
  GEOMETRY_NOT_FOUND: "ERR_DISK_GEOMETRY_NOT_FOUND",
  MISALIGNED: "ERR_DEVICE_MISALIGNED",
  SHORT_BUFFER: "ERR_DISK_SHORT_BUFFER",
  DEVICE_TOO_SMALL: "ERR_DEVICE_TOO_SMALL",
  OUT_OF_RANGE: "ERR_DEVICE_OUT_OF_RANGE",
  DEVICE_CLOSED: "ERR_DEVICE_CLOSED",
  INVALID_ARGUMENT: "ERR_CORE_INVALID_ARGUMENT",
  RINDEX_FULL: "ERR_DISK_RINDEX_FULL",
  RINDEX_NOT_FOUND: "ERR_DISK_RINDEX_NOT_FOUND",
  RINDEX_EXISTS: "ERR_DISK_RINDEX_EXISTS",
  ASSERTION: "ERR_CORE_ASSERTION",
} as const;

/** Throws ERR_CORE_ASSERTION when an internal invariant does not hold (a bug, not bad input). */
export function assertInvariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new SanlockTsError(ErrorCodes.ASSERTION, `assertion failed: ${message}`);
}
