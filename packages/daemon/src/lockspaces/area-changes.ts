/**
 * A renewal read (docs/algorithms.md §3.2) handed from the renewal worker to the main thread's
 * host status table as changes: the worker sends only the host records whose bytes changed
 * since the read it sent before, the main thread keeps the last record of every host and
 * gives the table the whole set again. The table sees exactly the records the disk holds, so
 * the host status semantics (docs/algorithms.md §3.2 steps 2-5) are those of observing the full read, while
 * neither thread decodes or copies the unchanged records (nearly all of them) each renewal.
 *
 * Everything an ObservedRecord holds lies in the first 512 bytes of a delta sector: the
 * leader record (docs/ondisk.md §4) and the host bitmap at 256..511 (docs/ondisk.md §5), so those
 * bytes are what the worker compares. Both sides start from "every sector zero", the record
 * an all-zero sector decodes to.
 */
import { nameCompareBytes, observedRecordAt, type ObservedRecord } from "@sanlock-ts/core";

/** Bytes of a delta sector that the watcher reads (leader record and host bitmap). */
export const OBSERVED_SECTOR_BYTES = 512;
/** Largest max_hosts of any geometry (docs/ondisk.md §2). */
const MAX_HOSTS = 2000;
const ZERO_SECTOR = Buffer.alloc(OBSERVED_SECTOR_BYTES);

/** The record an all-zero sector decodes to. */
export function emptyRecord(hostId: number): ObservedRecord {
  return {
    hostId,
    valid: false,
    ownerId: 0,
    ownerGeneration: 0n,
    timestamp: 0n,
    ioTimeout: 0,
    hostName: "",
    ourBitSet: false,
    eventGeneration: 0n,
    eventNumber: 0n,
    eventData: 0n,
  };
}

export interface AreaShape {
  readonly sectorSize: number;
  readonly maxHosts: number;
}

function checkShape(shape: AreaShape): void {
  if (shape.sectorSize !== 512 && shape.sectorSize !== 4096) throw new RangeError(`sector size ${shape.sectorSize} is neither 512 nor 4096`);
  if (!Number.isInteger(shape.maxHosts) || shape.maxHosts < 1 || shape.maxHosts > MAX_HOSTS) {
    throw new RangeError(`max_hosts ${shape.maxHosts} outside 1..${MAX_HOSTS}`);
  }
}

/**
 * Worker side: finds the records of a renewal read that differ from the previous read. Keeps
 * a copy of the observed bytes of each non-zero sector only (a host never joined costs nothing).
 */
export class AreaChangeTracker {
  private readonly previous = new Map<number, Buffer>();
  private readonly spaceName: Uint8Array;

  constructor(
    private readonly shape: AreaShape,
    lockspace: string,
    private readonly ourHostId: number,
  ) {
    checkShape(shape);
    this.spaceName = nameCompareBytes(lockspace);
  }

  /**
   * The changed records of `area` (a whole-area read). All changed records are decoded before
   * any copy is updated: a record that cannot be decoded throws and leaves the tracker as it
   * was, so the next read reports the change again.
   */
  changes(area: Uint8Array): ObservedRecord[] {
    const { sectorSize, maxHosts } = this.shape;
    if (area.length < sectorSize * maxHosts) throw new RangeError(`area read of ${area.length} bytes is shorter than ${maxHosts} sectors of ${sectorSize}`);
    const bytes = Buffer.from(area.buffer, area.byteOffset, area.byteLength);
    const changedAt: number[] = [];
    for (let i = 0; i < maxHosts; i++) {
      const at = i * sectorSize;
      const before = this.previous.get(i) ?? ZERO_SECTOR;
      if (bytes.compare(before, 0, OBSERVED_SECTOR_BYTES, at, at + OBSERVED_SECTOR_BYTES) !== 0) changedAt.push(i);
    }
    const records = changedAt.map((i) => observedRecordAt(area, i * sectorSize, sectorSize, i + 1, this.spaceName, this.ourHostId));
    for (const i of changedAt) {
      const sector = bytes.subarray(i * sectorSize, i * sectorSize + OBSERVED_SECTOR_BYTES);
      if (sector.equals(ZERO_SECTOR)) this.previous.delete(i);
      else this.previous.set(i, Buffer.from(sector));
    }
    return records;
  }
}

/** Main-thread side: the last record of every host, as the worker's changes describe them. */
export class ObservedHosts {
  private readonly records: ObservedRecord[];

  constructor(shape: AreaShape) {
    checkShape(shape);
    this.records = Array.from({ length: shape.maxHosts }, (_, i) => emptyRecord(i + 1));
  }

  /** Applies one read's changes; returns every host's record, host 1 first. */
  apply(changed: readonly ObservedRecord[]): readonly ObservedRecord[] {
    for (const rec of changed) {
      if (!Number.isInteger(rec.hostId) || rec.hostId < 1 || rec.hostId > this.records.length) {
        throw new RangeError(`observed record of host_id ${rec.hostId} outside 1..${this.records.length}`);
      }
      this.records[rec.hostId - 1] = rec;
    }
    return this.records;
  }
}
