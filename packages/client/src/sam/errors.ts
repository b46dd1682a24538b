// Errors of the SAM API (docs/sam.md §5). Each has a stable `code` (ERR_SAM_*) and the
// cs_error_t number corosync's libsam returns for the same case, so code ported from
// libsam can map one to the other. cs_error_t is corosync's table (corotypes.h), not a
// sanlock result: the sanlock results stay in @sanlock-ts/core/results.

import { SanlockTsError } from "@sanlock-ts/core";
import { SanlkResult } from "@sanlock-ts/core/results";

/** corosync's cs_error_t values that SAM calls return (corotypes.h). */
export const CsError = {
  OK: 1,
  LIBRARY: 2,
  INVALID_PARAM: 7,
  NO_MEMORY: 8,
  BAD_HANDLE: 9,
  TOO_BIG: 26,
} as const;

export const SamErrorCode = {
  /** A call in a state that does not allow it (libsam CS_ERR_BAD_HANDLE). */
  STATE: "ERR_SAM_STATE",
  /** A bad option or argument (libsam CS_ERR_INVALID_PARAM). */
  BAD_ARGUMENT: "ERR_SAM_BAD_ARGUMENT",
  /** The supervisor channel failed or closed (libsam CS_ERR_LIBRARY). */
  CHANNEL: "ERR_SAM_CHANNEL",
  /** Stored data larger than maxDataBytes (libsam CS_ERR_TOO_BIG). */
  TOO_BIG: "ERR_SAM_TOO_BIG",
  /** Continuity "lver": another owner took the lease between two instances. */
  LEASE_CHANGED: "ERR_SAM_LEASE_CHANGED",
  /** start() was aborted through its AbortSignal while waiting for quorum. */
  ABORTED: "ERR_SAM_ABORTED",
} as const;
export type SamErrorCodeValue = (typeof SamErrorCode)[keyof typeof SamErrorCode];

/** Base of the SAM errors: `code` is stable, `csError` is libsam's number for the case. */
export class SamError extends SanlockTsError {
  readonly csError: number;
  constructor(code: SamErrorCodeValue, csError: number, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.name = "SamError";
    this.csError = csError;
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

export class SamStateError extends SamError {
  constructor(call: string, state: string) {
    super(SamErrorCode.STATE, CsError.BAD_HANDLE, `${call}: not allowed in state "${state}"`);
    this.name = "SamStateError";
  }
}

export class SamArgumentError extends SamError {
  /** The option or argument, e.g. "intervalMs". */
  readonly argument: string;
  constructor(argument: string, problem: string) {
    super(SamErrorCode.BAD_ARGUMENT, CsError.INVALID_PARAM, `bad argument ${argument}: ${problem}`);
    this.name = "SamArgumentError";
    this.argument = argument;
  }
}

export class SamChannelError extends SamError {
  constructor(problem: string, cause?: unknown) {
    super(SamErrorCode.CHANNEL, CsError.LIBRARY, `supervisor channel: ${problem}`, cause);
    this.name = "SamChannelError";
  }
}

export class SamDataTooBigError extends SamError {
  constructor(size: number, limit: number) {
    super(SamErrorCode.TOO_BIG, CsError.TOO_BIG, `data of ${size} bytes is larger than maxDataBytes ${limit}`);
    this.name = "SamDataTooBigError";
  }
}

export class SamLeaseChangedError extends SamError {
  /** sanlock's result for the refused acquire (SANLK_ACQUIRE_LVER). */
  override readonly result = SanlkResult.ACQUIRE_LVER;
  constructor(lockspace: string, resource: string, cause: unknown) {
    super(
      SamErrorCode.LEASE_CHANGED,
      CsError.LIBRARY,
      `${lockspace}:${resource} changed owner since the previous instance held it (SANLK_ACQUIRE_LVER); resync, then acquire with fresh: true`,
      cause,
    );
    this.name = "SamLeaseChangedError";
  }
}

export class SamAbortedError extends SamError {
  constructor(what: string, cause?: unknown) {
    super(SamErrorCode.ABORTED, CsError.LIBRARY, `${what} aborted`, cause);
    this.name = "SamAbortedError";
  }
}
