// Where each sector of a lease area lives (docs/ondisk.md §5.1, §6.1), and checks that an area
// fits on a device. All results are absolute byte offsets on the device.
import type { BlockDevice } from "../block-device.js";
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { Geometry } from "../ondisk/geometry.js";

function checkHostId(hostId: number, limit: number, what: string): void {
  if (!Number.isInteger(hostId) || hostId < 1 || hostId > limit) {
    throw new SanlockTsError(ErrorCodes.OUT_OF_RANGE, `host_id ${hostId} is outside 1..${limit} for ${what}`, { hostId, limit });
  }
}

/** Host N's delta lease: sector N-1 of the lockspace area. */
export function deltaSectorOffset(areaOffset: number, geometry: Geometry, hostId: number): number {
  checkHostId(hostId, geometry.maxHosts, "a lockspace");
  return areaOffset + (hostId - 1) * geometry.sectorSize;
}

/** Request record: sector 1 of the resource area. */
export function requestSectorOffset(areaOffset: number, geometry: Geometry): number {
  return areaOffset + geometry.sectorSize;
}

/** Host H's dblock: sector 2 + (H-1) of the resource area. */
export function dblockSectorOffset(areaOffset: number, geometry: Geometry, hostId: number): number {
  checkHostId(hostId, geometry.maxHosts, "a resource lease");
  return areaOffset + (hostId + 1) * geometry.sectorSize;
}

export interface PlacementRules {
  /** require areaOffset % alignSize === 0 (used for init/format writes); default true */
  requireAlignment?: boolean;
}

/**
 * Validates that an area of `geometry` at `areaOffset` can be used on `device`:
 * the lease sector size is a multiple of the device's logical sector size (a 512-byte lease
 * cannot be written on a 4K device), the offset is aligned, and the device holds the area.
 */
export async function checkAreaPlacement(device: BlockDevice, areaOffset: number, geometry: Geometry, rules: PlacementRules = {}): Promise<void> {
  if (!Number.isSafeInteger(areaOffset) || areaOffset < 0) {
    throw new SanlockTsError(ErrorCodes.INVALID_ARGUMENT, `area offset ${areaOffset} is not a non-negative integer`, { areaOffset });
  }
  if (geometry.sectorSize % device.sectorSize !== 0) {
    throw new SanlockTsError(
      ErrorCodes.BAD_GEOMETRY,
      `lease sector size ${geometry.sectorSize} is smaller than the device's logical sector size ${device.sectorSize}`,
      { leaseSectorSize: geometry.sectorSize, deviceSectorSize: device.sectorSize },
    );
  }
  const unit = (rules.requireAlignment ?? true) ? geometry.alignSize : geometry.sectorSize;
  if (areaOffset % unit !== 0) {
    throw new SanlockTsError(ErrorCodes.MISALIGNED, `area offset ${areaOffset} is not a multiple of ${unit}`, { areaOffset, unit });
  }
  const size = await device.size();
  if (areaOffset + geometry.alignSize > size) {
    throw new SanlockTsError(ErrorCodes.DEVICE_TOO_SMALL, `device of ${size} bytes cannot hold a ${geometry.alignSize}-byte area at offset ${areaOffset}`, {
      size,
      areaOffset,
      alignSize: geometry.alignSize,
    });
  }
}
