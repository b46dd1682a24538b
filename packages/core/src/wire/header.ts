// The 32-byte message header (docs/wire.md §3).

import { ByteReader, ByteWriter } from "./bytes.js";
import { HEADER_SIZE, PROTOCOL_VERSION, WIRE_MAGIC } from "./constants.js";

export interface WireHeader {
  magic: number;
  /** Socket protocol: upper 16 bits major, lower 16 minor (0x00000001 = 0.1). */
  version: number;
  cmd: number;
  cmdFlags: number;
  /** Request: 32 + payload the sender intends to send. Reply: 32 + payload (with quirks, docs/wire.md §13). */
  length: number;
  seq: number;
  /** Request: command argument. Reply: result code. Read as i32. */
  data: number;
  /** Command argument (often a pid or −1) or an extra reply value. Read as i32. */
  data2: number;
}

/** A request header as libsanlock builds it: magic, version 1, seq 0 (docs/wire.md §14.2). */
export function requestHeader(cmd: number, payloadLength: number, fields: { cmdFlags?: number; data?: number; data2?: number } = {}): WireHeader {
  return {
    magic: WIRE_MAGIC,
    version: PROTOCOL_VERSION,
    cmd,
    cmdFlags: fields.cmdFlags ?? 0,
    length: HEADER_SIZE + payloadLength,
    seq: 0,
    data: fields.data ?? 0,
    data2: fields.data2 ?? 0,
  };
}

/**
 * The daemon's reply header (docs/wire.md §3 "echo" rule): copy of the request header with
 * version 1, length 32 + payload, data = result, data2 as given.
 */
export function replyHeader(request: WireHeader, result: number, payloadLength: number, data2 = 0): WireHeader {
  return {
    ...request,
    version: PROTOCOL_VERSION,
    length: HEADER_SIZE + payloadLength,
    data: result,
    data2,
  };
}

export function readHeader(reader: ByteReader): WireHeader {
  return {
    magic: reader.u32("magic"),
    version: reader.u32("version"),
    cmd: reader.u32("cmd"),
    cmdFlags: reader.u32("cmd_flags"),
    length: reader.u32("length"),
    seq: reader.u32("seq"),
    data: reader.i32("data"),
    data2: reader.i32("data2"),
  };
}

export function writeHeader(writer: ByteWriter, header: WireHeader): void {
  writer.u32(header.magic, "magic");
  writer.u32(header.version, "version");
  writer.u32(header.cmd, "cmd");
  writer.u32(header.cmdFlags, "cmd_flags");
  writer.u32(header.length, "length");
  writer.u32(header.seq, "seq");
  writer.i32(header.data, "data");
  writer.i32(header.data2, "data2");
}

export function decodeHeader(bytes: Uint8Array): WireHeader {
  return readHeader(new ByteReader(bytes, "sm_header"));
}

export function encodeHeader(header: WireHeader): Uint8Array {
  const writer = new ByteWriter(HEADER_SIZE, "sm_header");
  writeHeader(writer, header);
  return writer.finish();
}

/**
 * The bytes of a daemon reply by the echo rule around a payload already encoded: the header of
 * `replyHeader` and the payload. `length` overrides the header's length field where sanlock
 * sends another (LOG_DUMP keeps the request's; GET_LVB errors announce more).
 */
export function encodeEchoReply(
  request: WireHeader,
  result: number,
  payload: Uint8Array = new Uint8Array(0),
  options: { data2?: number; length?: number } = {},
): Uint8Array {
  const head = replyHeader(request, result, payload.byteLength, options.data2 ?? 0);
  if (options.length !== undefined) head.length = options.length;
  const bytes = new Uint8Array(HEADER_SIZE + payload.byteLength);
  bytes.set(encodeHeader(head), 0);
  bytes.set(payload, HEADER_SIZE);
  return bytes;
}
