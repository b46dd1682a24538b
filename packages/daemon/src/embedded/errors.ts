/** Errors of the embedded daemon (embedded-daemon.ts): bad options, a run dir others can enter. */
import { SanlockTsError, type ErrorDetails } from "@sanlock-ts/core";

export const EmbeddedErrorCode = {
  /** An option outside its range or of the wrong kind. */
  BAD_OPTION: "ERR_DAEMON_BAD_OPTION",
  /** A private socket was asked for in a run dir that other users can enter. */
  RUN_DIR_NOT_PRIVATE: "ERR_DAEMON_RUN_DIR_NOT_PRIVATE",
  /** The daemon could not start (pid file held, socket, watchdog device). */
  START_FAILED: "ERR_DAEMON_START_FAILED",
} as const;

export class EmbeddedDaemonError extends SanlockTsError {
  constructor(code: (typeof EmbeddedErrorCode)[keyof typeof EmbeddedErrorCode], message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = "EmbeddedDaemonError";
  }
}
