/**
 * The reference the renewal-watcher tests compare against: every delta record of a lockspace
 * read decoded field by field (docs/algorithms.md §3.2 step 2), as renewals did before
 * HostStatusTable.observeArea and the worker's AreaChangeTracker decoded only changed records.
 */
import { DELTA_DISK_MAGIC, namesEqual, readLeaderFields, testHostBit, type ObservedRecord } from "../../packages/core/src/index.js";

export interface AreaShape {
  readonly sectorSize: number;
  /** Records 1..maxHosts, one per sector from the start of `area`. */
  readonly maxHosts: number;
  readonly lockspace: string;
  /** Whose bit in each record's host bitmap is reported as ourBitSet. */
  readonly ourHostId: number;
}

export function decodeEveryRecord(area: Uint8Array, shape: AreaShape): ObservedRecord[] {
  const records: ObservedRecord[] = [];
  for (let h = 1; h <= shape.maxHosts; h++) {
    const sector = area.subarray((h - 1) * shape.sectorSize, h * shape.sectorSize);
    const rec = readLeaderFields(sector, 0);
    records.push({
      hostId: h,
      valid: rec.magic === DELTA_DISK_MAGIC && namesEqual(rec.spaceName, shape.lockspace),
      ownerId: rec.ownerId,
      ownerGeneration: rec.ownerGeneration,
      timestamp: rec.timestamp,
      ioTimeout: rec.ioTimeout,
      hostName: rec.resourceName,
      ourBitSet: testHostBit(sector, shape.ourHostId),
      eventGeneration: rec.writeId,
      eventNumber: rec.writeGeneration,
      eventData: rec.writeTimestamp,
    });
  }
  return records;
}
