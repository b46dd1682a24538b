// Lock value block (docs/ondisk.md §6.6): one sector at the fixed sector number 2002 of a resource
// lease, for every geometry. For 4K/1M, 4K/2M and 4K/4M that sector lies OUTSIDE the lease
// area (area + 8,200,192) - sanlock writes it there anyway (docs/ondisk.md §11); lvbOutsideArea tells callers.
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { Geometry } from "./geometry.js";

export const LVB_SECTOR = 2002;

/** Absolute byte offset of the LVB sector of the lease at areaOffset. */
export function lvbOffset(areaOffset: number, geometry: Geometry): number {
  return areaOffset + LVB_SECTOR * geometry.sectorSize;
}

/** True for the geometries where sanlock's LVB sector is beyond the end of the lease area. */
export function lvbOutsideArea(geometry: Geometry): boolean {
  return LVB_SECTOR >= geometry.sectorsPerArea;
}

/**
 * The sector sanlock writes on release: `data` first, then the rest of `previous` (the sector
 * as read at acquire) or zeros when no previous content is given.
 */
export function encodeLvbSector(data: Uint8Array, sectorSize: number, previous?: Uint8Array): Uint8Array {
  if (data.length > sectorSize) {
    throw new SanlockTsError(ErrorCodes.FIELD_RANGE, `LVB data is ${data.length} bytes, more than one ${sectorSize}-byte sector`);
  }
  const out = new Uint8Array(sectorSize);
  if (previous) out.set(previous.subarray(0, sectorSize));
  out.set(data, 0);
  return out;
}
