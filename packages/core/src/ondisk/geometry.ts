// Lease area geometry (docs/ondisk.md §2): the five valid (sector size, alignment) pairs,
// their max_hosts, the flag bits that record the alignment, and the detection rule docs/ondisk.md §2.3.
import { ErrorCodes, SanlockTsError } from "../errors.js";

export type SectorSize = 512 | 4096;
export type AlignSize = 1048576 | 2097152 | 4194304 | 8388608;

export const MIB = 1048576;
/** Bytes read by the detection step: contains the first record on 512 and 4K devices. */
export const DETECT_READ_SIZE = 4096;

export const LFL_ALIGN_1M = 0x10;
export const LFL_ALIGN_2M = 0x20;
export const LFL_ALIGN_4M = 0x40;
export const LFL_ALIGN_8M = 0x80;
export const LFL_ALIGN_MASK = LFL_ALIGN_1M | LFL_ALIGN_2M | LFL_ALIGN_4M | LFL_ALIGN_8M;
export const RHF_ALIGN_1M = 0x1;
export const RHF_ALIGN_2M = 0x2;
export const RHF_ALIGN_4M = 0x4;
export const RHF_ALIGN_8M = 0x8;
export const RHF_ALIGN_MASK = RHF_ALIGN_1M | RHF_ALIGN_2M | RHF_ALIGN_4M | RHF_ALIGN_8M;

export interface Geometry {
  readonly sectorSize: SectorSize;
  readonly alignSize: AlignSize;
  /** alignSize / sectorSize */
  readonly sectorsPerArea: number;
  /** largest usable host_id; number of dblock slots in a resource lease */
  readonly maxHosts: number;
  /** alignment bit in leader `flags` (LFL_ALIGN_*) */
  readonly leaderAlignFlag: number;
  /** alignment bit in rindex header `flags` (RHF_ALIGN_*) */
  readonly rindexAlignFlag: number;
  /** largest rindex max_resources for this geometry */
  readonly maxRindexEntries: number;
}

function geometry(sectorSize: SectorSize, alignSize: AlignSize, maxHosts: number, lfl: number, rhf: number, maxEntries: number): Geometry {
  return Object.freeze({
    sectorSize,
    alignSize,
    sectorsPerArea: alignSize / sectorSize,
    maxHosts,
    leaderAlignFlag: lfl,
    rindexAlignFlag: rhf,
    maxRindexEntries: maxEntries,
  });
}

/** The table of docs/ondisk.md §2.1, in that order. */
export const GEOMETRIES: readonly Geometry[] = Object.freeze([
  geometry(512, 1048576, 2000, LFL_ALIGN_1M, RHF_ALIGN_1M, 16000),
  geometry(4096, 1048576, 250, LFL_ALIGN_1M, RHF_ALIGN_1M, 16000),
  geometry(4096, 2097152, 500, LFL_ALIGN_2M, RHF_ALIGN_2M, 32000),
  geometry(4096, 4194304, 1000, LFL_ALIGN_4M, RHF_ALIGN_4M, 64000),
  geometry(4096, 8388608, 2000, LFL_ALIGN_8M, RHF_ALIGN_8M, 128000),
]);

/** The geometry for a pair; throws ERR_DISK_BAD_GEOMETRY for any pair not in docs/ondisk.md §2.1 (e.g. 512 with 2M). */
export function geometryFor(sectorSize: number, alignSize: number): Geometry {
  const found = GEOMETRIES.find((g) => g.sectorSize === sectorSize && g.alignSize === alignSize);
  if (!found) {
    throw new SanlockTsError(ErrorCodes.BAD_GEOMETRY, `sector size ${sectorSize} with alignment ${alignSize} is not a valid sanlock geometry`, {
      sectorSize,
      alignSize,
    });
  }
  return found;
}

/** Legacy rule (docs/ondisk.md §2.3 step 3, and init without -Z/-A): 512 -> 1M, 4096 -> 8M. */
export function legacyGeometry(sectorSize: number): Geometry {
  if (sectorSize === 512) return geometryFor(512, 1048576);
  if (sectorSize === 4096) return geometryFor(4096, 8388608);
  throw new SanlockTsError(ErrorCodes.BAD_GEOMETRY, `sector size ${sectorSize} is neither 512 nor 4096`, { sectorSize });
}

/** Alignment from leader flags: first of 0x10, 0x20, 0x40, 0x80 that is set (docs/ondisk.md §2.3 step 2). */
export function alignFromLeaderFlags(flags: number): AlignSize | undefined {
  if (flags & LFL_ALIGN_1M) return 1048576;
  if (flags & LFL_ALIGN_2M) return 2097152;
  if (flags & LFL_ALIGN_4M) return 4194304;
  if (flags & LFL_ALIGN_8M) return 8388608;
  return undefined;
}

/** Alignment from rindex header flags (RHF_ALIGN_*, docs/ondisk.md §2.2). */
export function alignFromRindexFlags(flags: number): AlignSize | undefined {
  if (flags & RHF_ALIGN_1M) return 1048576;
  if (flags & RHF_ALIGN_2M) return 2097152;
  if (flags & RHF_ALIGN_4M) return 4194304;
  if (flags & RHF_ALIGN_8M) return 8388608;
  return undefined;
}

/** Geometry recorded in a leader: its sector_size and alignment bit, legacy rule when no bit. */
export function geometryFromLeaderFields(sectorSize: number, flags: number): Geometry {
  const align = alignFromLeaderFlags(flags);
  return align === undefined ? legacyGeometry(sectorSize) : geometryFor(sectorSize, align);
}

const DELTA_MAGIC = 0x12212010;
const PAXOS_MAGIC = 0x06152010;

/**
 * docs/ondisk.md §2.3 detection on the first bytes of an area (at least 16 bytes; 4096 are normally read).
 * Accepts only the delta and paxos magics (not a cleared lease, not an rindex header);
 * no checksum check. Returns undefined when not detectable.
 */
export function detectGeometry(firstBytes: Uint8Array): Geometry | undefined {
  if (firstBytes.length < 16) return undefined;
  const view = new DataView(firstBytes.buffer, firstBytes.byteOffset, firstBytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== DELTA_MAGIC && magic !== PAXOS_MAGIC) return undefined;
  const flags = view.getUint32(8, true);
  const sectorSize = view.getUint32(12, true);
  try {
    return geometryFromLeaderFields(sectorSize, flags);
  } catch {
    return undefined;
  }
}

/** Parses an alignment given as bytes or "1M"/"2M"/"4M"/"8M" (as the CLI's -A takes). */
export function parseAlignSize(text: string): AlignSize {
  const m = /^(\d+)([mM]?)$/.exec(text.trim());
  const value = m ? Number(m[1]) * (m[2] ? MIB : 1) : NaN;
  if (value === 1048576 || value === 2097152 || value === 4194304 || value === 8388608) return value;
  throw new SanlockTsError(ErrorCodes.BAD_GEOMETRY, `alignment "${text}" is not one of 1M, 2M, 4M, 8M`, { text });
}
