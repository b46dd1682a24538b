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
 * Zeros that runs of never-written sectors are compared with, 64 KiB at a time (one memcmp each;
 * small enough to cost nothing resident).
 */
const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/**
 * Worker side: finds the records of a renewal read that differ from the previous read. Keeps
 * a copy of the observed bytes of each non-zero sector only (a host never joined costs nothing).
 *
 * Nearly all sectors of an area are zero and stay zero (max_hosts 2000, a handful of hosts), so
 * the sectors with no copy are checked a run at a time: a run still all zero (one memcmp per
 * 64 KiB) has no change, and a run that is not is halved until the changed sectors are found.
 * Comparing each of the 2,000 sectors on its own cost about 0.5 µs of call overhead each, the
 * renewal worker's largest cost with 64 lockspaces (`--cpu-prof`: 1 ms per renewal).
 */
export class AreaChangeTracker {
  /** The observed bytes of every sector last seen non-zero, by sector index. */
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
   * The changed records of `area` (a whole-area read), host 1 first. All changed records are
   * decoded before any copy is updated: a record that cannot be decoded throws and leaves the
   * tracker as it was, so the next read reports the change again.
   */
  changes(area: Uint8Array): ObservedRecord[] {
    const { sectorSize, maxHosts } = this.shape;
    if (area.length < sectorSize * maxHosts) throw new RangeError(`area read of ${area.length} bytes is shorter than ${maxHosts} sectors of ${sectorSize}`);
    const bytes = Buffer.from(area.buffer, area.byteOffset, area.byteLength);
    const changedAt: number[] = [];
    let runStart = -1; // first sector of the current run of sectors with no copy
    for (let i = 0; i < maxHosts; i++) {
      const before = this.previous.get(i);
      if (before === undefined) {
        if (runStart < 0) runStart = i;
        continue;
      }
      if (runStart >= 0) this.zeroRunChanges(bytes, runStart, i, changedAt);
      runStart = -1;
      const at = i * sectorSize;
      if (bytes.compare(before, 0, OBSERVED_SECTOR_BYTES, at, at + OBSERVED_SECTOR_BYTES) !== 0) changedAt.push(i);
    }
    if (runStart >= 0) this.zeroRunChanges(bytes, runStart, maxHosts, changedAt);
    const records = changedAt.map((i) => observedRecordAt(area, i * sectorSize, sectorSize, i + 1, this.spaceName, this.ourHostId));
    for (const i of changedAt) {
      const sector = bytes.subarray(i * sectorSize, i * sectorSize + OBSERVED_SECTOR_BYTES);
      if (sector.equals(ZERO_SECTOR)) this.previous.delete(i);
      else this.previous.set(i, Buffer.from(sector));
    }
    return records;
  }

  /**
   * Appends, in order, the sectors in [from, to) whose observed bytes are no longer zero (all of
   * them were zero at the previous read). A whole-sector range that is still zero has none; with
   * 4 KiB sectors a non-zero byte past a sector's first 512 may make a range look changed, and
   * the single-sector check then finds no change.
   */
  private zeroRunChanges(bytes: Buffer, from: number, to: number, out: number[]): void {
    const { sectorSize } = this.shape;
    if (isZero(bytes, from * sectorSize, to * sectorSize)) return;
    if (to - from === 1) {
      if (!isZero(bytes, from * sectorSize, from * sectorSize + OBSERVED_SECTOR_BYTES)) out.push(from);
      return;
    }
    const middle = (from + to) >>> 1;
    this.zeroRunChanges(bytes, from, middle, out);
    this.zeroRunChanges(bytes, middle, to, out);
  }
}

/** Whether bytes[start, end) are all zero. */
function isZero(bytes: Buffer, start: number, end: number): boolean {
  for (let at = start; at < end; at += ZERO_CHUNK.length) {
    const stop = Math.min(end, at + ZERO_CHUNK.length);
    if (bytes.compare(ZERO_CHUNK, 0, stop - at, at, stop) !== 0) return false;
  }
  return true;
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
