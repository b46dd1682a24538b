// Frames of the DLM socket (docs/dlm-wire.md): a u32 little-endian length, then that many bytes
// of UTF-8 JSON holding one object. Shared by the daemon and the client so both sides agree on
// the limits.
import { concatBytes } from "../wire/bytes.js";

/** Largest frame body (docs/dlm-wire.md §Limits). */
export const MAX_FRAME_BYTES = 1024 * 1024;
const LENGTH_BYTES = 4;

export class FrameError extends Error {
  readonly code = "ERR_DLM_FRAME";
  override readonly name = "FrameError";
}

/** One frame holding `message` as JSON; throws FrameError when it is larger than MAX_FRAME_BYTES. */
export function encodeFrame(message: object): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(message));
  if (body.length === 0 || body.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${body.length} bytes (1..${MAX_FRAME_BYTES})`);
  const out = new Uint8Array(LENGTH_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, LENGTH_BYTES);
  return out;
}

/**
 * Splits a byte stream into frames, whatever the chunk boundaries. A bad length or a body that
 * is not a JSON object throws FrameError: the stream has no way to find the next frame, so the
 * caller closes the connection.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  /** Adds `chunk`; returns every message completed by it, in order. */
  push(chunk: Uint8Array): Record<string, unknown>[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Record<string, unknown>[] = [];
    for (;;) {
      if (this.buffered < LENGTH_BYTES) return out;
      const head = this.peek(LENGTH_BYTES);
      const length = new DataView(head.buffer, head.byteOffset, LENGTH_BYTES).getUint32(0, true);
      if (length === 0 || length > MAX_FRAME_BYTES) throw new FrameError(`frame length ${length} (1..${MAX_FRAME_BYTES})`);
      if (this.buffered < LENGTH_BYTES + length) return out;
      const frame = this.take(LENGTH_BYTES + length);
      out.push(parseBody(frame.subarray(LENGTH_BYTES)));
    }
  }

  /** Bytes held of a frame not yet complete. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Uint8Array {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [concatBytes(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Uint8Array {
    const all = this.chunks.length === 1 ? this.chunks[0]! : concatBytes(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

function parseBody(body: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (err) {
    throw new FrameError(`frame body is not UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new FrameError("frame body is not a JSON object");
  return value as Record<string, unknown>;
}
