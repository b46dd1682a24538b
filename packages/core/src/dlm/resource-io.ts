// Every I/O of the DLM engine on one resource area (docs/dlm.md §5.5-§5.7, §6): the first look at
// our own sector, the view read, the slot write (never two in flight, rule O6), and the mutex —
// sanlock's exclusive paxos acquire and leader release, whose every write of our sector carries
// our slot through PaxosDisk's carrier (rule O1).
import type { BlockDevice } from "../block-device.js";
import type { Clock, Random } from "../clock.js";
import type { HostLiveness } from "../host-status.js";
import { readParsed } from "../lease-io.js";
import { LeaseError, isLeaseError } from "../lease-errors.js";
import { DBLOCK_FL_RELEASED, type Dblock, emptyDblock, readDblockFields } from "../ondisk/dblock.js";
import type { Geometry } from "../ondisk/geometry.js";
import { emptyModeBlock } from "../ondisk/mode-block.js";
import { AcquireError, type LeaderAcquired, acquireLeader, releaseLeader } from "../paxos-acquire.js";
import { PaxosDisk, nextPowerOfTwo } from "../paxos-disk.js";
import type { DeltaRecordView } from "../paxos-owner.js";
import type { DlmResource } from "./resource.js";
import { SLOT_OFFSET_IN_SECTOR, type SlotRecord, decodeSlot, encodeSlot } from "./slot-record.js";
import { type ResourceView, parseView } from "./view.js";

/** What the resource I/O needs from the engine. */
export interface ResourceIoContext {
  readonly lockspace: string;
  readonly hostId: number;
  readonly generation: bigint;
  readonly ioTimeout: number;
  readonly clock: Clock;
  readonly random: Random;
  readonly liveness: HostLiveness;
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  readonly device: BlockDevice;
  readonly geometry: Geometry;
  /** Planted bug (simulator only): ballot writes carry a zero slot. */
  readonly zeroSlotInBallots: boolean;
}

/** Where a resource's lease area is and its sanlock name. */
export interface ResourceArea {
  readonly sanlockName: string;
  readonly offset: number;
  /** Its rindex entry: host records name resources by it (docs/dlm.md §4.3). */
  readonly index?: number;
}

/** Attempts of one slot write (each after the previous settled) before the round gives up. */
const SLOT_WRITE_ATTEMPTS = 4;

/** Creates the PaxosDisk of a resource, carrying the last attempted slot in every write of our sector. */
export function openDisk(ctx: ResourceIoContext, res: DlmResource, area: ResourceArea): PaxosDisk {
  const disk = new PaxosDisk(
    ctx.lockspace,
    { resource: area.sanlockName, device: ctx.device, offset: area.offset, geometry: ctx.geometry },
    ctx.hostId,
    ctx.ioTimeout,
    ctx.clock,
  );
  let inBallot = false;
  disk.carrier = {
    carried: () => ({ offset: SLOT_OFFSET_IN_SECTOR, bytes: inBallot && ctx.zeroSlotInBallots ? new Uint8Array(256) : res.attemptedBytes }),
  };
  ballotMarkers.set(disk, (on) => {
    inBallot = on;
  });
  return disk;
}

const ballotMarkers = new WeakMap<PaxosDisk, (on: boolean) => void>();

function diskOf(res: DlmResource): PaxosDisk {
  if (!res.disk) throw new LeaseError("ERROR", "DLM resource used before it was opened");
  return res.disk;
}

/**
 * First use of a resource in this generation: our own sector as on disk gives the dblock later
 * writes keep, and a slot of our previous generation hands its LVB over (docs/dlm.md §5.5 step 5).
 * One sector read (plus sanlock's geometry read).
 */
export async function readOwnSector(ctx: ResourceIoContext, res: DlmResource): Promise<{ dblock: Dblock; slot: SlotRecord | undefined }> {
  const disk = diskOf(res);
  if (!(await disk.settleOwnWrites(ctx.ioTimeout))) throw new LeaseError("AIO_TIMEOUT", "our earlier dblock write is still in flight");
  const bytes = await disk.readSector(ctx.hostId + 1, `dblock ${ctx.hostId} read`);
  const dblock = readDblockFields(bytes, 0);
  let slot: SlotRecord | undefined;
  try {
    slot = decodeSlot(bytes, SLOT_OFFSET_IN_SECTOR);
  } catch {
    slot = undefined; // our own unreadable slot: rewritten at the next write
  }
  return { dblock: dblock.mbal === 0n && dblock.lver === 0n ? emptyDblock() : dblock, slot };
}

/** docs/dlm.md §5.5 step 1: sectors 0..P−1 of the area, P = num_hosts+2 rounded up to a power of two. */
export async function readView(ctx: ResourceIoContext, res: DlmResource, numHosts: number): Promise<ResourceView> {
  const disk = diskOf(res);
  const { sectorSize, sectorsPerArea } = ctx.geometry;
  const sectors = Math.min(nextPowerOfTwo(numHosts + 2), sectorsPerArea);
  return readParsed({ device: ctx.device, clock: ctx.clock }, disk.location.offset, sectors * sectorSize, ctx.ioTimeout, "DLM view read", "DBLOCK_READ", (b) =>
    parseView(b, sectorSize),
  );
}

/**
 * Writes our sector = `dblock` + the slot our state implies, at most one write in flight (O6):
 * each attempt waits until earlier writes settled. true when a write completed; false when every
 * attempt failed (what is on disk is then one of the attempted slots or the earlier one).
 * `compose` is called per attempt, so local changes made meanwhile are included.
 */
export async function writeSlot(ctx: ResourceIoContext, res: DlmResource, dblock: Dblock, compose: () => SlotRecord): Promise<boolean> {
  const disk = diskOf(res);
  for (let attempt = 0; attempt < SLOT_WRITE_ATTEMPTS; attempt++) {
    if (!(await disk.settleOwnWrites(ctx.ioTimeout * 2))) continue;
    res.writeSeq++;
    const slot = compose();
    res.attempted = slot;
    res.attemptedBytes = encodeSlot(slot);
    res.possibleGrmodes = [...res.possibleGrmodes, slot.grmode].slice(-8);
    res.lastDblock = dblock;
    try {
      await disk.writeOwnSlot(dblock, emptyModeBlock());
      res.possibleGrmodes = [slot.grmode];
      return true;
    } catch {
      // outcome unknown: both the earlier and this slot may be on disk (possibleGrmodes keeps both)
    }
  }
  return false;
}

/** Waits until no write of our sector is in flight; true when settled. */
export function settled(ctx: ResourceIoContext, res: DlmResource): Promise<boolean> {
  return diskOf(res).settleOwnWrites(ctx.ioTimeout * 2);
}

export type MutexOutcome =
  | { kind: "held"; acquired: LeaderAcquired }
  | { kind: "busy"; wait: "short" | "owner-maybe-dead" }
  | { kind: "failed"; error: unknown };

/**
 * docs/dlm.md §5.5 step 3: exclusive paxos acquire with OWNER_NOWAIT, committed with
 * LFL_SHORT_HOLD. Every ballot write carries our current slot (O1, through the carrier).
 */
export async function acquireMutex(ctx: ResourceIoContext, res: DlmResource): Promise<MutexOutcome> {
  const disk = diskOf(res);
  const mark = ballotMarkers.get(disk);
  mark?.(true);
  try {
    const acquired = await acquireLeader({
      disk,
      clock: ctx.clock,
      random: ctx.random,
      liveness: ctx.liveness,
      readDeltaRecord: (id) => ctx.readDeltaRecord(id),
      hostId: ctx.hostId,
      generation: ctx.generation,
      ioTimeout: ctx.ioTimeout,
      shared: true,
      requiredLver: undefined,
      numHosts: undefined,
      ownerNoWait: true,
      mode: emptyModeBlock(),
      variant: "none",
    });
    res.lastDblock = acquired.dblock;
    return { kind: "held", acquired };
  } catch (error) {
    // What our sector holds now: the retraction's dblock, or unknown (read before the next write).
    res.lastDblock =
      error instanceof AcquireError && error.retraction ? { ...error.retraction.dblock, flags: error.retraction.dblock.flags | DBLOCK_FL_RELEASED } : undefined;
    if (isLeaseError(error, "ACQUIRE_OWNED_RETRY")) return { kind: "busy", wait: "owner-maybe-dead" };
    if (isLeaseError(error, "ACQUIRE_IDLIVE") || isLeaseError(error, "ACQUIRE_OWNED") || isLeaseError(error, "ACQUIRE_OTHER"))
      return { kind: "busy", wait: "short" };
    return { kind: "failed", error };
  } finally {
    mark?.(false);
  }
}

/** docs/dlm.md §5.5 step 7: free the leader (read, then write free), best effort. */
export async function releaseMutex(ctx: ResourceIoContext, res: DlmResource, acquired: LeaderAcquired): Promise<void> {
  try {
    await releaseLeader(diskOf(res), ctx.clock, ctx.hostId, ctx.generation, acquired.leader);
  } catch {
    // left to the owner-gone rules: our dblock says RELEASED once the slot write landed
  }
}

/** Our dblock with RELEASED: the slot write of a round both records the grants and releases the ballot. */
export function releasedDblock(d: Dblock): Dblock {
  return { ...d, flags: d.flags | DBLOCK_FL_RELEASED };
}
