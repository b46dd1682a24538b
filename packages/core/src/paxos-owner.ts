/**
 * Deciding whether a resource's current owner is gone (docs/algorithms.md §4.4).
 * The owner's delta record is read directly every second; it is gone only when
 * its host_id is free, taken over, at a newer generation, or unchanged for
 * host_dead_seconds of the owner's io_timeout measured on our clock.
 */
import { nowSeconds, type Clock } from "./clock.js";
import type { HostLiveness } from "./host-status.js";
import { LeaseError } from "./lease-errors.js";
import { DBLOCK_FL_RELEASED } from "./ondisk/dblock.js";
import type { LeaderRecord } from "./ondisk/leader-record.js";
import type { PaxosArea } from "./paxos-area.js";
import { leadersEqual } from "./paxos-disk.js";
import { effectiveIoTimeout, hostDeadSeconds } from "./timeouts.js";
import type { BrokenVariant } from "./variants.js";

/** The parts of a delta record the owner-gone check needs. */
export interface DeltaRecordView {
  ownerId: number;
  ownerGeneration: bigint;
  timestamp: bigint;
  ioTimeout: number;
}

export interface OwnerCheckInput {
  disk: PaxosArea;
  clock: Clock;
  liveness: HostLiveness;
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  ownIoTimeout: number;
  ownerNoWait: boolean;
  variant: BrokenVariant;
  signal?: AbortSignal | undefined;
}

export type OwnerVerdict = "gone" | "restart";

/** Upper bound on one-second polls: the longest host_dead_seconds (io_timeout 255) plus slack. */
const MAX_OWNER_POLLS = 8 * 255 + 60 + 60;

/** docs/algorithms.md §4.4. Resolves "gone" or "restart"; throws IDLIVE (-243) or OWNED_RETRY (-247). */
export async function decideOwnerGone(cur: LeaderRecord, input: OwnerCheckInput): Promise<OwnerVerdict> {
  const owner = cur.ownerId;
  const ownerGen = cur.ownerGeneration;
  const snap = input.liveness.snapshot(owner);
  // Step 1: continue waiting from when our watcher last saw the owner change, if it is the same instance.
  const known = snap !== undefined && snap.lastLive !== 0 && snap.ownerId === owner && snap.ownerGeneration === ownerGen;
  const waitStart = known ? snap.lastLive : nowSeconds(input.clock);
  let lastTs: bigint | undefined = known ? snap.timestamp : undefined;
  const recentlyLive = snap !== undefined && snap.lastLive !== 0 && snap.lastCheck === snap.lastLive;
  // The watcher's io_timeout counts only if the snapshot is of this owner instance.
  const watchedIo = known ? snap.ioTimeout : 0;
  for (let poll = 0; poll < MAX_OWNER_POLLS; poll++) {
    const rec = await input.readDeltaRecord(owner);
    // Steps 2-3: the owning instance no longer exists.
    if (rec.timestamp === 0n) return "gone";
    const newerInstance = input.variant === "ignore-owner-generation" ? rec.ownerGeneration !== ownerGen : rec.ownerGeneration > ownerGen;
    if (rec.ownerId !== owner || newerInstance) return "gone";
    if (lastTs !== undefined) {
      // Step 5: it renewed (or was just seen renewing): alive, unless it released and someone else wrote the leader.
      if (rec.timestamp !== lastTs || recentlyLive) {
        if (cur.writeId !== BigInt(owner) && (await ownerReleased(input.disk, owner))) return "gone";
        throw new LeaseError("ACQUIRE_IDLIVE", `resource ${input.disk.location.resource}: owner host_id ${owner} generation ${ownerGen} is alive`);
      }
      // Step 6: unchanged for host_dead_seconds of the owner's io_timeout: its watchdog has fired.
      const deadAfter = hostDeadSeconds(ownerIoTimeout(rec.ioTimeout, watchedIo, input.ownIoTimeout));
      if (input.variant === "no-dead-wait" || nowSeconds(input.clock) - waitStart > deadAfter) return "gone";
      if (input.ownerNoWait) {
        throw new LeaseError("ACQUIRE_OWNED_RETRY", `resource ${input.disk.location.resource}: owner host_id ${owner} not yet known dead`);
      }
    } else {
      lastTs = rec.timestamp;
    }
    // Step 7: wait, then restart the acquire if the leader changed meanwhile.
    await input.clock.sleep(1, input.signal);
    const now = await input.disk.readLeader();
    if (!leadersEqual(now, cur)) return "restart";
  }
  throw new LeaseError("ACQUIRE_IDLIVE", `resource ${input.disk.location.resource}: owner check exceeded ${MAX_OWNER_POLLS} polls`);
}

/**
 * The owner's io_timeout paces its watchdog, so the dead-wait is 8·(its io_timeout) + 60.
 * Deviation from sanlock 3.8.5 (docs/deviations.md D1): sanlock takes it from the watcher's
 * host_status only and uses our own io_timeout when the watcher has none yet (soon after a join,
 * a restart, a host_id reuse). An owner with a longer io_timeout than ours could then lose its
 * lease before its watchdog fired. We use the io_timeout the owner wrote in the delta record just
 * read (the same instance: owner and generation were checked) and the larger of it and the
 * watcher's; our own only if both are 0 (docs/algorithms.md §1.4). A longer wait is always safe.
 */
export function ownerIoTimeout(recordIo: number, watchedIo: number, ownIo: number): number {
  return effectiveIoTimeout(Math.max(recordIo, watchedIo), ownIo);
}

async function ownerReleased(disk: PaxosArea, owner: number): Promise<boolean> {
  try {
    const slot = await disk.readSlot(owner);
    return slot.dblock !== undefined && (slot.dblock.flags & DBLOCK_FL_RELEASED) !== 0;
  } catch {
    return false; // sanlock treats a failed read as "not released"
  }
}
