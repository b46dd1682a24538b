// Request record, sector 1 of a resource lease (docs/ondisk.md §6.3). No checksum.
// Bytes 20..23 are padding: written as zero, ignored on read (sanlock leaves garbage there).
import { hex32, requireBytes, writeU32, writeU64 } from "./bytes.js";
import type { DecodeProblem } from "./decode-problem.js";
import { throwFirst } from "./decode-problem.js";
import { ErrorCodes } from "../errors.js";
import { VERSION_MAJOR_MASK } from "./leader-record.js";

export const REQ_DISK_MAGIC = 0x08292011;
export const REQ_DISK_VERSION = 0x00010001;
export const REQ_DISK_VERSION_MAJOR = 0x00010000;
export const REQUEST_RECORD_SIZE = 24;
export const SANLK_REQ_FORCE = 1;
export const SANLK_REQ_GRACEFUL = 2;

export interface RequestRecord {
  magic: number;
  version: number;
  /** requested lease version (normally leader lver + 1); 0 after init */
  lver: bigint;
  /** 0 none, 1 SANLK_REQ_FORCE, 2 SANLK_REQ_GRACEFUL */
  forceMode: number;
}

/** The record written by init: magic, version, lver 0, force_mode 0. */
export function initialRequest(): RequestRecord {
  return { magic: REQ_DISK_MAGIC, version: REQ_DISK_VERSION, lver: 0n, forceMode: 0 };
}

/** Writes the 24-byte record (padding zero) into out at offset. */
export function writeRequestRecord(out: Uint8Array, offset: number, rec: RequestRecord): void {
  requireBytes(out, offset, REQUEST_RECORD_SIZE, "request record");
  const v = new DataView(out.buffer, out.byteOffset + offset, REQUEST_RECORD_SIZE);
  writeU32(v, 0, rec.magic, "request magic");
  writeU32(v, 4, rec.version, "request version");
  writeU64(v, 8, rec.lver, "request lver");
  writeU32(v, 16, rec.forceMode, "request force_mode");
  writeU32(v, 20, 0, "request padding");
}

export function encodeRequestRecord(rec: RequestRecord): Uint8Array {
  const out = new Uint8Array(REQUEST_RECORD_SIZE);
  writeRequestRecord(out, 0, rec);
  return out;
}

/** Reads the fields without validation. */
export function readRequestFields(bytes: Uint8Array, offset = 0): RequestRecord {
  requireBytes(bytes, offset, REQUEST_RECORD_SIZE, "request record");
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, REQUEST_RECORD_SIZE);
  return { magic: v.getUint32(0, true), version: v.getUint32(4, true), lver: v.getBigUint64(8, true), forceMode: v.getUint32(16, true) };
}

export function requestProblems(rec: RequestRecord, base: number): DecodeProblem[] {
  if (rec.magic !== REQ_DISK_MAGIC) {
    return [
      {
        code: ErrorCodes.BAD_MAGIC,
        field: "magic",
        offset: base,
        message: `request record magic is ${hex32(rec.magic)}, expected ${hex32(REQ_DISK_MAGIC)} (field magic at byte ${base})`,
      },
    ];
  }
  if ((rec.version & VERSION_MAJOR_MASK) >>> 0 !== REQ_DISK_VERSION_MAJOR) {
    return [
      {
        code: ErrorCodes.BAD_VERSION,
        field: "version",
        offset: base + 4,
        message: `request record version ${hex32(rec.version)} has major other than ${hex32(REQ_DISK_VERSION_MAJOR)} (field version at byte ${base + 4})`,
      },
    ];
  }
  return [];
}

/** Decodes and checks magic and version major; `at` is the absolute offset of bytes[0]. */
export function decodeRequestRecord(bytes: Uint8Array, offset = 0, at = 0): RequestRecord {
  const rec = readRequestFields(bytes, offset);
  throwFirst(requestProblems(rec, at + offset));
  return rec;
}
