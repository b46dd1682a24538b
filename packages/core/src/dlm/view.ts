// A view of one resource: the leader's version and every host's slot as read from sectors 0..P−1
// of its lease area (docs/dlm.md §3.3, §5.5 step 1), and the resource LVB a view implies (§3.6).
import { readDblockFields } from "../ondisk/dblock.js";
import { readLeaderFields } from "../ondisk/leader-record.js";
import { LKM } from "./modes.js";
import { LVB_FLAG_INVALID, SLOT_FLAG_VALBLK_HOLD, SLOT_OFFSET_IN_SECTOR, type SlotRecord, decodeSlot } from "./slot-record.js";

export interface ViewSlot {
  readonly hostId: number;
  /** undefined when the slot could not be decoded (counts as EX while its host lives, docs/dlm.md §3.4). */
  readonly slot: SlotRecord | undefined;
}

export interface ResourceView {
  /** lver of the leader (the mutex's version) when read. */
  readonly lver: bigint;
  readonly numHosts: number;
  /** Non-empty slots of hosts 1..numHosts, ascending host_id. */
  readonly slots: readonly ViewSlot[];
  /** Each host's dblock mbal (the last-attempted ballot number, kept by slot-only writes). */
  readonly mbal: ReadonlyMap<number, bigint>;
}

/** Parses sectors 0..P−1 of a resource area (P·sectorSize bytes); slots beyond the read are absent. */
export function parseView(bytes: Uint8Array, sectorSize: number): ResourceView {
  const leader = readLeaderFields(bytes, 0);
  const slots: ViewSlot[] = [];
  const mbal = new Map<number, bigint>();
  for (let q = 1; q <= leader.numHosts; q++) {
    const start = (q + 1) * sectorSize;
    if (start + sectorSize > bytes.length) break;
    const d = readDblockFields(bytes, start, 0);
    if (d.mbal !== 0n) mbal.set(q, d.mbal);
    let slot: SlotRecord | undefined;
    try {
      slot = decodeSlot(bytes, start + SLOT_OFFSET_IN_SECTOR);
      if (slot === undefined) continue;
    } catch {
      slot = undefined;
    }
    slots.push({ hostId: q, slot });
  }
  return { lver: leader.lver, numHosts: leader.numHosts, slots, mbal };
}

/** The resource LVB: the value and sequence the next R transition returns (docs/dlm.md §3.6). */
export interface ResourceLvb {
  seq: bigint;
  data: Uint8Array;
  /** VALNOTVALID: the largest-seq entry is an invalidation. */
  invalid: boolean;
}

export interface LvbEntry {
  seq: bigint;
  data: Uint8Array | undefined;
  invalid: boolean;
}

/** A slot's own LVB entry. */
export function slotLvbEntry(slot: SlotRecord): LvbEntry {
  return { seq: slot.lvbSeq, data: slot.lvb, invalid: (slot.lvbFlags & LVB_FLAG_INVALID) !== 0 };
}

/**
 * docs/dlm.md §3.6 (b): a dead host that held PW/EX with VALBLK may have changed the value
 * without writing it: an invalid entry one above anything it wrote.
 */
export function deadWriterEntry(slot: SlotRecord): LvbEntry | undefined {
  if (slot.grmode < LKM.PW || !(slot.flags & SLOT_FLAG_VALBLK_HOLD)) return undefined;
  const top = maxBigint(slot.lvbSeq, slot.lvbEpoch);
  return { seq: top + 1n, data: undefined, invalid: true };
}

/**
 * The largest-seq entry (an invalid one wins a tie). Its data is that of the largest-seq entry
 * carrying data: an invalidation keeps the stale contents, as the kernel does.
 */
export function resourceLvb(entries: readonly LvbEntry[], lvbLen: number): ResourceLvb {
  let top: LvbEntry | undefined;
  let data: LvbEntry | undefined;
  for (const e of entries) {
    if (!top || e.seq > top.seq || (e.seq === top.seq && e.invalid && !top.invalid)) top = e;
    if (e.data && (!data || e.seq > data.seq)) data = e;
  }
  const bytes = new Uint8Array(lvbLen);
  if (data?.data) bytes.set(data.data.subarray(0, lvbLen));
  return { seq: top?.seq ?? 0n, data: bytes, invalid: top?.invalid ?? false };
}

export function maxBigint(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
