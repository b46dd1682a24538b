// Whole-lockspace operations of `sanlock direct init -s` / read_leader -s (docs/ondisk.md §5).
import type { BlockDevice } from "../block-device.js";
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { DeltaSector } from "../ondisk/delta-sector.js";
import { decodeDeltaSector, encodeDeltaSector } from "../ondisk/delta-sector.js";
import type { Geometry } from "../ondisk/geometry.js";
import { legacyGeometry } from "../ondisk/geometry.js";
import type { LeaderRecord } from "../ondisk/leader-record.js";
import { DELTA_DISK_MAGIC, DELTA_DISK_VERSION, emptyLeader, writeLeader } from "../ondisk/leader-record.js";
import { nameBytes } from "../ondisk/names.js";
import { resolveGeometry } from "./detect.js";
import { checkAreaPlacement, deltaSectorOffset } from "./layout.js";
import { DEFAULT_IO_TIMEOUT } from "../limits.js";

export interface LockspaceAreaInit {
  /** byte offset of the lockspace area */
  offset: number;
  spaceName: string;
  /** default: the device's logical sector size with the legacy alignment (docs/ondisk.md §2.3) */
  geometry?: Geometry;
  /** seconds, stored in every record; default 10 */
  ioTimeout?: number;
}

/** The free record written into every host sector at init (docs/ondisk.md §5.2). */
export function freeDeltaLeader(spaceName: string, geometry: Geometry, ioTimeout = DEFAULT_IO_TIMEOUT): LeaderRecord {
  nameBytes(spaceName, "lockspace name");
  return {
    ...emptyLeader(),
    magic: DELTA_DISK_MAGIC,
    version: DELTA_DISK_VERSION,
    flags: geometry.leaderAlignFlag,
    sectorSize: geometry.sectorSize,
    numHosts: 0,
    maxHosts: 1,
    spaceName,
    ioTimeout,
  };
}

/**
 * The area image sanlock writes in the first of the two init writes: max_hosts identical
 * free records, except sector 0 carries magic 0 (checksum computed with magic 0), rest zero.
 */
export function buildLockspaceAreaFirstWrite(spaceName: string, geometry: Geometry, ioTimeout = DEFAULT_IO_TIMEOUT): Uint8Array {
  const area = new Uint8Array(geometry.alignSize);
  const free = freeDeltaLeader(spaceName, geometry, ioTimeout);
  const sector = encodeDeltaSector(free, geometry.sectorSize);
  for (let host = 2; host <= geometry.maxHosts; host++) area.set(sector, (host - 1) * geometry.sectorSize);
  writeLeader(area, 0, { ...free, magic: 0 });
  return area;
}

function checkIoTimeout(ioTimeout: number): void {
  if (!Number.isInteger(ioTimeout) || ioTimeout < 1 || ioTimeout > 0xffff) {
    throw new SanlockTsError(ErrorCodes.INVALID_ARGUMENT, `io_timeout ${ioTimeout} is not an integer in 1..65535`, { ioTimeout });
  }
}

/**
 * `sanlock direct init -s`: writes the whole area with sector 0's magic zeroed, then
 * sector 0 with the real magic (two-step commit, docs/ondisk.md §5.2): a crash in between leaves an
 * area that reads as "initialisation incomplete" instead of a half-written lockspace.
 */
export async function initLockspaceArea(device: BlockDevice, init: LockspaceAreaInit): Promise<Geometry> {
  const geometry = init.geometry ?? legacyGeometry(device.sectorSize);
  const ioTimeout = init.ioTimeout ?? DEFAULT_IO_TIMEOUT;
  checkIoTimeout(ioTimeout);
  nameBytes(init.spaceName, "lockspace name");
  await checkAreaPlacement(device, init.offset, geometry);
  await device.write(init.offset, buildLockspaceAreaFirstWrite(init.spaceName, geometry, ioTimeout));
  const sector0 = encodeDeltaSector(freeDeltaLeader(init.spaceName, geometry, ioTimeout), geometry.sectorSize);
  await device.write(init.offset, sector0);
  return geometry;
}

export interface DeltaSectorLocation {
  /** byte offset of the lockspace area */
  offset: number;
  hostId: number;
  /** default: detected from the area's first sector */
  geometry?: Geometry;
}

/** Reads the whole lockspace area (align_size bytes), as a renewal does (docs/ondisk.md §5.3). */
export async function readLockspaceArea(device: BlockDevice, offset: number, geometry: Geometry): Promise<Uint8Array> {
  await checkAreaPlacement(device, offset, geometry, { requireAlignment: false });
  return device.read(offset, geometry.alignSize);
}

/**
 * Reads and validates host hostId's delta sector (magic, version major, checksum, and
 * space_name when given) as `direct read_leader -s` does.
 */
export async function readDeltaSector(device: BlockDevice, loc: DeltaSectorLocation & { spaceName?: string }): Promise<DeltaSector & { geometry: Geometry }> {
  const geometry = await resolveGeometry(device, loc.offset, loc.geometry);
  const at = deltaSectorOffset(loc.offset, geometry, loc.hostId);
  const bytes = await device.read(at, geometry.sectorSize);
  const expect = loc.spaceName === undefined ? { at } : { at, spaceName: loc.spaceName };
  return { ...decodeDeltaSector(bytes, 0, expect), geometry };
}

/** Writes host hostId's whole delta sector: leader (checksum computed) + bitmap, zeros elsewhere. */
export async function writeDeltaSector(
  device: BlockDevice,
  loc: DeltaSectorLocation & { geometry: Geometry },
  leader: LeaderRecord,
  bitmap?: Uint8Array,
): Promise<void> {
  const at = deltaSectorOffset(loc.offset, loc.geometry, loc.hostId);
  await device.write(at, encodeDeltaSector(leader, loc.geometry.sectorSize, bitmap));
}
