/**
 * The watcher's view of delta records straight from a renewal read (algorithms.md §3.2,
 * ondisk.md §4-§5): the full per-host view for a record that changed, and the raw words of
 * (owner_id, owner_generation, timestamp) that tell "unchanged" without decoding anything.
 */
import { testHostBit } from "./ondisk/host-bitmap.js";
import { DELTA_DISK_MAGIC, LeaderOffsets, readLeaderFields } from "./ondisk/leader-record.js";
import { nameFieldEquals } from "./ondisk/names.js";

/** What the watcher needs from one delta record as read from disk. */
export interface ObservedRecord {
  hostId: number;
  /** magic and lockspace name are right (docs/algorithms.md §3.2 step 2). */
  valid: boolean;
  ownerId: number;
  ownerGeneration: bigint;
  /** Remote monotonic seconds; only compared for equality and zero (docs/algorithms.md §1.1.3). */
  timestamp: bigint;
  ioTimeout: number;
  hostName: string;
  /** The observer's bit is set in this record's bitmap. */
  ourBitSet: boolean;
  /** Event fields: write_id (target generation), write_generation (event), write_timestamp (data). */
  eventGeneration: bigint;
  eventNumber: bigint;
  eventData: bigint;
}

/** u32 words per host key: owner_id, owner_generation, timestamp, each u64 as (low, high). */
export const RECORD_KEY_WORDS = 6;

/** Largest high word of a u64 that still fits a JS number (2^53 - 1). */
const SAFE_HIGH_WORD = 0x1fffff;

/**
 * The per-host view of the record at `area[at, at+sectorSize)` (§3.2 step 2): valid = delta magic
 * and our lockspace name (raw strncmp of the 48-byte field, as sanlock compares); no checksum.
 * Throws ERR_DISK_FIELD_RANGE for host-count fields above 2^53-1 (readLeaderFields).
 */
export function observedRecordAt(area: Uint8Array, at: number, sectorSize: number, hostId: number, spaceName: Uint8Array, ourHostId: number): ObservedRecord {
  const sector = area.subarray(at, at + sectorSize);
  // Another host's record is only observed, never trusted: garbage in it (a torn or random
  // sector) must not fail our renewal read. num_hosts/max_hosts are not used here, and an
  // owner_id above 2^53 (read inexactly) still differs from every host_id, so values out of a
  // JS number's range are read leniently instead of throwing (sanlock reads them as u64; a
  // random record of host 2 made our join fail with -201 where sanlock joins and lists host 2).
  const rec = readLeaderFields(sector, 0, at, () => undefined);
  return {
    hostId,
    valid: rec.magic === DELTA_DISK_MAGIC && nameFieldEquals(sector, LeaderOffsets.spaceName, spaceName),
    ownerId: rec.ownerId,
    ownerGeneration: rec.ownerGeneration,
    timestamp: rec.timestamp,
    ioTimeout: rec.ioTimeout,
    hostName: rec.resourceName,
    ourBitSet: testHostBit(sector, ourHostId),
    eventGeneration: rec.writeId,
    eventNumber: rec.writeGeneration,
    eventData: rec.writeTimestamp,
  };
}

/**
 * True when the record at byte `at` of `view` has exactly the (owner_id, owner_generation,
 * timestamp) stored in keys[index*6 ..] and its u64 host-count fields fit a JS number (so that
 * decoding it could not have failed either).
 */
export function recordMatchesKey(view: DataView, at: number, keys: Uint32Array, index: number): boolean {
  const k = index * RECORD_KEY_WORDS;
  return (
    view.getUint32(at + LeaderOffsets.timestamp, true) === keys[k + 4] &&
    view.getUint32(at + LeaderOffsets.timestamp + 4, true) === keys[k + 5] &&
    view.getUint32(at + LeaderOffsets.ownerId, true) === keys[k] &&
    view.getUint32(at + LeaderOffsets.ownerId + 4, true) === keys[k + 1] &&
    view.getUint32(at + LeaderOffsets.ownerGeneration, true) === keys[k + 2] &&
    view.getUint32(at + LeaderOffsets.ownerGeneration + 4, true) === keys[k + 3] &&
    view.getUint32(at + LeaderOffsets.numHosts + 4, true) <= SAFE_HIGH_WORD &&
    view.getUint32(at + LeaderOffsets.maxHosts + 4, true) <= SAFE_HIGH_WORD
  );
}

/** Store (ownerId, ownerGeneration, timestamp) as the words recordMatchesKey compares. */
export function storeKey(keys: Uint32Array, index: number, ownerId: number, ownerGeneration: bigint, timestamp: bigint): void {
  const k = index * RECORD_KEY_WORDS;
  keys[k] = ownerId % 0x100000000;
  keys[k + 1] = Math.floor(ownerId / 0x100000000);
  keys[k + 2] = Number(ownerGeneration & 0xffffffffn);
  keys[k + 3] = Number(ownerGeneration >> 32n);
  keys[k + 4] = Number(timestamp & 0xffffffffn);
  keys[k + 5] = Number(timestamp >> 32n);
}
