/**
 * Errors raised while reading the command line. Each carries a stable `code`
 * so tests and callers can tell them apart without matching message text.
 */
import { SanlockTsError } from "@sanlock-ts/client/errors";

export type CliArgErrorCode =
  | "ERR_CLI_BAD_ARG"
  | "ERR_CLI_NAME_TOO_LONG"
  | "ERR_CLI_PATH_TOO_LONG"
  | "ERR_CLI_PATH_MISSING"
  | "ERR_CLI_BAD_NUMBER"
  | "ERR_CLI_BAD_SIZES"
  | "ERR_CLI_MISSING_ARG"
  | "ERR_CLI_MISALIGNED"
  | "ERR_CLI_DEVICE_TOO_SMALL";

export class CliArgError extends SanlockTsError {
  declare readonly code: CliArgErrorCode;
  override readonly name = "CliArgError";
  constructor(code: CliArgErrorCode, message: string) {
    super(code, message);
  }
}
