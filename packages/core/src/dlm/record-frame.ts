// What every DLM on-disk record shares (docs/dlm.md §4): a magic at 0, version 0x0001xxxx at 4,
// little-endian fields, reserved bytes zero, and sanlock's CRC-32C over the record except the
// last four bytes, stored in those four bytes.
import { OnDiskFormatError, SanlockTsError } from "../errors.js";
import { hex32, requireBytes } from "../ondisk/bytes.js";
import { sanlockCrc32c } from "../ondisk/crc32c.js";

/** Version writers store: major 1, minor 1. */
export const DLM_RECORD_VERSION = 0x00010001;
const VERSION_MAJOR_MASK = 0xffff0000;
const VERSION_MAJOR = 0x00010000;

export const DlmRecordErrors = {
  MAGIC: "ERR_DLM_RECORD_MAGIC",
  VERSION: "ERR_DLM_RECORD_VERSION",
  CHECKSUM: "ERR_DLM_RECORD_CHECKSUM",
  FIELD: "ERR_DLM_RECORD_FIELD",
} as const;

export function viewAt(bytes: Uint8Array, offset: number, size: number, what: string): DataView {
  requireBytes(bytes, offset, size, what);
  return new DataView(bytes.buffer, bytes.byteOffset + offset, size);
}

/** Stores the checksum of bytes[offset, offset+size−4) in the last four bytes of the record. */
export function sealRecord(bytes: Uint8Array, offset: number, size: number): number {
  const crc = sanlockCrc32c(bytes, offset, offset + size - 4);
  new DataView(bytes.buffer, bytes.byteOffset + offset, size).setUint32(size - 4, crc, true);
  return crc;
}

/** True when all `size` bytes at `offset` are zero (an absent record). */
export function isZeroRecord(bytes: Uint8Array, offset: number, size: number): boolean {
  requireBytes(bytes, offset, size, "record");
  for (let i = offset; i < offset + size; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Validates magic, major version and checksum; throws OnDiskFormatError with an ERR_DLM_RECORD_* code. */
export function checkRecord(bytes: Uint8Array, offset: number, size: number, magic: number, what: string): DataView {
  const v = viewAt(bytes, offset, size, what);
  const found = v.getUint32(0, true);
  if (found !== magic) {
    throw new OnDiskFormatError(DlmRecordErrors.MAGIC, `${what}: magic ${hex32(found)}, expected ${hex32(magic)}`, { field: "magic", offset });
  }
  const version = v.getUint32(4, true);
  if ((version & VERSION_MAJOR_MASK) >>> 0 !== VERSION_MAJOR) {
    throw new OnDiskFormatError(DlmRecordErrors.VERSION, `${what}: version ${hex32(version)} has another major`, { field: "version", offset: offset + 4 });
  }
  const stored = v.getUint32(size - 4, true);
  const computed = sanlockCrc32c(bytes, offset, offset + size - 4);
  if (stored !== computed) {
    throw new OnDiskFormatError(DlmRecordErrors.CHECKSUM, `${what}: checksum ${hex32(stored)} does not match computed ${hex32(computed)}`, {
      field: "checksum",
      offset: offset + size - 4,
    });
  }
  return v;
}

/** Throws ERR_DLM_RECORD_FIELD unless `value` is an integer in [min, max]. */
export function requireRange(value: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SanlockTsError(DlmRecordErrors.FIELD, `${field} ${value} is outside ${min}..${max}`, { field, value });
  }
}

/** Writes `text` as ASCII into a zero-padded field of `size` bytes (at most size−1 characters, NUL-terminated). */
export function writeText(bytes: Uint8Array, offset: number, size: number, text: string, field: string): void {
  const encoded = new TextEncoder().encode(text);
  if (encoded.length >= size)
    throw new SanlockTsError(DlmRecordErrors.FIELD, `${field} "${text}" needs ${encoded.length} bytes, at most ${size - 1}`, { field });
  bytes.set(encoded, offset);
}

/** Reads a NUL-terminated text field of `size` bytes. */
export function readText(bytes: Uint8Array, offset: number, size: number): string {
  let end = offset;
  while (end < offset + size && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(offset, end));
}

/** Throws ERR_DLM_RECORD_FIELD for a field whose stored value is impossible. */
export function badField(field: string, found: string): never {
  throw new SanlockTsError(DlmRecordErrors.FIELD, `${field}: impossible value (${found})`, { field });
}
