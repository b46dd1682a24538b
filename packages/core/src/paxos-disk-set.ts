/**
 * A resource lease area replicated on 2..4 disks (sanlock's num_disks > 1, docs/algorithms.md
 * §4.11). Disk Paxos proper: every phase writes our block to each disk and reads each disk, and
 * completes when a majority of the disks answered; a leader counts only when a majority of the
 * disks hold the same one. Each disk is a PaxosDisk (its own geometry, its own own-write
 * tracking); this class only counts.
 *
 * The disks are written and read concurrently where sanlock goes through them one after the
 * other: the I/O per disk and its order on that disk are the same (our write before our read, and
 * every write of a phase settled or timed out before the phase's reads start), so what each
 * disk sees is what sanlock's order gives; only the wall time differs (a stalled disk costs one
 * io_timeout per phase, not one per disk).
 */
import type { Clock } from "./clock.js";
import { LeaseError, isLeaseError, type SanlockResultName } from "./lease-errors.js";
import type { Dblock } from "./ondisk/dblock.js";
import type { Geometry } from "./ondisk/geometry.js";
import type { LeaderRecord } from "./ondisk/leader-record.js";
import { MBLOCK_SHARED, emptyModeBlock, type ModeBlock } from "./ondisk/mode-block.js";
import { type AreaSnapshot, type HostSlot, type PaxosArea, type ResourceLocation, disksOf, isMajority } from "./paxos-area.js";
import { PaxosDisk, leadersEqual } from "./paxos-disk.js";
import type { BrokenVariant } from "./variants.js";

/** What one disk gave for one step. */
type DiskOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class PaxosDiskSet implements PaxosArea {
  readonly disks: readonly PaxosDisk[];

  constructor(
    readonly lockspace: string,
    readonly location: ResourceLocation,
    readonly hostId: number,
    readonly ioTimeout: number,
    clock: Clock,
    private readonly variant: BrokenVariant = "none",
  ) {
    this.disks = disksOf(location).map((disk) => new PaxosDisk(lockspace, { ...disk, resource: location.resource }, hostId, ioTimeout, clock));
  }

  get diskCount(): number {
    return this.disks.length;
  }

  /** The first confirmed geometry, disk order (sanlock takes the sector size from the first disk). */
  get geometry(): Geometry {
    for (const disk of this.disks) {
      const known = disk.knownGeometry;
      if (known) return known;
    }
    return this.disks[0]!.geometry;
  }

  private get name(): string {
    return `resource ${this.location.resource} (${this.disks.length} disks)`;
  }

  private majority(count: number): boolean {
    return isMajority(count, this.disks.length);
  }

  /** Run `step` on every disk at once; every outcome, in disk order. */
  private async eachDisk<T>(step: (disk: PaxosDisk) => Promise<T>): Promise<DiskOutcome<T>[]> {
    const settled = await Promise.allSettled(this.disks.map(step));
    return settled.map((s) => (s.status === "fulfilled" ? { ok: true, value: s.value } : { ok: false, error: s.reason }));
  }

  async detect(): Promise<Geometry> {
    const outcomes = await this.eachDisk((disk) => disk.detect());
    const found = successes(outcomes);
    if (!this.majority(found.length)) throw this.lastError(outcomes, "LEADER_READ", "geometry read");
    return found[0]!;
  }

  /**
   * sanlock's leader read for several disks: every disk's leader is read and validated; fewer
   * than a majority readable is -220 (LEADER_READ); no leader equal on a majority is -222
   * (LEADER_DIFF). The leader returned is the first, in disk order, that a majority holds.
   */
  async readLeader(): Promise<LeaderRecord> {
    const outcomes = await this.eachDisk((disk) => disk.readLeader());
    const leaders = successes(outcomes);
    if (!this.majority(leaders.length)) {
      throw new LeaseError("LEADER_READ", `${this.name}: leader readable on ${leaders.length}: ${describeErrors(outcomes)}`);
    }
    return this.agreedLeader(leaders);
  }

  /**
   * sanlock's first read of an acquire on several disks: each disk's whole area; one readable
   * disk is enough for the largest mbal (-210 DBLOCK_READ when none is), but the leader must be
   * the same on a majority of the disks (-222 otherwise). The slots are every read disk's.
   */
  async readFull(): Promise<AreaSnapshot> {
    const outcomes = await this.eachDisk((disk) => disk.readFull());
    const areas = successes(outcomes);
    if (areas.length === 0) throw new LeaseError("DBLOCK_READ", `${this.name}: no disk readable: ${describeErrors(outcomes)}`);
    const leader = this.agreedLeader(areas.map((area) => area.leader));
    return { leader, slots: areas.flatMap((area) => area.slots) };
  }

  /** The first leader, in disk order, that a majority of the disks hold (LEADER_DIFF when none is). */
  private agreedLeader(leaders: LeaderRecord[]): LeaderRecord {
    for (const candidate of leaders) {
      const copies = leaders.filter((other) => leadersEqual(candidate, other)).length;
      if (this.majority(copies)) return candidate;
    }
    throw new LeaseError("LEADER_DIFF", `${this.name}: no leader is the same on a majority of the disks`);
  }

  /**
   * Ballot read of every disk; a majority must be read (-210 DBLOCK_READ). Every slot of every read
   * disk is returned: the ballot aborts on a larger mbal or lver found on any of them, and picks
   * its value among all of them, as Disk Paxos requires.
   */
  async readBallotSlots(numHosts: number): Promise<HostSlot[]> {
    const outcomes = await this.eachDisk((disk) => disk.readBallotSlots(numHosts));
    const reads = successes(outcomes);
    if (!this.majority(reads.length)) {
      throw new LeaseError("DBLOCK_READ", `${this.name}: dblocks read on ${reads.length}: ${describeErrors(outcomes)}`);
    }
    return reads.flat();
  }

  /**
   * One host's dblock sector, from the first disk only, as sanlock reads it (the owner's RELEASED
   * flag, our own dblock, a shared holder's mode block). That is safe for shared marks only
   * because a mark is written to every disk (writeSlot): a disk that missed it fails the write.
   */
  readSlot(hostId: number): Promise<HostSlot> {
    return this.disks[0]!.readSlot(hostId);
  }

  writeOwnSlot(dblock: Dblock, mode: ModeBlock = emptyModeBlock()): Promise<void> {
    return this.writeSlot(this.hostId, dblock, mode);
  }

  /**
   * A dblock sector: a majority of the disks is enough for the dblock, but a sector that carries a
   * shared mark must reach every disk (sanlock's write_host_block stops at the first disk that
   * fails). The shared-holder check reads the first disk only: a mark missing there while other
   * disks hold it would let an exclusive acquire pass a live shared holder (the simulator found
   * this with a majority-written mark).
   */
  writeSlot(hostId: number, dblock: Dblock, mode: ModeBlock): Promise<void> {
    const what = `dblock ${hostId} write`;
    if (mode.flags & MBLOCK_SHARED && this.variant !== "majority-shared-mark")
      return this.writeAll(`${what} with a shared mark`, (disk) => disk.writeSlot(hostId, dblock, mode));
    return this.writeMajority(what, "DBLOCK_WRITE", (disk) => disk.writeSlot(hostId, dblock, mode));
  }

  zeroSlot(hostId: number): Promise<void> {
    return this.writeMajority(`dblock ${hostId} clear`, "DBLOCK_WRITE", (disk) => disk.zeroSlot(hostId));
  }

  /**
   * sanlock's new-leader write on several disks: done when a majority is written; otherwise -202
   * when any disk timed out, else that disk's error.
   */
  writeLeader(leader: LeaderRecord): Promise<void> {
    return this.writeMajority("leader write", "LEADER_WRITE", (disk) => disk.writeLeader(leader));
  }

  /** The request record and the LVB are on the first disk only, as in sanlock. */
  readSector(sector: number, what: string): Promise<Uint8Array> {
    return this.disks[0]!.readSector(sector, what);
  }

  writeSector(sector: number, data: Uint8Array, what: string): Promise<void> {
    return this.disks[0]!.writeSector(sector, data, what);
  }

  get ownWritesInFlight(): number {
    return this.disks.reduce((sum, disk) => sum + disk.ownWritesInFlight, 0);
  }

  async settleOwnWrites(seconds: number): Promise<boolean> {
    const settled = await Promise.all(this.disks.map((disk) => disk.settleOwnWrites(seconds)));
    return settled.every(Boolean);
  }

  /** A write every step of the ballot needs on a majority of the disks. */
  private async writeMajority(what: string, failName: SanlockResultName, write: (disk: PaxosDisk) => Promise<void>): Promise<void> {
    await this.writeOn("majority", what, failName, write);
  }

  /** A shared mark: every disk must carry it, or a host reading another majority misses it. */
  private async writeAll(what: string, write: (disk: PaxosDisk) => Promise<void>): Promise<void> {
    await this.writeOn("all", what, "DBLOCK_WRITE", write);
  }

  /** Writes every disk; too few written fails with AIO_TIMEOUT if any disk timed out (as sanlock), else `failName`. */
  private async writeOn(needed: "majority" | "all", what: string, failName: SanlockResultName, write: (disk: PaxosDisk) => Promise<void>): Promise<void> {
    const outcomes = await this.eachDisk(write);
    const written = outcomes.filter((o) => o.ok).length;
    if (needed === "all" ? written === this.disks.length : this.majority(written)) return;
    const message = `${this.name}: ${what} done on ${written}${needed === "all" ? ", needed on every disk" : ""}: ${describeErrors(outcomes)}`;
    if (outcomes.some((o) => !o.ok && isLeaseError(o.error, "AIO_TIMEOUT"))) throw new LeaseError("AIO_TIMEOUT", message);
    throw new LeaseError(failName, message);
  }

  private lastError(outcomes: DiskOutcome<unknown>[], failName: SanlockResultName, what: string): unknown {
    const failures = outcomes.filter((o): o is { ok: false; error: unknown } => !o.ok);
    const last = failures[failures.length - 1];
    if (last && last.error instanceof LeaseError) return last.error;
    return new LeaseError(failName, `${this.name}: ${what}: ${describeErrors(outcomes)}`);
  }
}

function successes<T>(outcomes: DiskOutcome<T>[]): T[] {
  const values: T[] = [];
  for (const o of outcomes) if (o.ok) values.push(o.value);
  return values;
}

/** "disk 2: <message>; disk 3: <message>" for the disks that failed. */
function describeErrors(outcomes: DiskOutcome<unknown>[]): string {
  const parts: string[] = [];
  outcomes.forEach((o, i) => {
    if (!o.ok) parts.push(`disk ${i + 1}: ${(o.error as Error)?.message ?? String(o.error)}`);
  });
  return parts.length === 0 ? "no disk failed" : parts.join("; ");
}

/** The lease storage of `location`: a PaxosDisk for one disk, a PaxosDiskSet for several. */
export function openPaxosArea(
  lockspace: string,
  location: ResourceLocation,
  hostId: number,
  ioTimeout: number,
  clock: Clock,
  variant: BrokenVariant = "none",
): PaxosArea {
  if ((location.otherDisks?.length ?? 0) === 0) return new PaxosDisk(lockspace, location, hostId, ioTimeout, clock);
  return new PaxosDiskSet(lockspace, location, hostId, ioTimeout, clock, variant);
}
