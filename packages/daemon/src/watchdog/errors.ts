/** Stable error codes of the watchdog layer (docs/algorithms.md §7.5). */
export type WatchdogErrorCode =
  | "ERR_NO_WATCHDOG_DEVICE"
  | "ERR_WATCHDOG_OPEN"
  | "ERR_WATCHDOG_IOCTL"
  | "ERR_WATCHDOG_TIMEOUT"
  | "ERR_WATCHDOG_CLOSED"
  | "ERR_WATCHDOG_ARGUMENT"
  /** The watchdog thread did not answer, or has ended (thread.ts). */
  | "ERR_WATCHDOG_THREAD";

/** A watchdog failure; `code` is stable, the message names the device or field. */
export class WatchdogError extends Error {
  readonly code: WatchdogErrorCode;
  constructor(code: WatchdogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WatchdogError";
    this.code = code;
  }
}
