// Typed errors of the wire codec. Each has a stable `code`; framing errors also
// carry the result the 3.8.5 daemon gives for that case (docs/wire.md §5.4),
// or `null` when the daemon sends no reply at all.

import { SanlockTsError } from "../errors.js";

export const WireErrorCode = {
  /** Header magic is not 0x04282010 (docs/wire.md §5.4: header dropped, no reply). */
  BAD_MAGIC: "ERR_WIRE_BAD_MAGIC",
  /** Protocol major version is non-zero on a command other than VERSION (docs/wire.md §3). */
  BAD_PROTOCOL: "ERR_WIRE_BAD_PROTOCOL",
  /** Command number 0 or ≥ 41 (docs/wire.md §5.4: header dropped, no reply). */
  UNKNOWN_COMMAND: "ERR_WIRE_UNKNOWN_COMMAND",
  /** The stream ended inside a header or a structure (docs/wire.md §5.4: −ENOTCONN). */
  TRUNCATED: "ERR_WIRE_TRUNCATED",
  /** A message or count exceeds a protocol or codec limit. */
  TOO_LARGE: "ERR_WIRE_TOO_LARGE",
  /** A count field is out of range (num_disks 0 or > 4 → −ERANGE; > 8 resources → −E2BIG). */
  BAD_COUNT: "ERR_WIRE_BAD_COUNT",
  /** A value cannot be encoded (name too long, number out of range). */
  BAD_VALUE: "ERR_WIRE_BAD_VALUE",
  /** Bytes do not form the structure expected (e.g. a state string without NUL). */
  MALFORMED: "ERR_WIRE_MALFORMED",
  /** A reply arrived that does not answer the request it was expected for. */
  UNEXPECTED_REPLY: "ERR_WIRE_UNEXPECTED_REPLY",
} as const;
export type WireErrorCodeValue = (typeof WireErrorCode)[keyof typeof WireErrorCode];

export class WireError extends SanlockTsError {
  declare readonly code: WireErrorCodeValue;
  /** Result the daemon replies with in this case; undefined = no reply is sent. */
  declare readonly result: number | undefined;

  constructor(code: WireErrorCodeValue, message: string, options?: { result?: number; details?: Readonly<Record<string, unknown>> }) {
    super(code, message, options?.details, options?.result === undefined ? undefined : { result: options.result });
    this.name = "WireError";
  }
}
