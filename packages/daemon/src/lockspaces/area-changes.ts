/**
 * A renewal read (docs/algorithms.md §3.2) handed from the renewal worker to the main thread's
 * host status table as changes: the worker sends only the host records that changed since the
 * read it sent before, and the main thread's table observes them as a whole read
 * (HostStatusTable.observeChanges: every other record as it was). The host status semantics
 * (docs/algorithms.md §3.2 steps 2-5) are those of observing the full read, while neither thread
 * decodes, copies or keeps the unchanged records (nearly all of them) each renewal.
 *
 * An ObservedRecord is decoded from the leader record (docs/ondisk.md §4) and the observer's byte
 * of the host bitmap at 256..511 (docs/ondisk.md §5), so those bytes are what the worker compares.
 * Both sides start from "every sector zero", the record an all-zero sector decodes to.
 */
import { DEFAULT_MAX_HOSTS, LEADER_RECORD_SIZE, MAX_HOST_ID, hostBitByte, nameCompareBytes, observedRecordAt, type ObservedRecord } from "@sanlock-ts/core";

export interface AreaShape {
  readonly sectorSize: number;
  readonly maxHosts: number;
}

function checkShape(shape: AreaShape): void {
  if (shape.sectorSize !== 512 && shape.sectorSize !== 4096) throw new RangeError(`sector size ${shape.sectorSize} is neither 512 nor 4096`);
  if (!Number.isInteger(shape.maxHosts) || shape.maxHosts < 1 || shape.maxHosts > DEFAULT_MAX_HOSTS) {
    throw new RangeError(`max_hosts ${shape.maxHosts} outside 1..${DEFAULT_MAX_HOSTS}`);
  }
}

/** 32-bit words of a leader record, the first of the two parts an ObservedRecord is decoded from. */
const LEADER_WORDS = LEADER_RECORD_SIZE / 4;
/** Words kept per host: the leader record's, then the bitmap byte holding our bit. */
const KEPT_WORDS = LEADER_WORDS + 1;

/** The kept bytes of an all-zero sector: where every host starts. Never written. */
const ZERO_KEPT = new Int32Array(KEPT_WORDS);

/** True when `kept` holds the leader record's words at `words[at..]` and the bitmap byte `bit`. */
function keptEquals(kept: Int32Array, words: Int32Array, at: number, bit: number): boolean {
  if (kept[LEADER_WORDS] !== bit) return false;
  for (let w = 0; w < LEADER_WORDS; w++) if (words[at + w] !== kept[w]) return false;
  return true;
}

/**
 * Worker side: finds the records of a renewal read that differ from the previous read.
 *
 * An ObservedRecord is decoded from two parts of a sector only (observedRecordAt): the leader
 * record (bytes 0..199, docs/ondisk.md §4) and the bitmap byte that holds the observer's bit
 * (docs/ondisk.md §5.5). The tracker keeps exactly those bytes of every host (KEPT_WORDS words)
 * and reports a host when either part changed: a change anywhere else in the sector cannot
 * change its record.
 *
 * Memory: sanlock initializes every sector of an area with the same free record (delta lease
 * init: magic, version, sector size, io_timeout, the lockspace name, timestamp 0, no owner), so
 * nearly every host has such bytes, and nearly all of them are the same bytes. Each host's kept
 * bytes are an immutable array, shared with the host before it when equal (a run of free
 * sectors shares one array): a few KB per lockspace instead of 408 KB (2,000 hosts, 26 MiB for
 * 64 lockspaces). The compare is the same word loop either way.
 */
export class AreaChangeTracker {
  /** Per host (host 1 first) its kept bytes; arrays are replaced, never written, so hosts may share one. */
  private readonly kept: Int32Array[];
  private readonly spaceName: Uint8Array;
  /** Offset in a sector of the bitmap byte holding our bit. */
  private readonly ourBitByte: number;

  constructor(
    private readonly shape: AreaShape,
    lockspace: string,
    private readonly ourHostId: number,
  ) {
    checkShape(shape);
    if (!Number.isInteger(ourHostId) || ourHostId < 1 || ourHostId > MAX_HOST_ID) throw new RangeError(`host_id ${ourHostId} outside 1..${MAX_HOST_ID}`);
    this.spaceName = nameCompareBytes(lockspace);
    this.kept = new Array<Int32Array>(shape.maxHosts).fill(ZERO_KEPT);
    this.ourBitByte = hostBitByte(ourHostId);
  }

  /**
   * The changed records of `area` (a whole-area read), host 1 first. All changed records are
   * decoded before the kept bytes are updated: a record that cannot be decoded throws and leaves
   * the tracker as it was, so the next read reports the change again.
   */
  changes(area: Uint8Array): ObservedRecord[] {
    const { sectorSize, maxHosts } = this.shape;
    if (area.length < sectorSize * maxHosts) throw new RangeError(`area read of ${area.length} bytes is shorter than ${maxHosts} sectors of ${sectorSize}`);
    // Device buffers are page-aligned; a caller's unaligned array is copied once to read words.
    const bytes = area.byteOffset % 4 === 0 ? area : area.slice();
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, (sectorSize * maxHosts) >> 2);
    const kept = this.kept;
    const bitByte = this.ourBitByte;
    const sectorWords = sectorSize >> 2;
    const changedAt: number[] = [];
    for (let i = 0; i < maxHosts; i++) {
      if (!keptEquals(kept[i]!, words, i * sectorWords, bytes[i * sectorSize + bitByte]!)) changedAt.push(i);
    }
    const records = changedAt.map((i) => observedRecordAt(bytes, i * sectorSize, sectorSize, i + 1, this.spaceName, this.ourHostId));
    for (const i of changedAt) kept[i] = this.keptBytes(words, bytes, i);
    return records;
  }

  /** Host i's kept bytes from the read: the array of host i-1 (or the all-zero one) when equal, else a new one. */
  private keptBytes(words: Int32Array, bytes: Uint8Array, i: number): Int32Array {
    const at = i * (this.shape.sectorSize >> 2);
    const bit = bytes[i * this.shape.sectorSize + this.ourBitByte]!;
    for (const candidate of i > 0 ? [this.kept[i - 1]!, ZERO_KEPT] : [ZERO_KEPT]) {
      if (keptEquals(candidate, words, at, bit)) return candidate;
    }
    const own = new Int32Array(KEPT_WORDS);
    own.set(words.subarray(at, at + LEADER_WORDS));
    own[LEADER_WORDS] = bit;
    return own;
  }
}
