// Geometry detection on a device (docs/ondisk.md §2.3): read 4096 bytes at the area offset and
// look at a delta or paxos leader's sector_size and alignment flag.
import type { BlockDevice } from "../block-device.js";
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { Geometry } from "../ondisk/geometry.js";
import { DETECT_READ_SIZE, detectGeometry } from "../ondisk/geometry.js";

/** Detected geometry of the area at offset, or undefined (no leader there, or unreadable). */
export async function detectAreaGeometry(device: BlockDevice, offset: number): Promise<Geometry | undefined> {
  let first: Uint8Array;
  try {
    first = await device.read(offset, DETECT_READ_SIZE);
  } catch {
    // sanlock treats a failed detection read as "not found" (direct_read_leader_sizes).
    return undefined;
  }
  return detectGeometry(first);
}

/** The given geometry, or the detected one; throws ERR_DISK_GEOMETRY_NOT_FOUND when neither. */
export async function resolveGeometry(device: BlockDevice, offset: number, given?: Geometry): Promise<Geometry> {
  if (given) return given;
  const found = await detectAreaGeometry(device, offset);
  if (!found) {
    throw new SanlockTsError(
      ErrorCodes.GEOMETRY_NOT_FOUND,
      `no delta or paxos leader at offset ${offset} to take sector and align size from; give them explicitly`,
      { offset },
    );
  }
  return found;
}
