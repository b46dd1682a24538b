/**
 * What the Paxos algorithms need from a resource's lease storage: one area on one disk
 * (PaxosDisk) or the same area replicated on up to four disks (PaxosDiskSet, sanlock's
 * num_disks > 1, docs/algorithms.md §4.11). The algorithms (ballot, acquire, owner checks,
 * release, shared marks) are written once against this interface; only the disk set knows
 * about majorities.
 */
import type { BlockDevice } from "./block-device.js";
import type { Dblock } from "./ondisk/dblock.js";
import type { Geometry } from "./ondisk/geometry.js";
import type { LeaderRecord } from "./ondisk/leader-record.js";
import type { ModeBlock } from "./ondisk/mode-block.js";
import { assertInvariant } from "./errors.js";
import { MAX_DISKS } from "./limits.js";

/** Where one copy of a resource lease area lives. */
export interface DiskLocation {
  device: BlockDevice;
  /** Byte offset of the resource lease area on `device`. */
  offset: number;
  /**
   * Geometry the caller already knows (from the lockspace or an earlier read of this area). With
   * it the whole-area read needs no detection read first; it is checked against the leader's own
   * sector_size and alignment flag in that read and, when it differs, dropped (never trusted).
   */
  geometry?: Geometry;
}

export interface ResourceLocation extends DiskLocation {
  resource: string;
  /**
   * The resource's disks 2..N when it has more than one (sanlock's num_disks, at most 4): each
   * holds a full copy of the lease area, and every Paxos phase needs a majority of the disks
   * (docs/algorithms.md §4.11). The first disk is the location itself.
   */
  otherDisks?: readonly DiskLocation[];
}

/** One host's slot as read in a ballot or full read; `dblock` undefined when invalid. */
export interface HostSlot {
  hostId: number;
  dblock: Dblock | undefined;
  mode: ModeBlock;
}

export interface AreaSnapshot {
  leader: LeaderRecord;
  /**
   * Non-empty slots among host_ids 1..leader.numHosts, ascending host_id. Area reads list only
   * slots whose dblock and mode block are not all zero (a zero slot is one no step acts on).
   * A disk set lists the slots of every disk it read, disk by disk.
   */
  slots: HostSlot[];
}

export interface PaxosArea {
  readonly lockspace: string;
  /** The first disk (messages name it; the request record and the LVB live only there, as in sanlock). */
  readonly location: ResourceLocation;
  readonly hostId: number;
  readonly ioTimeout: number;
  /** Number of disks holding the area (1..MAX_DISKS). */
  readonly diskCount: number;
  /** Geometry confirmed by a read; throws before one. */
  readonly geometry: Geometry;
  detect(): Promise<Geometry>;
  /** The leader a read agrees on (every disk of a set is read; a majority must agree). */
  readLeader(): Promise<LeaderRecord>;
  /** Whole area: leader, and every dblock validated (docs/algorithms.md §4.3 step 1). */
  readFull(): Promise<AreaSnapshot>;
  /** Ballot read of sectors 0..P-1 (docs/algorithms.md §4.1); invalid dblocks are skipped. */
  readBallotSlots(numHosts: number): Promise<HostSlot[]>;
  /** One host's dblock sector. */
  readSlot(hostId: number): Promise<HostSlot>;
  writeOwnSlot(dblock: Dblock, mode?: ModeBlock): Promise<void>;
  writeSlot(hostId: number, dblock: Dblock, mode: ModeBlock): Promise<void>;
  /** The only write to another host's sector: all zeros (docs/algorithms.md §5.4). */
  zeroSlot(hostId: number): Promise<void>;
  writeLeader(leader: LeaderRecord): Promise<void>;
  /** A whole sector of the first disk (request record, LVB). */
  readSector(sector: number, what: string): Promise<Uint8Array>;
  writeSector(sector: number, data: Uint8Array, what: string): Promise<void>;
  /** Our own dblock writes of this resource still in flight (timed out, not yet settled). */
  readonly ownWritesInFlight: number;
  /** Wait at most `seconds` for our earlier dblock writes to settle; true when none is left. */
  settleOwnWrites(seconds: number): Promise<boolean>;
}

/** The disks of a location, first disk first; asserts the count sanlock accepts (1..4). */
export function disksOf(location: ResourceLocation): DiskLocation[] {
  const disks = [location, ...(location.otherDisks ?? [])];
  assertInvariant(disks.length >= 1 && disks.length <= MAX_DISKS, `a resource has 1..${MAX_DISKS} disks, not ${disks.length}`);
  return disks;
}

/**
 * sanlock's majority of `count` disks: more than half of them (2 of 3, 3 of 4, 1 of 1); half of an
 * even number is not a majority (no tie-breaker disk, docs/algorithms.md §4.11).
 */
export function isMajority(count: number, of: number): boolean {
  return of > 0 && count * 2 > of;
}
