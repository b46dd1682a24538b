/**
 * The placement check sanlock gets from its first read of a lease: it passes the failed
 * read's errno through, so a lease offset that is not sector aligned answers −EINVAL and one
 * at or beyond the end of the device −EMSGSIZE (both recorded with the real daemon).
 */
import { Errno } from "@sanlock-ts/client/wire/index";
import type { BlockDevice } from "@sanlock-ts/core";
import { DaemonResultError, EMSGSIZE } from "../lockspaces/results.js";

export async function checkLeasePlacement(device: BlockDevice, offset: bigint): Promise<void> {
  if (offset % BigInt(device.sectorSize) !== 0n) {
    throw new DaemonResultError(-Errno.EINVAL, `lease offset ${offset} is not a multiple of the sector size ${device.sectorSize}`);
  }
  if (offset + BigInt(device.sectorSize) > BigInt(await device.size())) {
    throw new DaemonResultError(-EMSGSIZE, `lease offset ${offset} is at or beyond the end of the device`);
  }
}
