/** Stable error codes of the watchdog layer (docs/algorithms.md §7.5). */
import { SanlockTsError } from "@sanlock-ts/core";

export type WatchdogErrorCode =
  | "ERR_WATCHDOG_NO_DEVICE"
  | "ERR_WATCHDOG_OPEN"
  | "ERR_WATCHDOG_IOCTL"
  | "ERR_WATCHDOG_TIMEOUT"
  | "ERR_WATCHDOG_CLOSED"
  | "ERR_WATCHDOG_ARGUMENT"
  /** The watchdog thread did not answer, or has ended (thread.ts). */
  | "ERR_WATCHDOG_THREAD";

/** A watchdog failure; `code` is stable, the message names the device or field. */
export class WatchdogError extends SanlockTsError {
  declare readonly code: WatchdogErrorCode;
  override readonly name = "WatchdogError";
  constructor(code: WatchdogErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, undefined, options);
  }
}
