/**
 * A resource lease held (or being acquired) by the local host: exclusive and
 * shared acquire, release, conversions and the LVB (docs/algorithms.md §4.8, §5, §7.9).
 * One instance per (resource, local holder); the daemon serialises calls.
 *
 * Deviations from sanlock 3.8.5 (all stricter, same on-disk format):
 * - no acquire, conversion or mark write starts while an earlier write of our own sector may
 *   still land (requireOwnWritesSettled);
 * - a retried ex→sh leader release recognises its own earlier, late-landed release;
 * - the R_ERASE_ALL release keeps our dblock values (+RELEASED, docs/algorithms.md §8.4 item 1) and frees the leader
 *   naming our instance as read now, not as remembered (sanlock's remembered lver can be stale);
 * - shared holders judged dead by the watcher are confirmed from their delta record (shared-lease.ts).
 */
import type { Clock, Random } from "./clock.js";
import type { HostLiveness } from "./host-status.js";
import { LeaseError, SanlockResult, isLeaseError } from "./lease-errors.js";
import { readLvbSector, writeLvbSector } from "./lvb-ops.js";
import { DBLOCK_FL_RELEASED, type Dblock } from "./ondisk/dblock.js";
import { LFL_SHORT_HOLD, type LeaderRecord } from "./ondisk/leader-record.js";
import { MBLOCK_SHARED, emptyModeBlock, type ModeBlock } from "./ondisk/mode-block.js";
import { AcquireError, acquireLeader, isNotOursToRelease, releaseLeader, type LeaderAcquired, type LeaderAcquireInput } from "./paxos-acquire.js";
import type { HostSlot, PaxosArea, ResourceLocation } from "./paxos-area.js";
import { openPaxosArea } from "./paxos-disk-set.js";
import type { BallotSeen } from "./paxos-ballot.js";
import type { DeltaRecordView } from "./paxos-owner.js";
import { checkSharedHolders } from "./shared-lease.js";
import { MAX_IO_TIMEOUT, SH_RETRIES } from "./timeouts.js";
import { dblockColonValues, leaderText, type PaxosTrace } from "./paxos-trace.js";
import type { BrokenVariant } from "./variants.js";

export type { ResourceLocation } from "./paxos-disk.js";
export type { DeltaRecordView } from "./paxos-owner.js";

/** Everything about the local host a paxos lease needs (one lockspace instance). */
export interface PaxosHost {
  lockspace: string;
  hostId: number;
  /** Our generation G in the lockspace. */
  generation: bigint;
  /** Our io_timeout N_own for the lockspace. */
  ioTimeout: number;
  clock: Clock;
  /** Ballot backoff jitter (docs/algorithms.md §4.3 step 11) and SH retries (docs/algorithms.md §5.2). */
  random: Random;
  /** Local watcher's view of other hosts (docs/algorithms.md §3). */
  liveness: HostLiveness;
  /** Read host_id's delta record directly from the lockspace, validated (docs/algorithms.md §4.4 step 2.1). */
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  /** SIMULATOR-ONLY rule breaking; default "none". */
  variant?: BrokenVariant;
  /** Told what phase 1 of each ballot found (the simulator's coverage counts). */
  observeBallot?: (seen: BallotSeen) => void;
}

export interface AcquireOptions {
  shared?: boolean;
  /** Required current lver (docs/algorithms.md §4.3 step 3); undefined = any. */
  requiredLver?: bigint;
  /** New num_hosts committed into the leader. */
  numHosts?: number;
  /** Fail with -247 instead of waiting for a possibly dead owner. */
  ownerNoWait?: boolean;
  /** Read the lock value block after acquiring (docs/algorithms.md §7.9). */
  lvb?: boolean;
  signal?: AbortSignal;
  /** Told each step of the leader acquire in sanlock's words (paxos-trace.ts); nothing by default. */
  trace?: PaxosTrace;
}

export type LeaseMode = "exclusive" | "shared";

interface Held {
  mode: LeaseMode;
  /** The leader we committed or learned (release compares against it, docs/algorithms.md §4.8). */
  leader: LeaderRecord;
  dblock: Dblock;
}

interface LvbState {
  sector: Uint8Array;
  dirty: boolean;
}

/** docs/algorithms.md §5.5 sh→ex step 5: leader release retries on timeouts, io_timeout seconds apart. */
const SH2EX_UNDO_RETRIES = 3;

export class PaxosLease {
  readonly disk: PaxosArea;
  private held: Held | undefined;
  private lvbState: LvbState | undefined;
  /**
   * A conversion failed half way (docs/algorithms.md §5.5, sanlock's R_ERASE_ALL): the leader may still name us
   * while our shared mark is on disk. Release then clears dblock and mark, and frees any leader
   * naming our instance.
   */
  private eraseAllOnRelease = false;
  /** The last acquire's or conversion's trace; release and the shared mark write report to it too. */
  private trace: PaxosTrace | undefined;

  constructor(
    readonly host: PaxosHost,
    readonly location: ResourceLocation,
  ) {
    this.disk = openPaxosArea(host.lockspace, location, host.hostId, host.ioTimeout, host.clock, host.variant);
  }

  private get variant(): BrokenVariant {
    return this.host.variant ?? "none";
  }

  get mode(): LeaseMode | undefined {
    return this.held?.mode;
  }

  /** lver of the version we hold. */
  get lver(): bigint {
    if (!this.held) throw new LeaseError("ERROR", `resource ${this.location.resource} is not held`);
    return this.held.leader.lver;
  }

  /** The leader as committed or learned at acquire. */
  get leader(): LeaderRecord | undefined {
    return this.held?.leader;
  }

  private leaderInput(options: AcquireOptions, shared: boolean, mode: ModeBlock): LeaderAcquireInput {
    const h = this.host;
    return {
      disk: this.disk,
      clock: h.clock,
      random: h.random,
      liveness: h.liveness,
      readDeltaRecord: (id) => h.readDeltaRecord(id),
      hostId: h.hostId,
      generation: h.generation,
      ioTimeout: h.ioTimeout,
      shared,
      requiredLver: options.requiredLver,
      numHosts: options.numHosts,
      ownerNoWait: options.ownerNoWait ?? false,
      mode,
      variant: this.variant,
      signal: options.signal,
      observeBallot: h.observeBallot,
      trace: options.trace,
    };
  }

  /** True after a conversion failed half way; release will clear everything (docs/algorithms.md §5.5). */
  get clearsAllAtRelease(): boolean {
    return this.eraseAllOnRelease;
  }

  /**
   * Stricter than sanlock (which has this hazard, docs/algorithms.md §8.4 item 2): a timed-out write of our own
   * sector may land after a newer one and replace it — e.g. a stale ballot write clearing the
   * shared mark we hold by. So no acquire, conversion or mark write starts while an earlier
   * write of our sector is still in flight; we wait for it up to io_timeout, else fail (-202).
   * No extra I/O: the wait costs time only when a write has timed out.
   */
  private async requireOwnWritesSettled(): Promise<void> {
    if (await this.disk.settleOwnWrites(this.host.ioTimeout)) return;
    throw new LeaseError(
      "AIO_TIMEOUT",
      `resource ${this.location.resource}: ${this.disk.ownWritesInFlight} earlier write(s) of our dblock (host_id ${this.host.hostId}) still in flight`,
    );
  }

  async acquire(options: AcquireOptions = {}): Promise<void> {
    if (this.held) throw new LeaseError("EEXIST", `resource ${this.location.resource} is already held`);
    await this.requireOwnWritesSettled();
    this.eraseAllOnRelease = false;
    this.trace = options.trace;
    if (options.shared) await this.acquireShared(options);
    else await this.acquireExclusive(options);
    if (options.lvb) this.lvbState = { sector: await readLvbSector(this.disk), dirty: false };
  }

  /** docs/algorithms.md §4.3 then docs/algorithms.md §5.4: an exclusive lease stands only if no shared holder is alive. */
  private async acquireExclusive(options: AcquireOptions): Promise<void> {
    const got = await acquireLeader(this.leaderInput(options, false, emptyModeBlock()));
    this.held = { mode: "exclusive", leader: got.leader, dblock: got.dblock };
    let live: number[];
    try {
      live = (await this.checkSharedHolders(got.sharedHolders)).live;
    } catch (err) {
      await this.releaseExclusiveQuietly();
      throw err;
    }
    if (live.length > 0) {
      await this.releaseExclusiveQuietly();
      throw new LeaseError("EAGAIN", `resource ${this.location.resource}: live shared holders ${live.join(",")}`);
    }
  }

  private async releaseExclusiveQuietly(): Promise<void> {
    try {
      await this.release();
    } catch {
      this.held = undefined; // leader left to the owner-gone rules; our dblock is marked released if that write landed
    }
  }

  /** docs/algorithms.md §5.2: short exclusive hold with LFL_SHORT_HOLD, shared mark, then free the leader. */
  private async acquireShared(options: AcquireOptions): Promise<void> {
    const input = this.leaderInput(options, true, emptyModeBlock());
    let got: LeaderAcquired | undefined;
    for (let attempt = 0; attempt <= SH_RETRIES && !got; attempt++) {
      try {
        got = await acquireLeader(input);
      } catch (err) {
        if (!isShortHoldConflict(err)) throw err;
        if (attempt === SH_RETRIES) {
          throw new LeaseError("ACQUIRE_SHRETRY", `resource ${this.location.resource}: held briefly by other shared acquirers ${SH_RETRIES} times`);
        }
        await this.host.clock.sleep(this.host.random.next(), options.signal);
      }
    }
    if (!got) throw new LeaseError("ACQUIRE_SHRETRY", `resource ${this.location.resource}: shared acquire gave up`);
    await this.enterShared(got.leader, got.dblock);
  }

  /** docs/algorithms.md §5.2 steps 2-3: shared mark first, then free the leader (docs/algorithms.md §7.11 rule 8); undo both on failure. */
  private async enterShared(leader: LeaderRecord, dblock: Dblock): Promise<void> {
    const h = this.host;
    const released: Dblock = { ...dblock, flags: dblock.flags | DBLOCK_FL_RELEASED };
    try {
      // A retraction write of an earlier SH retry may still be in flight (it would clear the mark).
      await this.requireOwnWritesSettled();
      if (this.variant === "shared-mark-after-leader-release") {
        await releaseLeader(this.disk, h.clock, h.hostId, h.generation, leader);
        await this.writeHostBlock(released, this.sharedMark());
      } else {
        await this.writeHostBlock(released, this.sharedMark());
        await releaseLeader(this.disk, h.clock, h.hostId, h.generation, leader);
      }
      this.trace?.(`paxos_release leader ${leaderText(leader)}`);
    } catch (err) {
      await this.bestEffort(() => this.disk.writeOwnSlot(released, emptyModeBlock()));
      await this.bestEffort(() => releaseLeader(this.disk, h.clock, h.hostId, h.generation, leader));
      throw err;
    }
    this.held = { mode: "shared", leader, dblock };
  }

  /** Our dblock and mode block in one sector write, reported as sanlock's write_host_block line. */
  private async writeHostBlock(dblock: Dblock, mode: ModeBlock): Promise<void> {
    const about = `write_host_block host_id ${this.host.hostId} flags ${mode.flags.toString(16)} gen ${mode.generation}`;
    try {
      await this.disk.writeOwnSlot(dblock, mode);
    } catch (err) {
      this.trace?.(`${about} rv ${err instanceof LeaseError ? err.result : -1}`);
      throw err;
    }
    this.trace?.(`${about} dblock ${dblockColonValues(dblock)}${dblock.flags & DBLOCK_FL_RELEASED ? ":RELEASED." : "."}`);
  }

  private sharedMark(): ModeBlock {
    return { flags: MBLOCK_SHARED, generation: this.host.generation };
  }

  private async bestEffort(io: () => Promise<void>): Promise<void> {
    try {
      await io();
    } catch {
      // the caller is already failing; other hosts fall back to the owner-gone rules
    }
  }

  /**
   * Release (docs/algorithms.md §4.8 / §5.3). Exclusive order (docs/algorithms.md §7.11 rule 7): LVB if dirty, our dblock
   * RELEASED, then the leader. If the leader release throws (e.g. -202) the lease
   * stays held and release may be called again (background retry, docs/algorithms.md §7.7).
   */
  async release(newName?: string): Promise<void> {
    const held = this.held;
    if (!held) throw new LeaseError("ERROR", `resource ${this.location.resource} is not held`);
    const h = this.host;
    // An older write of our sector landing after the release write would bring back a mark or an
    // unreleased dblock; give it up to io_timeout to settle, then release anyway (progress first).
    await this.disk.settleOwnWrites(h.ioTimeout);
    const released: Dblock = { ...held.dblock, flags: held.dblock.flags | DBLOCK_FL_RELEASED };
    if (this.eraseAllOnRelease) {
      await this.releaseErasingAll(released, newName);
      return;
    }
    if (held.mode === "shared") {
      await this.writeHostBlock(released, emptyModeBlock());
      this.held = undefined;
      return;
    }
    if (this.lvbState?.dirty) await this.bestEffort(() => writeLvbSector(this.disk, this.lvbState!.sector, this.lvbState!.sector));
    await this.bestEffort(() => this.writeHostBlock(released, emptyModeBlock()));
    await releaseLeader(this.disk, h.clock, h.hostId, h.generation, held.leader, newName);
    this.forget();
  }

  /**
   * Release after a half-failed conversion (sanlock's R_ERASE_ALL): our dblock RELEASED with a
   * zero mode block, then free whatever leader names our instance and was written by us. A
   * failed write throws so that the release is retried: the mark must not stay behind.
   */
  private async releaseErasingAll(released: Dblock, newName: string | undefined): Promise<void> {
    const h = this.host;
    await this.writeHostBlock(released, emptyModeBlock());
    try {
      const current = await this.disk.readLeader();
      await releaseLeader(this.disk, h.clock, h.hostId, h.generation, current, newName);
    } catch (err) {
      if (!isNotOursToRelease(err)) throw err;
    }
    this.forget();
  }

  private forget(): void {
    this.held = undefined;
    this.lvbState = undefined;
    this.eraseAllOnRelease = false;
  }

  /** Conversions (docs/algorithms.md §5.5). */
  async convert(to: LeaseMode, options: AcquireOptions = {}): Promise<void> {
    const held = this.held;
    if (options.trace) this.trace = options.trace;
    if (!held) throw new LeaseError("ERROR", `resource ${this.location.resource} is not held`);
    if (held.mode === to) return;
    if (to === "shared") await this.convertToShared(held);
    else await this.convertToExclusive(held, options);
  }

  /**
   * docs/algorithms.md §5.5 exclusive → shared (sanlock's convert_ex2sh_token). If the mark cannot be written we
   * are still the exclusive owner: the error is returned and the leader is left alone. Once the
   * mark is written it is never removed here: if freeing the leader fails, the lease is held
   * shared and possibly still exclusive, and release clears everything.
   */
  private async convertToShared(held: Held): Promise<void> {
    const h = this.host;
    if (this.lvbState?.dirty) {
      await this.bestEffort(() => writeLvbSector(this.disk, this.lvbState!.sector, this.lvbState!.sector));
      this.lvbState.dirty = false;
    }
    const released: Dblock = { ...held.dblock, flags: held.dblock.flags | DBLOCK_FL_RELEASED };
    await this.requireOwnWritesSettled();
    if (this.variant === "shared-mark-after-leader-release") {
      await releaseLeader(this.disk, h.clock, h.hostId, h.generation, held.leader);
      await this.disk.writeOwnSlot(released, this.sharedMark());
      this.held = { ...held, mode: "shared" };
      return;
    }
    // Step 2. A timed-out write may still land: harmless, we keep the leader until step 3.
    await this.disk.writeOwnSlot(released, this.sharedMark());
    try {
      await this.freeLeaderRetryingTimeouts(held.leader);
    } catch (err) {
      this.eraseAllOnRelease = true;
      throw err;
    }
    this.held = { ...held, mode: "shared" };
  }

  /** docs/algorithms.md §5.5 ex→sh step 3: free the leader; on timeouts retry up to N_own times, sleeping 1, 2, 3 … s. */
  private async freeLeaderRetryingTimeouts(last: LeaderRecord): Promise<void> {
    const h = this.host;
    const retries = Math.min(h.ioTimeout, MAX_IO_TIMEOUT);
    for (let attempt = 0; ; attempt++) {
      try {
        // A timed-out leader write of the previous attempt may have landed: that is our release.
        if (attempt > 0 && this.isOurRelease(await this.disk.readLeader(), last)) return;
        await releaseLeader(this.disk, h.clock, h.hostId, h.generation, last);
        return;
      } catch (err) {
        if (!isLeaseError(err, "AIO_TIMEOUT") || attempt >= retries) throw err;
        await h.clock.sleep(attempt + 1);
      }
    }
  }

  /** The leader is `last` freed by our instance (docs/algorithms.md §4.8 step 4.7 landed). */
  private isOurRelease(leader: LeaderRecord, last: LeaderRecord): boolean {
    const h = this.host;
    return (
      leader.timestamp === 0n &&
      leader.lver === last.lver &&
      leader.ownerId === h.hostId &&
      leader.ownerGeneration === h.generation &&
      leader.writeId === BigInt(h.hostId)
    );
  }

  /**
   * docs/algorithms.md §5.5 shared → exclusive: a ballot with our shared mark kept in every write; other live
   * holders → leader released, EAGAIN. On every failure we keep the shared lease and the mark.
   */
  private async convertToExclusive(held: Held, options: AcquireOptions): Promise<void> {
    await this.requireOwnWritesSettled();
    let got: LeaderAcquired;
    try {
      got = await acquireLeader(this.leaderInput(options, false, this.sharedMark()));
    } catch (err) {
      const retraction = err instanceof AcquireError ? err.retraction : undefined;
      if (retraction) {
        // Our sector now holds the retracted phase-2 values (+RELEASED, +mark): keep them at release.
        this.held = { ...held, dblock: retraction.dblock };
        if (!retraction.leaderFreed) await this.undoOwnerAfterFailedConvert(retraction.attempted);
      }
      throw err;
    }
    // The committed values are in our sector (with the mark) whatever happens next.
    this.held = { ...held, dblock: got.dblock };
    let live: number[];
    try {
      live = (await this.checkSharedHolders(got.sharedHolders)).live;
    } catch (err) {
      await this.undoOwnerAfterFailedConvert(got.leader);
      throw err;
    }
    if (live.length > 0) {
      await this.undoOwnerAfterFailedConvert(got.leader);
      throw new LeaseError("EAGAIN", `resource ${this.location.resource}: live shared holders ${live.join(",")}`);
    }
    // docs/algorithms.md §5.5 step 4: a failed write here is harmless; the exclusive release clears the mark later.
    await this.bestEffort(() => this.disk.writeOwnSlot(got.dblock, emptyModeBlock()));
    this.held = { mode: "exclusive", leader: got.leader, dblock: got.dblock };
  }

  /**
   * docs/algorithms.md §5.5 sh→ex step 5: free the leader we may own, keeping our shared mark; retry timeouts up to
   * 3 times io_timeout apart; if it still fails, release will clear everything.
   */
  private async undoOwnerAfterFailedConvert(attempted: LeaderRecord | undefined): Promise<void> {
    const h = this.host;
    for (let attempt = 0; attempt <= SH2EX_UNDO_RETRIES; attempt++) {
      try {
        const last = attempted ?? (await this.disk.readLeader());
        await releaseLeader(this.disk, h.clock, h.hostId, h.generation, last);
        return;
      } catch (err) {
        if (isNotOursToRelease(err)) return;
        if (!isLeaseError(err, "AIO_TIMEOUT") || attempt === SH2EX_UNDO_RETRIES) break;
        await h.clock.sleep(h.ioTimeout);
      }
    }
    this.eraseAllOnRelease = true;
  }

  private checkSharedHolders(noted: ReadonlyMap<number, bigint>): ReturnType<typeof checkSharedHolders> {
    const h = this.host;
    return checkSharedHolders({
      disk: this.disk,
      liveness: h.liveness,
      readDeltaRecord: (id) => h.readDeltaRecord(id),
      ourHostId: h.hostId,
      noted,
      variant: this.variant,
    });
  }

  /** set_lvb: holder only, at most one sector; written at exclusive release (docs/algorithms.md §7.9). */
  setLvb(data: Uint8Array): void {
    if (!this.held || !this.lvbState) throw new LeaseError("ERROR", `resource ${this.location.resource}: not held with LVB`);
    if (data.length > this.lvbState.sector.length) throw new RangeError(`LVB data ${data.length} bytes exceeds one sector`);
    this.lvbState.sector.set(data, 0);
    this.lvbState.dirty = true;
  }

  /** get_lvb: the in-memory copy read at acquire (no disk read). */
  getLvb(): Uint8Array {
    if (!this.held || !this.lvbState) throw new LeaseError("ERROR", `resource ${this.location.resource}: not held with LVB`);
    return this.lvbState.sector.slice();
  }
}

/** docs/algorithms.md §5.2 step 1: a failure that another host's short shared hold explains. */
function isShortHoldConflict(err: unknown): boolean {
  if (!(err instanceof AcquireError) || !err.leader) return false;
  const retryable = [SanlockResult.ACQUIRE_IDLIVE, SanlockResult.ACQUIRE_OWNED, SanlockResult.ACQUIRE_OTHER] as number[];
  return retryable.includes(err.result) && (err.leader.flags & LFL_SHORT_HOLD) !== 0;
}

export interface ResourceOwner {
  hostId: number;
  generation: bigint;
  shared: boolean;
  /** Leader timestamp for the exclusive owner; 0 for shared holders. */
  timestamp: bigint;
}

/** docs/algorithms.md §5.7: leader owner if held, plus every shared mode block in 1..num_hosts; no liveness filtering. */
export async function readResourceOwners(lockspace: string, location: ResourceLocation, clock: Clock, ioTimeout: number): Promise<ResourceOwner[]> {
  const disk = openPaxosArea(lockspace, location, 1, ioTimeout, clock);
  // A corrupt dblock must not hide the other holders: fall back to the ballot read, which skips it.
  const area = await disk.readFull().catch((err) => {
    if (isLeaseError(err, "DBLOCK_CHECKSUM")) return undefined;
    throw err;
  });
  let snapshot: { leader: LeaderRecord; slots: HostSlot[] };
  if (area) {
    snapshot = area;
  } else {
    const leader = await disk.readLeader();
    snapshot = { leader, slots: await disk.readBallotSlots(leader.numHosts) };
  }
  const owners: ResourceOwner[] = [];
  const { leader } = snapshot;
  if (leader.timestamp !== 0n) owners.push({ hostId: leader.ownerId, generation: leader.ownerGeneration, shared: false, timestamp: leader.timestamp });
  for (const slot of snapshot.slots) {
    if (slot.mode.flags & MBLOCK_SHARED) owners.push({ hostId: slot.hostId, generation: slot.mode.generation, shared: true, timestamp: 0n });
  }
  return owners;
}
