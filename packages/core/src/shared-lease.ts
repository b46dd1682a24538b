/**
 * Shared-holder check after an exclusive ballot (docs/algorithms.md §5.4): every host
 * noted with a shared mark is re-read; dead holders' sectors are zeroed, live
 * ones make the exclusive acquire fail with "try again".
 */
import type { HostLiveness } from "./host-status.js";
import { MBLOCK_SHARED } from "./ondisk/mode-block.js";
import type { PaxosArea } from "./paxos-area.js";
import type { DeltaRecordView } from "./paxos-owner.js";
import type { BrokenVariant } from "./variants.js";

export interface SharedCheckInput {
  disk: PaxosArea;
  /** Local watcher's view (docs/algorithms.md §3.4 host_live). */
  liveness: HostLiveness;
  /** Direct read of a host's delta record (docs/algorithms.md §8.4 item 13). */
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  ourHostId: number;
  /** Holders noted in phase 1 (host_id → mode-block generation). */
  noted: ReadonlyMap<number, bigint>;
  variant: BrokenVariant;
}

export interface SharedCheckResult {
  /** Holders still considered alive (host_id list). */
  live: number[];
  /** Holders found dead whose sectors were zeroed. */
  cleared: number[];
}

/** docs/algorithms.md §5.4 step 1 for every noted holder other than ourselves. Read/write errors propagate. */
export async function checkSharedHolders(input: SharedCheckInput): Promise<SharedCheckResult> {
  const { disk, liveness } = input;
  const result: SharedCheckResult = { live: [], cleared: [] };
  if (input.variant === "ignore-shared-holders") return result;
  for (const hostId of [...input.noted.keys()].sort((a, b) => a - b)) {
    if (hostId === input.ourHostId) continue;
    const slot = await disk.readSlot(hostId);
    if (!(slot.mode.flags & MBLOCK_SHARED) || slot.mode.generation === 0n) continue;
    if (liveness.isSharedHolderAlive(hostId, slot.mode.generation) || (await renewedSinceWatched(input, hostId, slot.mode.generation))) {
      result.live.push(hostId);
      continue;
    }
    // The only write to another host's sector: its instance is dead, so its mark is stale.
    await disk.zeroSlot(hostId);
    result.cleared.push(hostId);
  }
  return result;
}

/**
 * Stricter than sanlock (docs/algorithms.md §8.4 item 13): host_live judges from the watcher's stored view only,
 * which can be stale (renewal reads failing, or the holder joined after our last examination so
 * the stored timestamp is still 0). Before clearing a mark we read the holder's record: a record
 * that is not free, not of a newer instance, and differs from what the watcher stored shows the
 * holder renewed (or joined) since — it is treated as alive. A failed read fails the acquire (docs/algorithms.md §5.4).
 */
async function renewedSinceWatched(input: SharedCheckInput, hostId: number, markGeneration: bigint): Promise<boolean> {
  const record = await input.readDeltaRecord(hostId);
  if (record.timestamp === 0n) return false; // host_id free now: the holder left (docs/algorithms.md §7.11 rule 6)
  if (record.ownerGeneration > markGeneration) return false; // rejoined since: the marked instance is gone (docs/algorithms.md §2.6)
  // The watcher judged with the io_timeout it knew (ours if none): judge again with the holder's own.
  if (record.ioTimeout !== 0 && input.liveness.isSharedHolderAlive(hostId, markGeneration, record.ioTimeout)) return true;
  const stored = input.liveness.snapshot(hostId);
  if (stored === undefined) return true; // never examined: host_live says alive anyway
  return record.timestamp !== stored.timestamp || record.ownerGeneration !== stored.ownerGeneration;
}
