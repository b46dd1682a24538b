// A whole dblock sector: dblock at 0..55, mode block at 128..143, zero elsewhere (docs/ondisk.md §6.4-6.5).
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { Dblock } from "./dblock.js";
import { decodeDblock, writeDblock } from "./dblock.js";
import type { ModeBlock } from "./mode-block.js";
import { MBLOCK_OFFSET, MODE_BLOCK_SIZE, decodeModeBlock, emptyModeBlock, writeModeBlock } from "./mode-block.js";
import { requireBytes } from "./bytes.js";

export interface DblockSector {
  dblock: Dblock;
  mode: ModeBlock;
}

/** Encodes the sector sanlock writes for host H: dblock (checksum computed) + mode block. */
export function encodeDblockSector(dblock: Dblock, sectorSize: number, mode: ModeBlock = emptyModeBlock()): Uint8Array {
  if (sectorSize !== 512 && sectorSize !== 4096) {
    throw new SanlockTsError(ErrorCodes.BAD_GEOMETRY, `dblock sector size ${sectorSize} is neither 512 nor 4096`);
  }
  const out = new Uint8Array(sectorSize);
  writeDblock(out, 0, dblock);
  writeModeBlock(out, MBLOCK_OFFSET, mode);
  return out;
}

/** Decodes dblock (checksum verified unless empty) and mode block of the sector at bytes[offset]. */
export function decodeDblockSector(bytes: Uint8Array, offset = 0, at = 0): DblockSector {
  requireBytes(bytes, offset, MBLOCK_OFFSET + MODE_BLOCK_SIZE, "dblock sector");
  return { dblock: decodeDblock(bytes, offset, at), mode: decodeModeBlock(bytes, offset + MBLOCK_OFFSET) };
}
