/**
 * One Disk Paxos ballot for lease version L (docs/algorithms.md §4.5, §4.6).
 */
import { nowSeconds, type Clock } from "./clock.js";
import { assertInvariant as assert } from "./errors.js";
import { LeaseError, SanlockResult } from "./lease-errors.js";
import { emptyDblock, type Dblock } from "./ondisk/dblock.js";
import { MBLOCK_SHARED, type ModeBlock } from "./ondisk/mode-block.js";
import type { HostSlot, PaxosArea } from "./paxos-area.js";
import { dblockColonValues, dblockGroups, traceGroups, type PaxosTrace } from "./paxos-trace.js";
import type { BrokenVariant } from "./variants.js";

/** docs/algorithms.md §4.5: first ballot number for host H given the largest mbal seen. */
export function firstBallot(maxMbal: bigint, maxHosts: number, hostId: number): bigint {
  if (maxMbal === 0n) return BigInt(hostId);
  const m = BigInt(maxHosts);
  return maxMbal - (maxMbal % m) + m + BigInt(hostId);
}

export interface BallotInput {
  disk: PaxosArea;
  clock: Clock;
  hostId: number;
  generation: bigint;
  numHosts: number;
  /** The leader's max_hosts: modulus of ballot numbers (docs/algorithms.md §4.5). */
  maxHosts: number;
  lver: bigint;
  mbal: bigint;
  /** Mode block written with every dblock write (shared mark during sh→ex conversion, docs/algorithms.md §5.5). */
  mode: ModeBlock;
  /** Shared holders noted in phase 1 accumulate here (host_id → mode-block generation). */
  sharedHolders: Map<number, bigint>;
  variant: BrokenVariant;
  /** Told what phase 1 found (the simulator counts ballots that had to choose among values). */
  observe?: ((seen: BallotSeen) => void) | undefined;
  /** Told each step in sanlock's words (docs/algorithms.md §4.6; the daemon's debug log). */
  trace?: PaxosTrace | undefined;
}

/** What phase 1 of one ballot found on disk. */
export interface BallotSeen {
  /** Distinct accepted values (inp, inp2, inp3) with a non-zero bal at this lver. */
  values: number;
}

export type BallotOutcome =
  | { kind: "decided"; dblock: Dblock }
  /**
   * -212/-213: a larger lver or mbal was seen; retry with a larger mbal. `written` is the
   * last dblock we wrote in this ballot (phase 1 or phase 2): it stays on disk as ours.
   */
  | { kind: "aborted"; error: LeaseError; written: Dblock };

/** A ballot failure after our phase-2 write may have landed (retraction needed, docs/algorithms.md §4.9). */
export class BallotPhase2Error extends LeaseError {
  /** The phase-2 dblock that may have reached the disk. */
  dblock: Dblock = emptyDblock();
}

function phase2Failure(name: "DBLOCK_WRITE" | "DBLOCK_READ", err: unknown, dblock: Dblock): BallotPhase2Error {
  const failure = new BallotPhase2Error(name, `phase 2 ${name === "DBLOCK_WRITE" ? "write" : "read"} failed: ${(err as Error)?.message ?? String(err)}`);
  failure.dblock = dblock;
  return failure;
}

/** docs/algorithms.md §4.6 step 2.3-2.5: abort on a newer instance or a larger ballot. */
function abortReason(slot: HostSlot, lver: bigint, mbal: bigint): LeaseError | undefined {
  const d = slot.dblock;
  if (!d || d.lver < lver) return undefined;
  if (d.lver > lver) return new LeaseError("DBLOCK_LVER", `host_id ${slot.hostId} dblock has lver ${d.lver} > ${lver}`);
  if (d.mbal > mbal) return new LeaseError("DBLOCK_MBAL", `host_id ${slot.hostId} dblock has mbal ${d.mbal} > ${mbal}`);
  return undefined;
}

/** The first slot that aborts the ballot, checked in host order as sanlock does. */
function firstAbort(slots: HostSlot[], lver: bigint, mbal: bigint): { slot: HostSlot; error: LeaseError } | undefined {
  for (const slot of slots) {
    const error = abortReason(slot, lver, mbal);
    if (error) return { slot, error };
  }
  return undefined;
}

/** sanlock's lines for one ballot read: the abort (if any), then the dblocks seen. */
function traceRead(input: BallotInput, phase: 1 | 2, slots: HostSlot[], ours: Dblock, abort: { slot: HostSlot; error: LeaseError } | undefined): void {
  const trace = input.trace;
  if (!trace) return;
  if (abort?.slot.dblock) {
    const larger = abort.error.result === SanlockResult.DBLOCK_LVER ? "lver" : "mbal";
    trace(
      `ballot ${input.lver} abort${phase} larger ${larger} in bk[${abort.slot.hostId - 1}] ${dblockColonValues(abort.slot.dblock)} our dblock ${dblockColonValues(ours)}`,
    );
  }
  traceGroups(trace, dblockGroups(slots, input.lver), `ballot ${input.lver} phase${phase} read `);
}

/** Phase 1 value selection: largest bal among same-lver blocks with a value; ties → lower host_id. */
function pickCandidate(slots: HostSlot[], lver: bigint): { hostId: number; dblock: Dblock } | undefined {
  let best: { hostId: number; dblock: Dblock } | undefined;
  for (const slot of slots) {
    const d = slot.dblock;
    if (!d || d.lver !== lver || d.inp === 0 || d.bal === 0n) continue;
    if (!best || d.bal > best.dblock.bal) best = { hostId: slot.hostId, dblock: d };
  }
  return best;
}

/** Distinct accepted values among same-lver blocks (the choice pickCandidate makes among them). */
function countValues(slots: HostSlot[], lver: bigint): number {
  const values = new Set<string>();
  for (const slot of slots) {
    const d = slot.dblock;
    if (d && d.lver === lver && d.inp !== 0 && d.bal !== 0n) values.add(`${d.inp}/${d.inp2}/${d.inp3}`);
  }
  return values.size;
}

export async function runBallot(input: BallotInput): Promise<BallotOutcome> {
  const { disk, lver, mbal } = input;
  // Phase 1 write: only mbal and lver; bal/inp cleared (sanlock differs from Disk Paxos here, docs/algorithms.md §9.1).
  const phase1: Dblock = { ...emptyDblock(), mbal, lver };
  input.trace?.(`ballot ${lver} phase1 write mbal ${mbal}`);
  await disk.writeOwnSlot(phase1, input.mode);
  const slots1 = await disk.readBallotSlots(input.numHosts);
  for (const slot of slots1) {
    if (slot.dblock && slot.mode.flags & MBLOCK_SHARED) input.sharedHolders.set(slot.hostId, slot.mode.generation);
  }
  const abort1 = firstAbort(slots1, lver, mbal);
  traceRead(input, 1, slots1, phase1, abort1);
  if (abort1) return { kind: "aborted", error: abort1.error, written: phase1 };
  const candidate = pickCandidate(slots1, lver);
  input.observe?.({ values: countValues(slots1, lver) });
  const value = candidate
    ? { inp: candidate.dblock.inp, inp2: candidate.dblock.inp2, inp3: candidate.dblock.inp3 }
    : { inp: input.hostId, inp2: input.generation, inp3: BigInt(nowSeconds(input.clock)) };
  // A zero inp3 would commit a leader that looks free (timestamp 0).
  assert(value.inp3 > 0n && value.inp > 0, "proposal needs a host_id and a non-zero time");
  assert(mbal % BigInt(input.maxHosts) === BigInt(input.hostId) % BigInt(input.maxHosts), "mbal must be congruent to host_id modulo max_hosts (§4.5)");
  const phase2: Dblock = { ...emptyDblock(), mbal, bal: mbal, ...value, lver };
  tracePhase2Write(input, candidate, phase2);
  try {
    await disk.writeOwnSlot(phase2, input.mode);
  } catch (err) {
    throw phase2Failure("DBLOCK_WRITE", err, phase2);
  }
  // Phase 2 read: a larger ballot that started meanwhile may have chosen another value.
  if (input.variant !== "skip-phase2-read") {
    let slots2: HostSlot[];
    try {
      slots2 = await disk.readBallotSlots(input.numHosts);
    } catch (err) {
      throw phase2Failure("DBLOCK_READ", err, phase2);
    }
    const abort2 = firstAbort(slots2, lver, mbal);
    traceRead(input, 2, slots2, phase2, abort2);
    if (abort2) return { kind: "aborted", error: abort2.error, written: phase2 };
  }
  return { kind: "decided", dblock: phase2 };
}

/** sanlock's lines before the phase 2 write: the value chosen from phase 1, if any, and what we write. */
function tracePhase2Write(input: BallotInput, candidate: { hostId: number; dblock: Dblock } | undefined, phase2: Dblock): void {
  const trace = input.trace;
  if (!trace) return;
  if (candidate) {
    const c = candidate.dblock;
    trace(`ballot ${input.lver} choose bk_max[${candidate.hostId - 1}] lver ${c.lver} mbal ${c.mbal} bal ${c.bal} inp ${c.inp} ${c.inp2} ${c.inp3}`);
  }
  trace(`ballot ${input.lver} phase2 write bal ${phase2.bal} inp ${phase2.inp} ${phase2.inp2} ${phase2.inp3} q_max ${candidate ? candidate.hostId - 1 : -1}`);
}
