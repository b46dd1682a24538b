// Mode block at bytes 128..143 of a dblock sector (docs/ondisk.md §6.5). No checksum.
// Bytes 4..7 (sector bytes 132..135) are padding: written zero, ignored on read.
import { requireBytes, writeU32, writeU64 } from "./bytes.js";

export const MBLOCK_OFFSET = 128;
export const MODE_BLOCK_SIZE = 16;
export const MBLOCK_SHARED = 0x1;

export interface ModeBlock {
  flags: number;
  /** holder's lockspace generation when it took the shared lease */
  generation: bigint;
}

export function emptyModeBlock(): ModeBlock {
  return { flags: 0, generation: 0n };
}

export function writeModeBlock(out: Uint8Array, offset: number, m: ModeBlock): void {
  requireBytes(out, offset, MODE_BLOCK_SIZE, "mode block");
  const v = new DataView(out.buffer, out.byteOffset + offset, MODE_BLOCK_SIZE);
  writeU32(v, 0, m.flags, "mode block flags");
  writeU32(v, 4, 0, "mode block padding");
  writeU64(v, 8, m.generation, "mode block generation");
}

export function encodeModeBlock(m: ModeBlock): Uint8Array {
  const out = new Uint8Array(MODE_BLOCK_SIZE);
  writeModeBlock(out, 0, m);
  return out;
}

export function decodeModeBlock(bytes: Uint8Array, offset = 0): ModeBlock {
  requireBytes(bytes, offset, MODE_BLOCK_SIZE, "mode block");
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, MODE_BLOCK_SIZE);
  return { flags: v.getUint32(0, true), generation: v.getBigUint64(8, true) };
}
