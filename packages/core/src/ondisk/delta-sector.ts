// A whole delta lease sector (docs/ondisk.md §5.1): leader record at 0..199, zero to 255,
// host bitmap at 256..511, zero to the end of the sector.
import { ErrorCodes, SanlockTsError } from "../errors.js";
import { requireBytes } from "./bytes.js";
import { HOSTID_BITMAP_OFFSET, HOSTID_BITMAP_SIZE } from "./host-bitmap.js";
import type { LeaderExpectation, LeaderRecord } from "./leader-record.js";
import { decodeLeader, writeLeader } from "./leader-record.js";

export interface DeltaSector {
  leader: LeaderRecord;
  /** the 256 bitmap bytes (a copy) */
  bitmap: Uint8Array;
}

/** Encodes a full sector: leader (checksum computed), optional 256-byte bitmap, zeros elsewhere. */
export function encodeDeltaSector(leader: LeaderRecord, sectorSize: number, bitmap?: Uint8Array): Uint8Array {
  if (sectorSize !== 512 && sectorSize !== 4096) {
    throw new SanlockTsError(ErrorCodes.BAD_GEOMETRY, `delta sector size ${sectorSize} is neither 512 nor 4096`);
  }
  const out = new Uint8Array(sectorSize);
  writeLeader(out, 0, leader);
  if (bitmap) {
    if (bitmap.length !== HOSTID_BITMAP_SIZE) {
      throw new SanlockTsError(ErrorCodes.INVALID_ARGUMENT, `host bitmap is ${bitmap.length} bytes, expected ${HOSTID_BITMAP_SIZE}`);
    }
    out.set(bitmap, HOSTID_BITMAP_OFFSET);
  }
  return out;
}

/** Decodes and validates (as decodeLeader with kind "delta") a delta sector at bytes[offset]. */
export function decodeDeltaSector(bytes: Uint8Array, offset: number, expect: Omit<LeaderExpectation, "kind"> = {}): DeltaSector {
  requireBytes(bytes, offset, HOSTID_BITMAP_OFFSET + HOSTID_BITMAP_SIZE, "delta sector");
  const leader = decodeLeader(bytes, offset, { ...expect, kind: "delta" });
  const start = offset + HOSTID_BITMAP_OFFSET;
  return { leader, bitmap: bytes.slice(start, start + HOSTID_BITMAP_SIZE) };
}
