// The progress rule of the simulator: a release that returned success must leave the resource
// acquirable by others, on disk, at once. Safety checks alone cannot see a release that frees
// nothing (the lease then stays with its last owner until that host dies), so a core that never
// writes the leader release or the RELEASED dblock would pass them.
//
// What "acquirable" means is what an acquirer's owner check accepts without waiting (docs/algorithms.md §4.4,
// docs/algorithms.md §4.8): the leader is free (timestamp 0), or names another owner, generation or version, or it
// still names us but was written by another host and our dblock carries RELEASED (the case where
// a contender committed our value after we released, sanlock's "owner dblock released").
// A shared hold is released when our mode block no longer marks us shared in our generation (docs/algorithms.md §5.3).

import { readDblockFields, DBLOCK_FL_RELEASED } from "../ondisk/dblock.js";
import { readLeaderFields } from "../ondisk/leader-record.js";
import { decodeModeBlock, MBLOCK_OFFSET, MBLOCK_SHARED } from "../ondisk/mode-block.js";
import type { SharedDisk } from "./shared-disk.js";

export interface ReleasedHold {
  readonly offset: number;
  /** The areas of the resource's other disks (docs/algorithms.md §4.11); none for one disk. */
  readonly replicas?: readonly number[];
  readonly hostId: number;
  readonly generation: bigint;
  readonly lver: bigint;
  readonly mode: "exclusive" | "shared";
}

/** Undefined when the disk shows the hold released; otherwise what still holds it. */
export function releaseLeftBehind(disk: SharedDisk, hold: ReleasedHold): string | undefined {
  const ss = disk.sectorSize;
  const slot = disk.snapshot(hold.offset + (hold.hostId + 1) * ss, ss);
  if (hold.mode === "shared") {
    const mode = decodeModeBlock(slot, MBLOCK_OFFSET);
    const marked = (mode.flags & MBLOCK_SHARED) !== 0 && mode.generation === hold.generation;
    return marked ? `our mode block still marks host_id ${hold.hostId} gen ${hold.generation} shared` : undefined;
  }
  const leader = readLeaderFields(disk.snapshot(hold.offset, ss));
  if (leader.timestamp === 0n) return undefined;
  if (leader.ownerId !== hold.hostId || leader.ownerGeneration !== hold.generation || leader.lver !== hold.lver) return undefined;
  if (leader.writeId !== BigInt(hold.hostId) && (readDblockFields(slot).flags & DBLOCK_FL_RELEASED) !== 0) return undefined;
  return `leader v${leader.lver} still names host_id ${hold.hostId} gen ${hold.generation} (written by ${leader.writeId}, timestamp ${leader.timestamp})`;
}

/**
 * For a resource on several disks a release writes a majority of them; an acquirer reads a
 * majority, so the hold is released once a majority of the disks show it released. Undefined when
 * they do; otherwise what the disks that still hold it show.
 */
export function releaseLeftBehindOnMajority(disk: SharedDisk, hold: ReleasedHold): string | undefined {
  const offsets = [hold.offset, ...(hold.replicas ?? [])];
  const left = offsets.map((offset) => releaseLeftBehind(disk, { ...hold, offset }));
  const released = left.filter((l) => l === undefined).length;
  if (released * 2 > offsets.length) return undefined;
  return left
    .map((l, i) => (l === undefined ? undefined : `disk ${i + 1}: ${l}`))
    .filter((l) => l !== undefined)
    .join("; ");
}
