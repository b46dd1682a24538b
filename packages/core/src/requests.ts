/**
 * Requests against a resource lease (docs/algorithms.md §6.1, §6.2): the requester
 * writes the request record (sector 1) and then notifies the owner through its
 * delta-lease bitmap; the owner examines the record of each lease it holds.
 */
import type { Clock } from "./clock.js";
import { LeaseError } from "./lease-errors.js";
import {
  encodeRequestRecord,
  readRequestFields,
  REQ_DISK_MAGIC,
  REQ_DISK_VERSION,
  REQ_DISK_VERSION_MAJOR,
  type RequestRecord,
} from "./ondisk/request-record.js";
import { VERSION_MAJOR_MASK } from "./ondisk/leader-record.js";
import type { PaxosArea, ResourceLocation } from "./paxos-area.js";
import { openPaxosArea } from "./paxos-disk-set.js";
import type { PaxosLease } from "./paxos-lease.js";

const REQUEST_SECTOR = 1;

/** sanlock force modes (docs/ondisk.md §6.3). */
export const ForceMode = { NONE: 0, FORCE: 1, GRACEFUL: 2 } as const;

export interface RequestOptions {
  lockspace: string;
  location: ResourceLocation;
  /** Our host_id (the leader's num_hosts must cover it). */
  hostId: number;
  ioTimeout: number;
  clock: Clock;
  /** 0 none (clears with lver 0), 1 FORCE, 2 GRACEFUL. */
  forceMode: number;
  /** Requested version; 0n/undefined = the next version (leader lver + 1). */
  lver?: bigint;
}

export interface RequestOutcome {
  /** Host to notify (set its bit in our delta bitmap, docs/algorithms.md §6.1 step 6); undefined = nothing written. */
  notifyHostId: number | undefined;
  /** The version requested, when a request was written. */
  lver: bigint | undefined;
}

function requestSector(disk: PaxosArea, record: RequestRecord): Uint8Array {
  const sector = new Uint8Array(disk.geometry.sectorSize);
  sector.set(encodeRequestRecord(record), 0);
  return sector;
}

/** docs/algorithms.md §6.1 (requester side). */
export async function requestResource(options: RequestOptions): Promise<RequestOutcome> {
  const { forceMode } = options;
  if (![0, 1, 2].includes(forceMode)) throw new RangeError(`force_mode must be 0, 1 or 2, got ${forceMode}`);
  const disk = openPaxosArea(options.lockspace, options.location, options.hostId, options.ioTimeout, options.clock);
  await disk.detect();
  const wanted = options.lver ?? 0n;
  // Step 1: lver 0 with force_mode 0 clears any request; nobody is notified.
  if (wanted === 0n && forceMode === 0) {
    const cleared = { magic: REQ_DISK_MAGIC, version: REQ_DISK_VERSION, lver: 0n, forceMode: 0 };
    await disk.writeSector(REQUEST_SECTOR, requestSector(disk, cleared), "request write");
    return { notifyHostId: undefined, lver: undefined };
  }
  // Step 2: a free lease needs no request.
  const leader = await disk.readLeader();
  if (leader.timestamp === 0n) return { notifyHostId: undefined, lver: undefined };
  // Step 3.
  const lver = wanted === 0n ? leader.lver + 1n : wanted;
  if (leader.lver >= lver) throw new LeaseError("REQUEST_OLD", `resource ${options.location.resource}: lver ${leader.lver} already reached requested ${lver}`);
  // Step 4: never lower a pending request for a newer version.
  const current = readRequestFields(await disk.readSector(REQUEST_SECTOR, "request read"), 0);
  if (current.magic !== REQ_DISK_MAGIC)
    throw new LeaseError("REQUEST_MAGIC", `resource ${options.location.resource}: request record magic 0x${current.magic.toString(16)}`);
  if ((current.version & VERSION_MAJOR_MASK) >>> 0 !== REQ_DISK_VERSION_MAJOR) {
    throw new LeaseError("REQUEST_VERSION", `resource ${options.location.resource}: request record version 0x${current.version.toString(16)}`);
  }
  if (current.lver > lver) throw new LeaseError("REQUEST_LVER", `resource ${options.location.resource}: request for lver ${current.lver} already pending`);
  // Step 5.
  const record = { magic: REQ_DISK_MAGIC, version: REQ_DISK_VERSION, lver, forceMode };
  await disk.writeSector(REQUEST_SECTOR, requestSector(disk, record), "request write");
  return { notifyHostId: leader.ownerId, lver };
}

/**
 * docs/algorithms.md §6.2 step 2 (owner side): the force mode to act on, or undefined. Only
 * exclusively held leases are examined (docs/algorithms.md §8.4 item 12).
 */
export async function examineRequest(lease: PaxosLease): Promise<number | undefined> {
  if (lease.mode !== "exclusive") return undefined;
  const bytes = await lease.disk.readSector(REQUEST_SECTOR, "request read");
  const req = readRequestFields(bytes, 0);
  if (req.magic !== REQ_DISK_MAGIC || (req.version & VERSION_MAJOR_MASK) >>> 0 !== REQ_DISK_VERSION_MAJOR) return undefined;
  if (req.forceMode === 0 || req.lver === 0n || req.lver <= lease.lver) return undefined;
  return req.forceMode;
}
