/**
 * The placement check sanlock gets from its first read of a lease: it passes the failed
 * read's errno through, so a lease offset that is not sector aligned answers −EINVAL and one
 * at or beyond the end of the device −EMSGSIZE (both recorded with the real daemon).
 */
import { Errno } from "@sanlock-ts/core/wire";
import { DaemonResultError, EMSGSIZE } from "../results.js";

/** What the check needs of a device (DirectDevice has it). */
export interface PlacedDevice {
  readonly sectorSize: number;
  /** Whether the device is at least `end` bytes long (DirectDevice.reaches). */
  reaches(end: number): Promise<boolean>;
}

export async function checkLeasePlacement(device: PlacedDevice, offset: bigint): Promise<void> {
  if (offset % BigInt(device.sectorSize) !== 0n) {
    throw new DaemonResultError(-Errno.EINVAL, `lease offset ${offset} is not a multiple of the sector size ${device.sectorSize}`);
  }
  const end = offset + BigInt(device.sectorSize);
  // Beyond 2^53 no device reaches it (sizes are safe integers).
  if (end > BigInt(Number.MAX_SAFE_INTEGER) || !(await device.reaches(Number(end)))) {
    throw new DaemonResultError(-EMSGSIZE, `lease offset ${offset} is at or beyond the end of the device`);
  }
}
