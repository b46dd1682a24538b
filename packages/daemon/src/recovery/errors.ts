/** Stable error codes of the recovery layer (docs/algorithms.md §7.2-7.4). */
import { SanlockTsError } from "@sanlock-ts/core";

export type RecoveryErrorCode = "ERR_RECOVERY_ARGUMENT" | "ERR_RECOVERY_RENEWAL_BACKWARDS" | "ERR_RECOVERY_STATE";

export class RecoveryError extends SanlockTsError {
  declare readonly code: RecoveryErrorCode;
  override readonly name = "RecoveryError";
  constructor(code: RecoveryErrorCode, message: string) {
    super(code, message);
  }
}
