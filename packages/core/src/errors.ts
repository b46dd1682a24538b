// Project-wide error type: a stable string `code` that callers and tests match on,
// a one-line message naming the problem, and optional structured details.

/** Extra facts about an error (which field, which byte offset, which values). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export class SanlockTsError extends Error {
  /** Stable identifier, e.g. "ERR_BAD_MAGIC"; never changes between releases. */
  readonly code: string;
  readonly details: ErrorDetails | undefined;

  constructor(code: string, message: string, details?: ErrorDetails) {
    super(message);
    this.name = "SanlockTsError";
    this.code = code;
    this.details = details;
  }
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
  BAD_MAGIC: "ERR_BAD_MAGIC",
  BAD_VERSION: "ERR_BAD_VERSION",
  BAD_CHECKSUM: "ERR_BAD_CHECKSUM",
  LEASE_CLEARED: "ERR_LEASE_CLEARED",
  NAME_MISMATCH: "ERR_NAME_MISMATCH",
  NAME_TOO_LONG: "ERR_NAME_TOO_LONG",
  FIELD_RANGE: "ERR_FIELD_RANGE",
  BAD_GEOMETRY: "ERR_BAD_GEOMETRY",
  GEOMETRY_NOT_FOUND: "ERR_GEOMETRY_NOT_FOUND",
  MISALIGNED: "ERR_MISALIGNED",
  SHORT_BUFFER: "ERR_SHORT_BUFFER",
  DEVICE_TOO_SMALL: "ERR_DEVICE_TOO_SMALL",
  OUT_OF_RANGE: "ERR_OUT_OF_RANGE",
  DEVICE_CLOSED: "ERR_DEVICE_CLOSED",
  INVALID_ARGUMENT: "ERR_INVALID_ARGUMENT",
  RINDEX_FULL: "ERR_RINDEX_FULL",
  RINDEX_NOT_FOUND: "ERR_RINDEX_NOT_FOUND",
  RINDEX_EXISTS: "ERR_RINDEX_EXISTS",
  ASSERTION: "ERR_ASSERTION",
} as const;

/** Throws ERR_ASSERTION when an internal invariant does not hold (a bug, not bad input). */
export function assertInvariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new SanlockTsError(ErrorCodes.ASSERTION, `assertion failed: ${message}`);
}
