/**
 * What resource leases need of a joined lockspace. Declared here, on the resources side, so that
 * resources never import lockspaces (lockspaces/lockspace.ts implements it, and the lockspaces
 * own the resource manager): the two folders import each other in one direction only.
 */
import type { PaxosHost } from "@sanlock-ts/core";

export interface LeaseLockspace {
  readonly name: string;
  /** sanlock's lockspace number, as its logs name it ("s1"). */
  readonly spaceId: number;
  /** "live" once joined and renewing (lockspaces/lockspace.ts LockspaceState). */
  readonly state: string;
  /** rem_lockspace was asked for: no new lease may be granted (docs/algorithms.md §7.11 rule 3). */
  readonly removeRequested: boolean;
  readonly spec: { readonly hostId: number; readonly ioTimeout: number };
  /** The lockspace area's sector and alignment sizes (a geometry hint for its leases). */
  readonly geometry: { readonly sectorSize: number; readonly alignSize: number };
  /** Joined, renewing, not being removed, with this host_id and generation. */
  isUsable(hostId: number, generation: bigint): boolean;
  /** The host identity and liveness the Paxos algorithms run with. */
  paxosHost(): PaxosHost;
  /** Set host_id's bit in our delta-lease bitmap (a REQUEST's notification, docs/algorithms.md §6.1). */
  notifyHost(hostId: number): void;
}
