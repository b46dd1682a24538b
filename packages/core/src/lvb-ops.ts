/**
 * Lock value block I/O (docs/algorithms.md §7.9, docs/ondisk.md §6.6): one sector at the
 * fixed sector 2002 of the lease area, read after acquire, written by an
 * exclusive holder at release or ex→sh conversion.
 */
import { LVB_SECTOR, encodeLvbSector } from "./ondisk/lvb.js";
import type { PaxosArea } from "./paxos-area.js";

/** Read the LVB sector; a failed read yields zeros (sanlock would keep stale memory). */
export async function readLvbSector(disk: PaxosArea): Promise<Uint8Array> {
  await disk.detect();
  try {
    return await disk.readSector(LVB_SECTOR, "LVB read");
  } catch {
    return new Uint8Array(disk.geometry.sectorSize);
  }
}

/** Write `data` followed by the rest of the sector as read at acquire. */
export async function writeLvbSector(disk: PaxosArea, data: Uint8Array, previous: Uint8Array): Promise<void> {
  await disk.writeSector(LVB_SECTOR, encodeLvbSector(data, disk.geometry.sectorSize, previous), "LVB write");
}
