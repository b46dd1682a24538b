// Bounds-checked little-endian cursor reader/writer over Uint8Array + DataView.
// The wire is little-endian LP64 (docs/wire.md §1). No Node types are used so
// the codec stays portable.

import { WireError, WireErrorCode } from "./errors.js";

const UTF8_ENCODER = new TextEncoder();
// Strict: invalid UTF-8 is an error rather than U+FFFD, so two different names on the
// wire can never decode to the same string (the daemon matches leases by name, docs/wire.md §5.6).
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true });
const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

export class ByteReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    /** What is being read, for error messages ("sanlk_lockspace"). */
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  private need(size: number, field: string): number {
    if (this.remaining < size) {
      throw new WireError(WireErrorCode.TRUNCATED, `${this.what}.${field}: needs ${size} bytes at offset ${this.pos}, only ${this.remaining} left`, {
        details: { field, offset: this.pos },
      });
    }
    const at = this.pos;
    this.pos += size;
    return at;
  }

  u32(field: string): number {
    return this.view.getUint32(this.need(4, field), true);
  }

  i32(field: string): number {
    return this.view.getInt32(this.need(4, field), true);
  }

  u64(field: string): bigint {
    return this.view.getBigUint64(this.need(8, field), true);
  }

  /** A copy of the next `size` bytes. */
  bytesOf(size: number, field: string): Uint8Array {
    const at = this.need(size, field);
    return this.bytes.slice(at, at + size);
  }

  /** A `char[size]` field: text up to the first NUL (or all bytes when full), UTF-8. */
  fixedString(size: number, field: string): string {
    const at = this.need(size, field);
    try {
      return decodeCString(this.bytes.subarray(at, at + size));
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError(WireErrorCode.MALFORMED, `${this.what}.${field}: not valid UTF-8 at offset ${at}`, {
        details: { field, offset: at },
      });
    }
  }

  skip(size: number, field: string): void {
    this.need(size, field);
  }
}

export class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private pos = 0;

  constructor(
    size: number,
    private readonly what: string,
  ) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  get offset(): number {
    return this.pos;
  }

  private take(size: number, field: string): number {
    if (this.pos + size > this.bytes.byteLength) {
      throw new WireError(WireErrorCode.BAD_VALUE, `${this.what}.${field}: writer overflow at ${this.pos}`);
    }
    const at = this.pos;
    this.pos += size;
    return at;
  }

  u32(value: number, field: string): void {
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
      throw new WireError(WireErrorCode.BAD_VALUE, `${this.what}.${field}: ${value} is not a u32`, {
        details: { field, value },
      });
    }
    this.view.setUint32(this.take(4, field), value, true);
  }

  /** Accepts −2^31..2^32−1: negative values (−1 pids, results) are stored as two's complement. */
  i32(value: number, field: string): void {
    if (!Number.isInteger(value) || value < -0x80000000 || value > U32_MAX) {
      throw new WireError(WireErrorCode.BAD_VALUE, `${this.what}.${field}: ${value} is not a 32-bit integer`, {
        details: { field, value },
      });
    }
    this.view.setUint32(this.take(4, field), value >>> 0, true);
  }

  u64(value: bigint, field: string): void {
    if (value < 0n || value > U64_MAX) {
      throw new WireError(WireErrorCode.BAD_VALUE, `${this.what}.${field}: ${value} is not a u64`, {
        details: { field, value: value.toString() },
      });
    }
    this.view.setBigUint64(this.take(8, field), value, true);
  }

  raw(data: Uint8Array, field: string): void {
    this.bytes.set(data, this.take(data.byteLength, field));
  }

  /**
   * A `char[size]` field, zero-padded (docs/wire.md §1: senders zero the tail). With
   * `needNul` the text must leave room for a terminating NUL (paths, docs/wire.md §4.1).
   */
  fixedString(value: string, size: number, field: string, needNul: boolean): void {
    const encoded = UTF8_ENCODER.encode(value);
    const limit = needNul ? size - 1 : size;
    if (encoded.byteLength > limit) {
      throw new WireError(WireErrorCode.BAD_VALUE, `${this.what}.${field}: ${encoded.byteLength} bytes do not fit in ${limit}`, {
        details: { field, length: encoded.byteLength, limit },
      });
    }
    if (encoded.includes(0)) {
      throw new WireError(WireErrorCode.BAD_VALUE, `${this.what}.${field}: contains a NUL byte`, {
        details: { field },
      });
    }
    const at = this.take(size, field);
    this.bytes.set(encoded, at);
  }

  zeros(size: number, field: string): void {
    this.take(size, field);
  }

  /** Asserts the whole buffer was written (catches layout mistakes). */
  finish(): Uint8Array {
    if (this.pos !== this.bytes.byteLength) {
      throw new WireError(WireErrorCode.BAD_VALUE, `${this.what}: wrote ${this.pos} of ${this.bytes.byteLength} bytes`);
    }
    return this.bytes;
  }
}

/** Text before the first NUL (whole array when there is none), UTF-8 decoded; throws TypeError on invalid UTF-8. */
export function decodeCString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return UTF8_DECODER.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

const LENIENT_DECODER = new TextDecoder("utf-8");

/** Like decodeCString but replaces invalid UTF-8 with U+FFFD; for informational text (state strings). */
export function decodeCText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return LENIENT_DECODER.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

export function encodeUtf8(text: string): Uint8Array {
  return UTF8_ENCODER.encode(text);
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
