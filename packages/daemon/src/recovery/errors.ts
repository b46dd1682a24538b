/** Stable error codes of the recovery layer (docs/algorithms.md §7.2-7.4). */
export type RecoveryErrorCode = "ERR_RECOVERY_ARGUMENT" | "ERR_RENEWAL_BACKWARDS" | "ERR_RECOVERY_STATE";

export class RecoveryError extends Error {
  readonly code: RecoveryErrorCode;
  constructor(code: RecoveryErrorCode, message: string) {
    super(message);
    this.name = "RecoveryError";
    this.code = code;
  }
}
