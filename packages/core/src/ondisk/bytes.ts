// Little-endian field access shared by the record codecs (docs/ondisk.md §1: every field is LE).
import { ErrorCodes, OnDiskFormatError, SanlockTsError } from "../errors.js";

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws ERR_DISK_SHORT_BUFFER unless bytes[offset, offset+length) exists. */
export function requireBytes(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > bytes.length) {
    throw new SanlockTsError(ErrorCodes.SHORT_BUFFER, `${what} needs ${length} bytes at buffer offset ${offset}, buffer has ${bytes.length}`, {
      offset,
      length,
      bufferLength: bytes.length,
    });
  }
}

/**
 * Reads a u64 that must fit a JS number (host ids, host counts, byte offsets).
 * Throws ERR_DISK_FIELD_RANGE above 2^53-1 rather than silently losing bits.
 */
export function readU64AsNumber(view: DataView, offset: number, field: string, at: number): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new OnDiskFormatError(ErrorCodes.FIELD_RANGE, `${field} at byte ${at + offset} is ${value}, larger than this implementation accepts (2^53-1)`, {
      field,
      offset: at + offset,
      value,
    });
  }
  return Number(value);
}

export function writeU64(view: DataView, offset: number, value: bigint | number, field: string): void {
  const big = typeof value === "bigint" ? value : BigInt(value);
  if (big < 0n || big > 0xffffffffffffffffn || (typeof value === "number" && !Number.isSafeInteger(value))) {
    throw new SanlockTsError(ErrorCodes.FIELD_RANGE, `${field} value ${value} does not fit an unsigned 64-bit field`, { field, value });
  }
  view.setBigUint64(offset, big, true);
}

export function writeU32(view: DataView, offset: number, value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new SanlockTsError(ErrorCodes.FIELD_RANGE, `${field} value ${value} does not fit an unsigned 32-bit field`, { field, value });
  }
  view.setUint32(offset, value, true);
}

export function writeU16(view: DataView, offset: number, value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new SanlockTsError(ErrorCodes.FIELD_RANGE, `${field} value ${value} does not fit an unsigned 16-bit field`, { field, value });
  }
  view.setUint16(offset, value, true);
}

export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}
