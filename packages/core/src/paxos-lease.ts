/**
 * A resource lease held (or being acquired) by the local host: exclusive and
 * shared acquire, release, conversions and the LVB (algorithms.md §4.8, §5, §7.9).
 * One instance per (resource, local holder); the daemon serialises calls.
 */
import type { Clock, Random } from "./clock.js";
import type { HostLiveness } from "./host-status.js";
import { LeaseError, SanlockResult, isLeaseError } from "./lease-errors.js";
import { readLvbSector, writeLvbSector } from "./lvb-ops.js";
import { DBLOCK_FL_RELEASED, type Dblock } from "./ondisk/dblock.js";
import { LFL_SHORT_HOLD, type LeaderRecord } from "./ondisk/leader-record.js";
import { MBLOCK_SHARED, emptyModeBlock, type ModeBlock } from "./ondisk/mode-block.js";
import { AcquireError, acquireLeader, releaseLeader, type LeaderAcquired, type LeaderAcquireInput } from "./paxos-acquire.js";
import { PaxosDisk, type HostSlot, type ResourceLocation } from "./paxos-disk.js";
import type { DeltaRecordView } from "./paxos-owner.js";
import { checkSharedHolders } from "./shared-lease.js";
import { SH_RETRIES } from "./timeouts.js";
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
  /** Ballot backoff jitter (§4.3 step 11) and SH retries (§5.2). */
  random: Random;
  /** Local watcher's view of other hosts (§3). */
  liveness: HostLiveness;
  /** Read host_id's delta record directly from the lockspace, validated (§4.4 step 2.1). */
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  /** SIMULATOR-ONLY rule breaking; default "none". */
  variant?: BrokenVariant;
}

export interface AcquireOptions {
  shared?: boolean;
  /** Required current lver (§4.3 step 3); undefined = any. */
  requiredLver?: bigint;
  /** New num_hosts committed into the leader. */
  numHosts?: number;
  /** Fail with -247 instead of waiting for a possibly dead owner. */
  ownerNoWait?: boolean;
  /** Read the lock value block after acquiring (§7.9). */
  lvb?: boolean;
  signal?: AbortSignal;
}

export type LeaseMode = "exclusive" | "shared";

interface Held {
  mode: LeaseMode;
  /** The leader we committed or learned (release compares against it, §4.8). */
  leader: LeaderRecord;
  dblock: Dblock;
}

interface LvbState {
  sector: Uint8Array;
  dirty: boolean;
}

export class PaxosLease {
  readonly disk: PaxosDisk;
  private held: Held | undefined;
  private lvbState: LvbState | undefined;

  constructor(readonly host: PaxosHost, readonly location: ResourceLocation) {
    this.disk = new PaxosDisk(host.lockspace, location, host.hostId, host.ioTimeout, host.clock);
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
      disk: this.disk, clock: h.clock, random: h.random, liveness: h.liveness,
      readDeltaRecord: (id) => h.readDeltaRecord(id),
      hostId: h.hostId, generation: h.generation, ioTimeout: h.ioTimeout, shared,
      requiredLver: options.requiredLver, numHosts: options.numHosts, ownerNoWait: options.ownerNoWait ?? false,
      mode, variant: this.variant, signal: options.signal,
    };
  }

  async acquire(options: AcquireOptions = {}): Promise<void> {
    if (this.held) throw new LeaseError("EEXIST", `resource ${this.location.resource} is already held`);
    if (options.shared) await this.acquireShared(options);
    else await this.acquireExclusive(options);
    if (options.lvb) this.lvbState = { sector: await readLvbSector(this.disk), dirty: false };
  }

  /** §4.3 then §5.4: an exclusive lease stands only if no shared holder is alive. */
  private async acquireExclusive(options: AcquireOptions): Promise<void> {
    const got = await acquireLeader(this.leaderInput(options, false, emptyModeBlock()));
    this.held = { mode: "exclusive", leader: got.leader, dblock: got.dblock };
    let live: number[];
    try {
      live = (await checkSharedHolders(this.disk, this.host.liveness, this.host.hostId, got.sharedHolders, this.variant)).live;
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

  /** §5.2: short exclusive hold with LFL_SHORT_HOLD, shared mark, then free the leader. */
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

  /** Shared mark first, then free the leader (§7.11 rule 8); undo both on failure. */
  private async enterShared(leader: LeaderRecord, dblock: Dblock): Promise<void> {
    const h = this.host;
    const released: Dblock = { ...dblock, flags: dblock.flags | DBLOCK_FL_RELEASED };
    const mark: ModeBlock = { flags: MBLOCK_SHARED, generation: h.generation };
    try {
      if (this.variant === "shared-mark-after-leader-release") {
        await releaseLeader(this.disk, h.clock, h.hostId, h.generation, leader);
        await this.disk.writeOwnSlot(released, mark);
      } else {
        await this.disk.writeOwnSlot(released, mark);
        await releaseLeader(this.disk, h.clock, h.hostId, h.generation, leader);
      }
    } catch (err) {
      await this.bestEffort(() => this.disk.writeOwnSlot(released, emptyModeBlock()));
      await this.bestEffort(() => releaseLeader(this.disk, h.clock, h.hostId, h.generation, leader));
      throw err;
    }
    this.held = { mode: "shared", leader, dblock };
  }

  private async bestEffort(io: () => Promise<void>): Promise<void> {
    try {
      await io();
    } catch {
      // the caller is already failing; other hosts fall back to the owner-gone rules
    }
  }

  /**
   * Release (§4.8 / §5.3). Exclusive order (§7.11 rule 7): LVB if dirty, our dblock
   * RELEASED, then the leader. If the leader release throws (e.g. -202) the lease
   * stays held and release may be called again (background retry, §7.7).
   */
  async release(newName?: string): Promise<void> {
    const held = this.held;
    if (!held) throw new LeaseError("ERROR", `resource ${this.location.resource} is not held`);
    const h = this.host;
    const released: Dblock = { ...held.dblock, flags: held.dblock.flags | DBLOCK_FL_RELEASED };
    if (held.mode === "shared") {
      await this.disk.writeOwnSlot(released, emptyModeBlock());
      this.held = undefined;
      return;
    }
    if (this.lvbState?.dirty) await this.bestEffort(() => writeLvbSector(this.disk, this.lvbState!.sector, this.lvbState!.sector));
    await this.bestEffort(() => this.disk.writeOwnSlot(released, emptyModeBlock()));
    await releaseLeader(this.disk, h.clock, h.hostId, h.generation, held.leader, newName);
    this.held = undefined;
    this.lvbState = undefined;
  }

  /** Conversions (§5.5). */
  async convert(to: LeaseMode, options: AcquireOptions = {}): Promise<void> {
    const held = this.held;
    if (!held) throw new LeaseError("ERROR", `resource ${this.location.resource} is not held`);
    if (held.mode === to) return;
    if (to === "shared") await this.convertToShared(held);
    else await this.convertToExclusive(options);
  }

  private async convertToShared(held: Held): Promise<void> {
    if (this.lvbState?.dirty) {
      await this.bestEffort(() => writeLvbSector(this.disk, this.lvbState!.sector, this.lvbState!.sector));
      this.lvbState.dirty = false;
    }
    await this.enterShared(held.leader, held.dblock);
  }

  /** Ballot with our shared mark kept in every write; other live holders → leader released, EAGAIN. */
  private async convertToExclusive(options: AcquireOptions): Promise<void> {
    const h = this.host;
    const mark: ModeBlock = { flags: MBLOCK_SHARED, generation: h.generation };
    const got = await acquireLeader(this.leaderInput(options, false, mark));
    let live: number[];
    try {
      live = (await checkSharedHolders(this.disk, h.liveness, h.hostId, got.sharedHolders, this.variant)).live;
    } catch (err) {
      await this.bestEffort(() => releaseLeader(this.disk, h.clock, h.hostId, h.generation, got.leader));
      throw err;
    }
    if (live.length > 0) {
      await this.bestEffort(() => releaseLeader(this.disk, h.clock, h.hostId, h.generation, got.leader));
      throw new LeaseError("EAGAIN", `resource ${this.location.resource}: live shared holders ${live.join(",")}`);
    }
    // §5.5 step 4: a failed write here is harmless; the exclusive release clears the mark later.
    await this.bestEffort(() => this.disk.writeOwnSlot(got.dblock, emptyModeBlock()));
    this.held = { mode: "exclusive", leader: got.leader, dblock: got.dblock };
  }

  /** set_lvb: holder only, at most one sector; written at exclusive release (§7.9). */
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

/** §5.2 step 1: a failure that another host's short shared hold explains. */
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

/** §5.7: leader owner if held, plus every shared mode block in 1..num_hosts; no liveness filtering. */
export async function readResourceOwners(lockspace: string, location: ResourceLocation, clock: Clock, ioTimeout: number): Promise<ResourceOwner[]> {
  const disk = new PaxosDisk(lockspace, location, 1, ioTimeout, clock);
  await disk.detect();
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
