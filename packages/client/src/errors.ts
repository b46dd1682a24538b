// Errors of the typed client. Each class has a stable string `code`; a failure
// reported by the daemon is a SanlockError carrying the result the daemon sent
// (docs/wire.md §9), in the same errno convention as the Python binding.

import { SanlockTsError } from "@sanlock-ts/core/errors";

/** The base of every sanlock-ts error (core/errors.ts): `code`, `details`, optional `result`. */
export { SanlockTsError };
import { cmdName, isSanlkResult, resultMessage, resultName } from "@sanlock-ts/core/wire";

export const ClientErrorCode = {
  /** The daemon answered with a negative result (docs/wire.md §9). */
  SANLOCK: "ERR_CLIENT_SANLOCK",
  /** An argument was refused before anything was sent. */
  BAD_ARGUMENT: "ERR_CLIENT_BAD_ARGUMENT",
  /** The daemon's socket could not be reached. */
  CONNECT: "ERR_CLIENT_CONNECT",
  /** The connection closed before the reply was complete. */
  CLOSED: "ERR_CLIENT_CLOSED",
  /** No reply within the call's time limit (the daemon ignores malformed requests, docs/wire.md §5.4). */
  TIMEOUT: "ERR_CLIENT_TIMEOUT",
  /** The reply bytes did not fit the protocol. */
  PROTOCOL: "ERR_CLIENT_PROTOCOL",
  /** The call was aborted through its AbortSignal. */
  ABORTED: "ERR_CLIENT_ABORTED",
  /** The object (registration, lease, event channel) was already closed. */
  NOT_OPEN: "ERR_CLIENT_NOT_OPEN",
  /** The registered connection is under RESTRICT_ALL: the daemon drops every request on it (docs/wire.md §5.8). */
  RESTRICTED: "ERR_CLIENT_RESTRICTED",
} as const;
export type ClientErrorCodeValue = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Base of every client error: `code` is stable, `message` is one line. */
export class ClientError extends SanlockTsError {
  declare readonly code: ClientErrorCodeValue;
  constructor(code: ClientErrorCodeValue, message: string, options?: { cause?: unknown; result?: number }) {
    super(code, message, undefined, options);
    this.name = "ClientError";
  }
}

/**
 * The daemon refused a call. `result` is the raw value of the reply's `data`;
 * `errno` follows the Python binding (docs/wire.md §9.1): −result for −199..−1 (so −1 is
 * EPERM = 1), the negative result itself for sanlock codes (≤ −200).
 */
export class SanlockError extends ClientError {
  declare readonly result: number;
  readonly errno: number;
  /** "-ENOENT", "SANLK_ACQUIRE_IDLIVE", ... */
  readonly sanlockName: string;
  /** sanlock_strerror / strerror text. */
  readonly reason: string;
  readonly command: string;

  constructor(cmd: number, result: number) {
    const name = resultName(result);
    const reason = resultMessage(result);
    super(ClientErrorCode.SANLOCK, `${cmdName(cmd)} failed: ${name} (${result}) ${reason}`, { result });
    this.name = "SanlockError";
    this.errno = isSanlkResult(result) || result <= -200 ? result : -result;
    this.sanlockName = name;
    this.reason = reason;
    this.command = cmdName(cmd);
  }
}

/** An argument failed validation; nothing was sent to the daemon. */
export class ClientArgumentError extends ClientError {
  /** Dotted path of the offending argument, e.g. "disks.0.path". */
  readonly argument: string;
  constructor(argument: string, problem: string) {
    super(ClientErrorCode.BAD_ARGUMENT, `bad argument ${argument}: ${problem}`);
    this.name = "ClientArgumentError";
    this.argument = argument;
  }
}

/** Throws ABORTED if `signal` is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortedError(what, signal);
}

export function abortedError(what: string, signal: AbortSignal): ClientError {
  return new ClientError(ClientErrorCode.ABORTED, `${what} aborted`, { cause: signal.reason });
}
