// Fixed 48-byte name fields (docs/ondisk.md §1): NUL padded, a 48-byte name has no terminating NUL,
// comparisons follow C strncmp(a, b, 48): byte-wise, stopping at the first NUL.
import { ErrorCodes, SanlockTsError } from "../errors.js";
import { NAME_LEN } from "../limits.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

/** UTF-8 bytes of a name; throws ERR_DISK_NAME_TOO_LONG above 48 bytes, ERR_CORE_INVALID_ARGUMENT on NUL. */
export function nameBytes(name: string, field = "name"): Uint8Array {
  const bytes = encoder.encode(name);
  if (bytes.length > NAME_LEN) {
    throw new SanlockTsError(ErrorCodes.NAME_TOO_LONG, `${field} "${name}" is ${bytes.length} bytes, the limit is ${NAME_LEN}`, {
      field,
      length: bytes.length,
    });
  }
  if (bytes.includes(0)) {
    throw new SanlockTsError(ErrorCodes.INVALID_ARGUMENT, `${field} "${name}" contains a NUL byte`, { field });
  }
  return bytes;
}

/** Writes name into out[offset, offset+48), NUL padded. */
export function writeName(out: Uint8Array, offset: number, name: string, field = "name"): void {
  const bytes = nameBytes(name, field);
  out.fill(0, offset, offset + NAME_LEN);
  out.set(bytes, offset);
}

/** Reads the name in bytes[offset, offset+48): up to the first NUL or 48 bytes. */
export function readName(bytes: Uint8Array, offset: number): string {
  const field = bytes.subarray(offset, offset + NAME_LEN);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** strncmp(a, b, 48) == 0 on the encoded names (longer names are compared on their first 48 bytes). */
export function namesEqual(a: string, b: string): boolean {
  if (a === b) return true; // identical strings encode identically
  const x = encoder.encode(a).subarray(0, NAME_LEN);
  const y = encoder.encode(b).subarray(0, NAME_LEN);
  const xl = cStringLength(x);
  const yl = cStringLength(y);
  if (xl !== yl) return false;
  for (let i = 0; i < xl; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The bytes a stored name field is compared with (strncmp(field, name, 48) as in namesEqual):
 * UTF-8 of `name`, cut at 48 bytes and at its first NUL. Encode once, compare many fields.
 */
export function nameCompareBytes(name: string): Uint8Array {
  const bytes = encoder.encode(name).subarray(0, NAME_LEN);
  return bytes.subarray(0, cStringLength(bytes));
}

/**
 * strncmp(bytes[offset, offset+48), expected, 48) == 0 on the raw field, `expected` from
 * nameCompareBytes. Raw bytes, as sanlock compares; no decoding of the field.
 */
export function nameFieldEquals(bytes: Uint8Array, offset: number, expected: Uint8Array): boolean {
  if (offset < 0 || offset + NAME_LEN > bytes.length) {
    throw new RangeError(`name field at ${offset} outside buffer of ${bytes.length}`);
  }
  const length = expected.length;
  for (let i = 0; i < length; i++) if (bytes[offset + i] !== expected[i]) return false;
  return length === NAME_LEN || bytes[offset + length] === 0;
}

function cStringLength(bytes: Uint8Array): number {
  const nul = bytes.indexOf(0);
  return nul < 0 ? bytes.length : nul;
}
