/**
 * Exclusive acquire of a paxos leader (docs/algorithms.md §4.3, §4.7), leader
 * release (docs/algorithms.md §4.8 step 4) and retraction of a failed acquire (docs/algorithms.md §4.9).
 */
import { nowSeconds, type Clock, type Random } from "./clock.js";
import type { HostLiveness } from "./host-status.js";
import { LeaseError, SanlockResult, isLeaseError } from "./lease-errors.js";
import { DBLOCK_FL_RELEASED, emptyDblock, type Dblock } from "./ondisk/dblock.js";
import { LFL_SHORT_HOLD, type LeaderRecord } from "./ondisk/leader-record.js";
import type { ModeBlock } from "./ondisk/mode-block.js";
import { BallotPhase2Error, firstBallot, runBallot, type BallotSeen } from "./paxos-ballot.js";
import type { AreaSnapshot, PaxosArea } from "./paxos-area.js";
import { leadersEqual } from "./paxos-disk.js";
import { decideOwnerGone, type DeltaRecordView } from "./paxos-owner.js";
import { dblockGroups, dblockValues, leaderText, maxMbalIndex, traceGroups, type PaxosTrace } from "./paxos-trace.js";
import type { BrokenVariant } from "./variants.js";

export interface LeaderAcquireInput {
  disk: PaxosArea;
  clock: Clock;
  random: Random;
  liveness: HostLiveness;
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  hostId: number;
  generation: bigint;
  ioTimeout: number;
  /** First half of a shared acquire: commit with LFL_SHORT_HOLD (docs/algorithms.md §4.7). */
  shared: boolean;
  requiredLver: bigint | undefined;
  numHosts: number | undefined;
  ownerNoWait: boolean;
  /** Mode block carried by every ballot write (shared mark during sh→ex, docs/algorithms.md §5.5). */
  mode: ModeBlock;
  variant: BrokenVariant;
  signal?: AbortSignal | undefined;
  observeBallot?: ((seen: BallotSeen) => void) | undefined;
  /** Told each step in sanlock's words (the daemon's debug log). */
  trace?: PaxosTrace | undefined;
}

export interface LeaderAcquired {
  leader: LeaderRecord;
  /** Our final dblock (needed for release, docs/algorithms.md §4.8 step 3). */
  dblock: Dblock;
  /** Shared holders noted in phase 1 of the ballots (host_id → generation, docs/algorithms.md §5.4). */
  sharedHolders: Map<number, bigint>;
}

/** A failed acquire; `leader` is the leader returned with the failure (SH retry hint, docs/algorithms.md §5.2). */
export class AcquireError extends LeaseError {
  leader: LeaderRecord | undefined;
  /** Set when the acquire was retracted (docs/algorithms.md §4.9): what we left on disk. */
  retraction: Retraction | undefined;
}

export interface Retraction {
  /** Our phase-2 values, written back with RELEASED (docs/algorithms.md §8.4 item 1). */
  dblock: Dblock;
  /** The leader we tried to commit, if we got that far. */
  attempted: LeaderRecord | undefined;
  /**
   * False when freeing the leader failed on I/O: it may name us. The caller retries the leader
   * release or clears everything at release (docs/algorithms.md §5.5 step 5).
   */
  leaderFreed: boolean;
}

function failWith(err: unknown, leader: LeaderRecord | undefined, retraction?: Retraction): never {
  if (err instanceof LeaseError) {
    const wrapped = new AcquireError(nameOf(err.result), err.message, err.details);
    wrapped.leader = leader;
    wrapped.retraction = retraction;
    throw wrapped;
  }
  throw err;
}

function nameOf(result: number): keyof typeof SanlockResult {
  const entry = Object.entries(SanlockResult).find(([, v]) => v === result);
  return (entry?.[0] ?? "ERROR") as keyof typeof SanlockResult;
}

/** Bounds: restarts of the whole acquire and ballot retries within one attempt. */
const MAX_RESTARTS = 64;
const MAX_BALLOTS = 256;

type Attempt = { kind: "done"; result: LeaderAcquired } | { kind: "restart" };

/** What one acquire call accumulates across ballots and restarts. */
interface AcquireState {
  /** Shared holders noted in phase 1 of every ballot (docs/algorithms.md §5.4). */
  sharedHolders: Map<number, bigint>;
  /**
   * The last dblock we wrote (phase 1 or 2, any ballot, any restart), as sanlock keeps it: when
   * another host commits our value, this is our sector's content and what release must keep.
   */
  lastWritten: Dblock | undefined;
}

export async function acquireLeader(input: LeaderAcquireInput): Promise<LeaderAcquired> {
  const state: AcquireState = { sharedHolders: new Map(), lastWritten: undefined };
  for (let restart = 0; restart < MAX_RESTARTS; restart++) {
    const attempt = await acquireOnce(input, state);
    if (attempt.kind === "done") return attempt.result;
  }
  throw new LeaseError("ERROR", `resource ${input.disk.location.resource}: acquire restarted ${MAX_RESTARTS} times`);
}

async function acquireOnce(input: LeaderAcquireInput, state: AcquireState): Promise<Attempt> {
  const { disk, hostId: H, generation: G } = input;
  // Step 1: whole area; leader and every dblock validated.
  const full = await disk.readFull();
  const cur = full.leader;
  let maxMbal = 0n;
  for (const slot of full.slots) if (slot.dblock && slot.dblock.mbal > maxMbal) maxMbal = slot.dblock.mbal;
  traceFirstRead(input, full);
  // Step 3: the caller wants exactly this version.
  if (input.requiredLver !== undefined && cur.lver !== input.requiredLver) {
    failWith(new LeaseError("ACQUIRE_LVER", `resource ${disk.location.resource}: lver is ${cur.lver}, required ${input.requiredLver}`), cur);
  }
  // Steps 4-6: free, ours, or our previous instance's: reuse this read as the first leader check.
  let reuse: LeaderRecord | undefined = cur;
  if (cur.timestamp === 0n) input.trace?.(`paxos_acquire leader ${cur.lver} free`);
  const ours = cur.ownerId === H && (cur.ownerGeneration <= G || input.variant === "ignore-owner-generation");
  if (cur.timestamp !== 0n && !ours) {
    // Step 7: another owner; take over only once it is provably gone.
    let verdict;
    try {
      verdict = await decideOwnerGone(cur, { ...input, ownIoTimeout: input.ioTimeout });
    } catch (err) {
      failWith(err, cur);
    }
    if (verdict === "restart") return { kind: "restart" };
    reuse = undefined;
  }
  return runBallots(input, cur, maxMbal, reuse, state);
}

/** sanlock's lines for the acquire's first read: the dblocks of this lver or later, then the leader, the largest mbal and ours. */
function traceFirstRead(input: LeaderAcquireInput, full: AreaSnapshot): void {
  const trace = input.trace;
  if (!trace) return;
  const cur = full.leader;
  traceGroups(trace, dblockGroups(full.slots, cur.lver), `leader ${cur.lver} dblocks `, `leader ${leaderText(cur)} dblocks `);
  const { q, mbal } = maxMbalIndex(full.slots, cur.numHosts);
  const ours = full.slots.find((slot) => slot.hostId === input.hostId)?.dblock ?? emptyDblock();
  trace(`paxos_acquire leader ${leaderText(cur)} max mbal[${q}] ${mbal} our_dblock ${dblockValues(ours)}`);
}

async function runBallots(
  input: LeaderAcquireInput,
  cur: LeaderRecord,
  maxMbal: bigint,
  reuse: LeaderRecord | undefined,
  state: AcquireState,
): Promise<Attempt> {
  const { disk, hostId: H, generation: G } = input;
  const { sharedHolders } = state;
  const nextLver = cur.lver + 1n;
  let mbal = firstBallot(maxMbal, cur.maxHosts, H);
  for (let ballot = 0; ballot < MAX_BALLOTS; ballot++) {
    // Step 9: leader check before each ballot.
    const tmp = reuse ?? (await disk.readLeader());
    reuse = undefined;
    if (tmp.lver === nextLver) {
      if (tmp.ownerId === H && tmp.ownerGeneration === G) {
        // Another host committed our value: our sector keeps what we last wrote; release and a
        // conversion must rewrite those values, never an empty dblock.
        const dblock = state.lastWritten ?? (await ownDblockOnDisk(disk, H));
        return { kind: "done", result: { leader: tmp, dblock, sharedHolders } };
      }
      failWith(new LeaseError("ACQUIRE_OWNED", `resource ${disk.location.resource}: lver ${nextLver} decided for host_id ${tmp.ownerId}`), tmp);
    }
    if (tmp.lver > nextLver || !leadersEqual(tmp, cur)) return { kind: "restart" };
    // Step 10.
    let outcome;
    try {
      outcome = await runBallot({
        disk,
        clock: input.clock,
        hostId: H,
        generation: G,
        numHosts: cur.numHosts,
        maxHosts: cur.maxHosts,
        lver: nextLver,
        mbal,
        mode: input.mode,
        sharedHolders,
        variant: input.variant,
        observe: input.observeBallot,
        trace: input.trace,
      });
    } catch (err) {
      // Step 12: after a possible phase-2 write, retract (docs/algorithms.md §4.9).
      if (err instanceof BallotPhase2Error) {
        state.lastWritten = err.dblock;
        const leaderFreed = await retract(input, undefined, err.dblock);
        failWith(err, cur, { dblock: err.dblock, attempted: undefined, leaderFreed });
      }
      failWith(err, cur);
    }
    if (outcome.kind === "aborted") {
      state.lastWritten = outcome.written;
      // Step 11: random 0-1 s backoff so contenders stop colliding; next number for us.
      const delay = input.random.next();
      input.trace?.(`paxos_acquire ${nextLver} retry delay ${Math.round(delay * 1e6)} us`);
      await input.clock.sleep(delay, input.signal);
      mbal += BigInt(cur.maxHosts);
      continue;
    }
    state.lastWritten = outcome.dblock;
    return { kind: "done", result: await commit(input, cur, outcome.dblock, sharedHolders) };
  }
  failWith(new LeaseError("DBLOCK_MBAL", `resource ${disk.location.resource}: ${MAX_BALLOTS} ballots aborted`), cur);
}

/** docs/algorithms.md §4.7: write the decision into the leader. */
async function commit(input: LeaderAcquireInput, cur: LeaderRecord, dblock: Dblock, sharedHolders: Map<number, bigint>): Promise<LeaderAcquired> {
  const { disk, hostId: H, generation: G } = input;
  const ownerIsUs = dblock.inp === H;
  let flags = cur.flags;
  if (ownerIsUs) flags = input.shared ? flags | LFL_SHORT_HOLD : flags & ~LFL_SHORT_HOLD;
  const next: LeaderRecord = {
    ...cur,
    lver: dblock.lver,
    ownerId: dblock.inp,
    ownerGeneration: dblock.inp2,
    timestamp: dblock.inp3,
    writeId: BigInt(H),
    writeGeneration: G,
    writeTimestamp: BigInt(nowSeconds(input.clock)),
    numHosts: input.numHosts ?? cur.numHosts,
    flags: flags >>> 0,
  };
  try {
    await disk.writeLeader(next);
  } catch (err) {
    const leaderFreed = await retract(input, next, dblock);
    failWith(err, next, { dblock, attempted: next, leaderFreed });
  }
  // Stricter than sanlock (which compares only owner_id): a value of our previous instance is not ours.
  const self = ownerIsUs && dblock.inp2 === G;
  input.trace?.(`ballot ${next.lver} commit ${self ? "self" : "other"} owner ${next.ownerId} ${next.ownerGeneration} ${next.timestamp}`);
  if (!self) {
    failWith(new LeaseError("ACQUIRE_OTHER", `resource ${disk.location.resource}: ballot committed host_id ${dblock.inp} generation ${dblock.inp2}`), next);
  }
  return { leader: next, dblock, sharedHolders };
}

/**
 * docs/algorithms.md §4.9 retraction, in the stricter compatible form of docs/algorithms.md §8.4 item 1: keep our
 * dblock values and add RELEASED (never erase a possibly decided proposal),
 * then free the leader only if it names us and was written by us.
 * Resolves false when the leader could not be read or written (it may still name us).
 */
export async function retract(input: LeaderAcquireInput, attempted: LeaderRecord | undefined, dblock: Dblock): Promise<boolean> {
  try {
    // The mode block is kept: a failed sh→ex conversion still holds its shared lease (docs/algorithms.md §5.5 step 5).
    await input.disk.writeOwnSlot({ ...dblock, flags: dblock.flags | DBLOCK_FL_RELEASED }, input.mode);
  } catch {
    // Best effort: the acquire already failed; others fall back to the owner-gone rules.
  }
  return freeLeaderIfOurs(input.disk, input.clock, input.hostId, input.generation, attempted);
}

/**
 * Leader release after a failed acquire or conversion (sanlock's paxos_lease_release with or
 * without a `last` leader): true when the leader is free of us or not ours to free; false when an
 * I/O failed and it may still name us.
 */
export async function freeLeaderIfOurs(
  disk: PaxosArea,
  clock: Clock,
  hostId: number,
  generation: bigint,
  attempted: LeaderRecord | undefined,
): Promise<boolean> {
  try {
    const last = attempted ?? (await disk.readLeader());
    await releaseLeader(disk, clock, hostId, generation, last);
    return true;
  } catch (err) {
    return isNotOursToRelease(err);
  }
}

/** docs/algorithms.md §4.8 step 4 refusals: the leader is already free, newer, or owned by someone else. */
export function isNotOursToRelease(err: unknown): boolean {
  return isLeaseError(err, "RELEASE_OWNER") || isLeaseError(err, "RELEASE_LVER");
}

/** Our own sector as on disk (fallback when this acquire wrote nothing yet); invalid → empty. */
async function ownDblockOnDisk(disk: PaxosArea, hostId: number): Promise<Dblock> {
  const slot = await disk.readSlot(hostId);
  return slot.dblock ?? emptyDblock();
}

/** docs/algorithms.md §4.8 step 4: free the leader if it is still the one we committed (or learned). */
export async function releaseLeader(disk: PaxosArea, clock: Clock, hostId: number, generation: bigint, last: LeaderRecord, newName?: string): Promise<void> {
  const leader = await disk.readLeader();
  // Another host wrote the leader naming us: our RELEASED dblock is the signal; writing could clobber a newer decision.
  if (leader.writeId !== BigInt(hostId)) return;
  if (leader.lver !== last.lver) {
    throw new LeaseError("RELEASE_LVER", `resource ${disk.location.resource}: leader lver ${leader.lver}, we hold ${last.lver}`);
  }
  if (leader.timestamp === 0n) throw new LeaseError("RELEASE_OWNER", `resource ${disk.location.resource}: leader already free`);
  if (leader.ownerId !== hostId || leader.ownerGeneration !== generation) {
    throw new LeaseError("RELEASE_OWNER", `resource ${disk.location.resource}: leader owned by ${leader.ownerId}/${leader.ownerGeneration}`);
  }
  if (!leadersEqual(leader, last)) throw new LeaseError("RELEASE_OWNER", `resource ${disk.location.resource}: leader changed since we wrote it`);
  await disk.writeLeader({
    ...leader,
    timestamp: 0n,
    writeId: BigInt(hostId),
    writeGeneration: generation,
    writeTimestamp: BigInt(nowSeconds(clock)),
    flags: (leader.flags & ~LFL_SHORT_HOLD) >>> 0,
    resourceName: newName ?? leader.resourceName,
  });
}
