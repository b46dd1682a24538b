/**
 * Errors raised while reading the command line. Each carries a stable `code`
 * so tests and callers can tell them apart without matching message text.
 */
export type CliArgErrorCode =
  | "ERR_BAD_ARG"
  | "ERR_NAME_TOO_LONG"
  | "ERR_PATH_TOO_LONG"
  | "ERR_PATH_MISSING"
  | "ERR_BAD_NUMBER"
  | "ERR_BAD_SIZES"
  | "ERR_MISSING_ARG"
  | "ERR_MISALIGNED"
  | "ERR_DEVICE_TOO_SMALL";

export class CliArgError extends Error {
  readonly code: CliArgErrorCode;

  constructor(code: CliArgErrorCode, message: string) {
    super(message);
    this.name = "CliArgError";
    this.code = code;
  }
}
