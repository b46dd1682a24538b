// Where the simulated lockspace and resources live on the shared disk, and how an I/O range is
// described in the trace: which record it covers and the fields that matter for the algorithms
// (ondisk.md: delta sectors, paxos leader, request record, dblock + mode block).

import { readLeaderFields } from "../ondisk/leader-record.js";
import { readDblockFields } from "../ondisk/dblock.js";
import { decodeModeBlock, MBLOCK_OFFSET, MBLOCK_SHARED } from "../ondisk/mode-block.js";
import { DBLOCK_FL_RELEASED } from "../ondisk/dblock.js";
import { MAX_DISKS } from "../limits.js";

// 4 KiB sectors with 1 MiB alignment (max_hosts 250): renewals then read and examine 250 records,
// not 2000, which keeps thousands of simulated seeds fast.
export const SIM_SECTOR_SIZE = 4096;
export const SIM_ALIGN_SIZE = 1024 * 1024;
export const SIM_LOCKSPACE = "simls";
export const MAX_SIM_RESOURCES = 8;

export interface SimLayout {
  readonly sectorSize: number;
  readonly alignSize: number;
  readonly lockspaceOffset: number;
  readonly resources: ReadonlyArray<SimResource>;
  readonly diskBytes: number;
}

export interface SimResource {
  readonly name: string;
  /** The area on the resource's first disk. */
  readonly offset: number;
  /**
   * Areas of the resource's disks 2..N (docs/algorithms.md §4.11). The simulated disks share one
   * SharedDisk, each copy in an area of its own; ReplicaDevice makes one of them fail or stall.
   */
  readonly replicas: readonly number[];
}

export function makeLayout(resourceCount: number, disks = 1): SimLayout {
  if (!Number.isInteger(resourceCount) || resourceCount < 1 || resourceCount > MAX_SIM_RESOURCES) {
    throw new RangeError(`resource count must be 1..${MAX_SIM_RESOURCES}, got ${resourceCount}`);
  }
  if (!Number.isInteger(disks) || disks < 1 || disks > MAX_DISKS) throw new RangeError(`disk count must be 1..${MAX_DISKS}, got ${disks}`);
  const resources: SimResource[] = [];
  for (let i = 0; i < resourceCount; i++) {
    const replicas: number[] = [];
    for (let d = 1; d < disks; d++) replicas.push((1 + d * resourceCount + i) * SIM_ALIGN_SIZE);
    resources.push({ name: `res${i + 1}`, offset: (i + 1) * SIM_ALIGN_SIZE, replicas });
  }
  return {
    sectorSize: SIM_SECTOR_SIZE,
    alignSize: SIM_ALIGN_SIZE,
    lockspaceOffset: 0,
    resources,
    diskBytes: (resourceCount * disks + 1) * SIM_ALIGN_SIZE,
  };
}

/** The resource whose area (on any of its disks) is area number `area`, and which disk it is. */
export function resourceOfArea(layout: SimLayout, area: number): { resource: SimResource; disk: number } | undefined {
  if (area < 1) return undefined;
  const count = layout.resources.length;
  const resource = layout.resources[(area - 1) % count];
  const disk = Math.floor((area - 1) / count);
  if (!resource || disk > resource.replicas.length) return undefined;
  return { resource, disk };
}

function describeDeltaSector(hostId: number, data: Uint8Array, at: number): string {
  const rec = readLeaderFields(data, at);
  if (rec.magic === 0) return `delta[${hostId}] zero`;
  return `delta[${hostId}] owner ${rec.ownerId} gen ${rec.ownerGeneration} ts ${rec.timestamp} io ${rec.ioTimeout} name ${rec.resourceName.slice(0, 12)}`;
}

function describeResourceSector(name: string, sector: number, data: Uint8Array, at: number): string {
  if (sector === 0) {
    const l = readLeaderFields(data, at);
    return `${name}.leader lver ${l.lver} owner ${l.ownerId}/${l.ownerGeneration} ts ${l.timestamp} by ${l.writeId} flags ${l.flags}`;
  }
  if (sector === 1) return `${name}.request`;
  const d = readDblockFields(data, at);
  const m = decodeModeBlock(data, at + MBLOCK_OFFSET);
  const flags = `${d.flags & DBLOCK_FL_RELEASED ? " RELEASED" : ""}${m.flags & MBLOCK_SHARED ? ` SH/g${m.generation}` : ""}`;
  return `${name}.dblock[${sector - 1}] mbal ${d.mbal} bal ${d.bal} inp ${d.inp}/${d.inp2}/${d.inp3} lver ${d.lver}${flags}`;
}

/** A short text for an I/O range; with data, the decoded records (at most a few sectors). */
export function describeIo(layout: SimLayout, offset: number, length: number, data: Uint8Array | undefined): string {
  const ss = layout.sectorSize;
  const sectors = length / ss;
  const area = Math.floor(offset / layout.alignSize);
  const first = (offset - area * layout.alignSize) / ss;
  const owner = resourceOfArea(layout, area);
  const name = area === 0 ? "ls" : owner ? `${owner.resource.name}${owner.disk > 0 ? `/d${owner.disk + 1}` : ""}` : `area${area}`;
  if (data === undefined || sectors > 2) {
    return sectors === 1 ? `${name} sector ${first}` : `${name} sectors ${first}..${first + sectors - 1}`;
  }
  const parts: string[] = [];
  for (let i = 0; i < sectors; i++) {
    try {
      parts.push(area === 0 ? describeDeltaSector(first + i + 1, data, i * ss) : describeResourceSector(name, first + i, data, i * ss));
    } catch {
      parts.push(`${name} sector ${first + i} (undecodable)`);
    }
  }
  return parts.join("; ");
}
