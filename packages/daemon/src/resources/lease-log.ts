/**
 * Log lines of resource leases in sanlock's words (its resource.c / paxos_lease.c lines), with
 * sanlock's tags: `s<space_id>:r<res_id>` for a resource of a lockspace. The daemon logs what it
 * sees from outside the core's algorithm (the leader before and after); the ballot's own steps
 * (first read, phase 1 and 2 writes and reads, commit) come from the core through `acquireTrace`.
 * These read only fields that exist before the first I/O (never the lease's geometry), so a log
 * line cannot fail an acquire.
 */
import type { PaxosTrace } from "@sanlock-ts/core";
import type { HeldResource } from "./tokens.js";

type Log = (level: "error" | "warn" | "info" | "debug", message: string) => void;

function tag(spaceId: number | undefined, resource: HeldResource): string {
  return spaceId === undefined ? `r${resource.resId}` : `s${spaceId}:r${resource.resId}`;
}

function leaderText(resource: HeldResource): string {
  const leader = resource.lease.leader;
  return leader === undefined ? "0 owner 0 0 0" : `${leader.lver} owner ${leader.ownerId} ${leader.ownerGeneration} ${leader.timestamp}`;
}

/** Before the disk acquire: which lease, where. */
export function logAcquireBegin(log: Log, spaceId: number, resource: HeldResource): void {
  const disk = resource.disks[0];
  log(
    "info",
    `${tag(spaceId, resource)} resource ${resource.lockspace}:${resource.name}:${disk?.path ?? ""}:${disk?.offset ?? 0n}${resource.shared ? ":SH" : ""}`,
  );
  // The geometry is known only once the acquire has read the leader: not logged here.
  log("info", `${tag(spaceId, resource)} paxos_acquire begin offset ${disk?.offset ?? 0n}`);
}

/** The core's acquire steps (paxos-trace.ts), under this resource's tag. */
export function acquireTrace(log: Log, spaceId: number, resource: HeldResource): PaxosTrace {
  const where = tag(spaceId, resource);
  return (line) => log("info", `${where} ${line}`);
}

/** After the disk acquire: its result and the leader now on disk. */
export function logAcquireDone(log: Log, spaceId: number, resource: HeldResource, result: number): void {
  const lver = resource.lease.leader?.lver ?? 0n;
  const at = resource.lease.leader?.timestamp ?? 0n;
  log("info", `${tag(spaceId, resource)} acquire_disk rv ${result === 0 ? 1 : result} lver ${lver} at ${at}`);
}

/** sanlock's r_flags of a held resource: R_SHARED (1) while held shared. */
function rFlags(resource: HeldResource): number {
  return resource.shared ? 1 : 0;
}

/** The last local holder let go: the on-disk release (`background` when its client is gone). Returns the leader as held, for the done line. */
export function logReleaseBegin(log: Log, spaceId: number | undefined, resource: HeldResource, background: boolean): string {
  // sanlock names the lver only for a release by its holder (release_token), not for the async one.
  const lver = background ? "" : ` lver ${resource.lease.leader?.lver ?? 0n}`;
  // sanlock's async release (a client gone) names the resource only: "r2 release async".
  log("info", `${tag(background ? undefined : spaceId, resource)} ${background ? "release async" : "release_token"} r_flags ${rFlags(resource)}${lver}`);
  return leaderText(resource);
}

export function logReleaseDone(log: Log, spaceId: number | undefined, resource: HeldResource, background: boolean, heldLeader: string, result: number): void {
  const where = tag(background ? undefined : spaceId, resource);
  // A shared release writes only our dblock (the core logs write_host_block); no leader to free.
  if (result === 0 && !resource.shared) log("info", `${where} paxos_release leader ${heldLeader}`);
  const what = background ? "release async" : "release_token";
  log("info", `${where} ${what} done r_flags ${rFlags(resource)}${result === 0 ? "" : ` rv ${result}`}`);
}
