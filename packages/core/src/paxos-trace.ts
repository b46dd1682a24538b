/**
 * The acquire's steps as text, in the words of sanlock's paxos_lease.c debug lines, so an operator
 * can read a sanlock-ts log beside a sanlock one (`-D`). The core only formats; the caller decides
 * where the lines go (the daemon prefixes its `s<space_id>:r<res_id>` tag). Formatting never reads
 * the disk and never throws, so tracing cannot change an acquire.
 */
import type { Dblock } from "./ondisk/dblock.js";
import type { LeaderRecord } from "./ondisk/leader-record.js";
import type { HostSlot } from "./paxos-area.js";

/** Receives one line per step; optional everywhere (no cost when absent). */
export type PaxosTrace = (line: string) => void;

/** sanlock prints at most this many dblocks per line (its BK_DEBUG_COUNT). */
const DBLOCKS_PER_LINE = 4;

/** "lver owner id generation timestamp", as sanlock prints a leader. */
export function leaderText(leader: LeaderRecord): string {
  return `${leader.lver} owner ${leader.ownerId} ${leader.ownerGeneration} ${leader.timestamp}`;
}

/** "mbal bal inp inp2 inp3 lver": a dblock's values, space-separated. */
export function dblockValues(d: Dblock): string {
  return `${d.mbal} ${d.bal} ${d.inp} ${d.inp2} ${d.inp3} ${d.lver}`;
}

/** "mbal:bal:inp:inp2:inp3:lver": the same values as sanlock prints them in abort and write_host_block lines. */
export function dblockColonValues(d: Dblock): string {
  return `${d.mbal}:${d.bal}:${d.inp}:${d.inp2}:${d.inp3}:${d.lver}`;
}

/** "q:mbal:bal:inp:inp2:inp3:lver:flags," with q = host_id − 1 and flags in hex. */
function dblockItem(slot: HostSlot & { dblock: Dblock }): string {
  const d = slot.dblock;
  return `${slot.hostId - 1}:${d.mbal}:${d.bal}:${d.inp}:${d.inp2}:${d.inp3}:${d.lver}:${d.flags.toString(16)},`;
}

/**
 * The dblocks sanlock shows (mbal set, lver ≥ `lver`) in groups of four; a group is printed when a
 * fifth item arrives, and the closing line always, so no dblock shown gives one empty group.
 */
export function dblockGroups(slots: readonly HostSlot[], lver: bigint): string[] {
  const items = slots
    .filter((s): s is HostSlot & { dblock: Dblock } => s.dblock !== undefined && s.dblock.mbal !== 0n && s.dblock.lver >= lver)
    .map(dblockItem);
  const groups: string[] = [];
  for (let i = 0; i < items.length; i += DBLOCKS_PER_LINE) groups.push(items.slice(i, i + DBLOCKS_PER_LINE).join(""));
  if (groups.length === 0) groups.push("");
  return groups;
}

/** Emits `prefix + group` for every group but the last, then `lastPrefix + last group`. */
export function traceGroups(trace: PaxosTrace, groups: readonly string[], prefix: string, lastPrefix = prefix): void {
  groups.forEach((group, i) => trace(`${i === groups.length - 1 ? lastPrefix : prefix}${group}`));
}

/**
 * The slot index sanlock names as "max mbal[q]": it walks slots 0..num_hosts−1 keeping the first
 * with the largest mbal, but while every mbal seen is 0 it moves along, so an area without any
 * ballot names the last slot. `slots` lists only the non-empty slots.
 */
export function maxMbalIndex(slots: readonly HostSlot[], numHosts: number): { q: number; mbal: bigint } {
  let best: HostSlot | undefined;
  for (const slot of slots) {
    const m = slot.dblock?.mbal ?? 0n;
    if (m > (best?.dblock?.mbal ?? 0n)) best = slot;
  }
  return best?.dblock ? { q: best.hostId - 1, mbal: best.dblock.mbal } : { q: numHosts - 1, mbal: 0n };
}
