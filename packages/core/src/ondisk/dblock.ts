// Disk Paxos block at the start of sector 2+(H-1) of a resource lease (docs/ondisk.md §6.4).
// The checksum covers bytes 0..47; `flags` (52..55) and the mode block are not covered.
// Host ids (inp) are numbers; ballots, generations, times and versions are bigint
// (see leader-record.ts for the rule).
import { ErrorCodes } from "../errors.js";
import { hex32, readU64AsNumber, requireBytes, writeU32, writeU64 } from "./bytes.js";
import { sanlockCrc32c } from "./crc32c.js";
import type { DecodeProblem } from "./decode-problem.js";
import { throwFirst } from "./decode-problem.js";

export const DBLOCK_SIZE = 56;
export const DBLOCK_CHECKSUM_LEN = 48;
export const DBLOCK_FL_RELEASED = 0x1;

export interface Dblock {
  mbal: bigint;
  bal: bigint;
  /** proposed owner host_id */
  inp: number;
  /** proposed owner generation */
  inp2: bigint;
  /** proposed owner timestamp (proposer's monotonic seconds) */
  inp3: bigint;
  lver: bigint;
  checksum: number;
  flags: number;
}

export function emptyDblock(): Dblock {
  return { mbal: 0n, bal: 0n, inp: 0, inp2: 0n, inp3: 0n, lver: 0n, checksum: 0, flags: 0 };
}

export interface EncodeDblockOptions {
  /** "compute" (default) or "keep" record.checksum */
  checksum?: "compute" | "keep";
}

/** Writes the 56-byte dblock at out[offset]; returns the checksum stored. */
export function writeDblock(out: Uint8Array, offset: number, d: Dblock, options: EncodeDblockOptions = {}): number {
  requireBytes(out, offset, DBLOCK_SIZE, "dblock");
  const v = new DataView(out.buffer, out.byteOffset + offset, DBLOCK_SIZE);
  writeU64(v, 0, d.mbal, "mbal");
  writeU64(v, 8, d.bal, "bal");
  writeU64(v, 16, d.inp, "inp");
  writeU64(v, 24, d.inp2, "inp2");
  writeU64(v, 32, d.inp3, "inp3");
  writeU64(v, 40, d.lver, "lver");
  const checksum = options.checksum === "keep" ? d.checksum : sanlockCrc32c(out, offset, offset + DBLOCK_CHECKSUM_LEN);
  writeU32(v, 48, checksum, "dblock checksum");
  writeU32(v, 52, d.flags, "dblock flags");
  return checksum;
}

export function encodeDblock(d: Dblock, options: EncodeDblockOptions = {}): Uint8Array {
  const out = new Uint8Array(DBLOCK_SIZE);
  writeDblock(out, 0, d, options);
  return out;
}

/** Reads all fields without validation; `at` is the absolute offset of bytes[0]. */
export function readDblockFields(bytes: Uint8Array, offset = 0, at = 0): Dblock {
  requireBytes(bytes, offset, DBLOCK_SIZE, "dblock");
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, DBLOCK_SIZE);
  return {
    mbal: v.getBigUint64(0, true),
    bal: v.getBigUint64(8, true),
    inp: readU64AsNumber(v, 16, "inp", at + offset),
    inp2: v.getBigUint64(24, true),
    inp3: v.getBigUint64(32, true),
    lver: v.getBigUint64(40, true),
    checksum: v.getUint32(48, true),
    flags: v.getUint32(52, true),
  };
}

/** "Empty" dblock (docs/ondisk.md §6.4): checksum, mbal, bal, inp and lver all 0; accepted without checksum. */
export function isEmptyDblock(d: Dblock): boolean {
  return d.checksum === 0 && d.mbal === 0n && d.bal === 0n && d.inp === 0 && d.lver === 0n;
}

export function dblockChecksum(bytes: Uint8Array, offset = 0): number {
  requireBytes(bytes, offset, DBLOCK_CHECKSUM_LEN, "dblock checksum");
  return sanlockCrc32c(bytes, offset, offset + DBLOCK_CHECKSUM_LEN);
}

export function dblockProblems(bytes: Uint8Array, offset: number, d: Dblock, at: number): DecodeProblem[] {
  if (isEmptyDblock(d)) return [];
  const computed = dblockChecksum(bytes, offset);
  if (computed === d.checksum) return [];
  const pos = at + offset + DBLOCK_CHECKSUM_LEN;
  return [
    {
      code: ErrorCodes.BAD_CHECKSUM,
      field: "checksum",
      offset: pos,
      message: `dblock checksum ${hex32(d.checksum)} does not match computed ${hex32(computed)} (field checksum at byte ${pos})`,
    },
  ];
}

/** Decodes a dblock, verifying its checksum unless it is empty; throws ERR_DISK_BAD_CHECKSUM. */
export function decodeDblock(bytes: Uint8Array, offset = 0, at = 0): Dblock {
  const d = readDblockFields(bytes, offset, at);
  throwFirst(dblockProblems(bytes, offset, d, at));
  return d;
}
