/**
 * Shared-holder check after an exclusive ballot (algorithms.md §5.4): every host
 * noted with a shared mark is re-read; dead holders' sectors are zeroed, live
 * ones make the exclusive acquire fail with "try again".
 */
import type { HostLiveness } from "./host-status.js";
import { MBLOCK_SHARED } from "./ondisk/mode-block.js";
import type { PaxosDisk } from "./paxos-disk.js";
import type { BrokenVariant } from "./variants.js";

export interface SharedCheckResult {
  /** Holders still considered alive (host_id list). */
  live: number[];
  /** Holders found dead whose sectors were zeroed. */
  cleared: number[];
}

/** §5.4 step 1 for every noted holder other than ourselves. Read/write errors propagate. */
export async function checkSharedHolders(
  disk: PaxosDisk, liveness: HostLiveness, ourHostId: number, noted: ReadonlyMap<number, bigint>, variant: BrokenVariant,
): Promise<SharedCheckResult> {
  const result: SharedCheckResult = { live: [], cleared: [] };
  if (variant === "ignore-shared-holders") return result;
  for (const hostId of [...noted.keys()].sort((a, b) => a - b)) {
    if (hostId === ourHostId) continue;
    const slot = await disk.readSlot(hostId);
    if (!(slot.mode.flags & MBLOCK_SHARED) || slot.mode.generation === 0n) continue;
    if (liveness.isSharedHolderAlive(hostId, slot.mode.generation)) {
      result.live.push(hostId);
      continue;
    }
    // The only write to another host's sector: its instance is dead, so its mark is stale.
    await disk.zeroSlot(hostId);
    result.cleared.push(hostId);
  }
  return result;
}
