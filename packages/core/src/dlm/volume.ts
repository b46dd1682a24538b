// A DLM volume on shared storage (docs/dlm.md §4.1): the sanlock lockspace with the DLM lockspace
// header in its last sector, the host area, the rindex and its lease, then one lease area per
// resource. Format writes the first four; resources are created later.
import { buildLockspaceAreaFirstWrite, freeDeltaLeader } from "../areas/lockspace-area.js";
import { buildRindexArea } from "../areas/rindex-area.js";
import { buildResourceArea } from "../areas/resource-area.js";
import type { BlockDevice } from "../block-device.js";
import { NAME_LEN } from "../limits.js";
import { encodeDeltaSector } from "../ondisk/delta-sector.js";
import { type Geometry, detectGeometry } from "../ondisk/geometry.js";
import { RINDEX_LEASE_NAME } from "../ondisk/rindex.js";
import {
  DEFAULT_LVB_LEN,
  DEFAULT_POLL_MS,
  LOCKSPACE_HEADER_SIZE,
  type LockspaceHeader,
  decodeLockspaceHeader,
  encodeLockspaceHeader,
} from "./lockspace-header.js";

export interface VolumeFormat {
  /** Byte offset of the volume (its lockspace area). */
  readonly offset: number;
  readonly name: string;
  readonly geometry: Geometry;
  readonly lockspaceId: bigint;
  readonly lvbLen?: number;
  readonly exflags?: number;
  readonly numHosts?: number;
  readonly maxResources?: number;
  readonly cluster?: string;
  readonly pollMs?: number;
  readonly ioTimeout?: number;
  /** Wall-clock seconds, informational only. */
  readonly formatTime?: bigint;
}

/** num_hosts of every resource when none is given (a ballot then reads 128 sectors). */
export const DEFAULT_DLM_NUM_HOSTS = 126;
export const DEFAULT_DLM_MAX_RESOURCES = 1024;

/** The lockspace header of a format (docs/dlm.md §4.2). */
export function volumeHeader(f: VolumeFormat): LockspaceHeader {
  const a = f.geometry.alignSize;
  return {
    exflags: f.exflags ?? 0,
    lvbLen: f.lvbLen ?? DEFAULT_LVB_LEN,
    numHosts: f.numHosts ?? DEFAULT_DLM_NUM_HOSTS,
    maxResources: f.maxResources ?? DEFAULT_DLM_MAX_RESOURCES,
    sectorSize: f.geometry.sectorSize,
    alignSize: a,
    hostAreaOffset: BigInt(f.offset + a),
    rindexOffset: BigInt(f.offset + 2 * a),
    lockspaceId: f.lockspaceId,
    name: f.name,
    cluster: f.cluster ?? "",
    pollMs: f.pollMs ?? DEFAULT_POLL_MS,
    formatTime: f.formatTime ?? 0n,
  };
}

/** Where the header lives: the last sector of the lockspace area (sanlock never writes it after init). */
export function headerOffset(offset: number, geometry: Geometry): number {
  return offset + geometry.alignSize - geometry.sectorSize;
}

/** Byte offset of the resource area of rindex entry `i`. */
export function resourceAreaOffset(volumeOffset: number, geometry: Geometry, entry: number): number {
  return volumeOffset + (4 + entry) * geometry.alignSize;
}

/**
 * docs/dlm.md §4.1: the lockspace (sanlock's two-step init), its header, an empty host area, the
 * rindex and its internal lease — written in that order, the lockspace commit (sector 0) before
 * the header so that a crash leaves no header over an unfinished lockspace.
 */
export async function formatVolume(device: BlockDevice, f: VolumeFormat): Promise<LockspaceHeader> {
  if (new TextEncoder().encode(f.name).length >= NAME_LEN) throw new RangeError(`lockspace name "${f.name}" is longer than ${NAME_LEN - 1} bytes`);
  const g = f.geometry;
  const header = volumeHeader(f);
  const first = buildLockspaceAreaFirstWrite(f.name, g, f.ioTimeout);
  await device.write(f.offset, first);
  await device.write(f.offset, encodeDeltaSector(freeDeltaLeader(f.name, g, f.ioTimeout), g.sectorSize));
  const sector = new Uint8Array(g.sectorSize);
  sector.set(encodeLockspaceHeader(header).subarray(0, LOCKSPACE_HEADER_SIZE));
  await device.write(headerOffset(f.offset, g), sector);
  await device.write(f.offset + g.alignSize, new Uint8Array(g.alignSize));
  await device.write(
    f.offset + 2 * g.alignSize,
    buildRindexArea({ offset: f.offset + 2 * g.alignSize, spaceName: f.name, maxResources: header.maxResources }, g),
  );
  await device.write(f.offset + 3 * g.alignSize, buildResourceArea({ spaceName: f.name, resourceName: RINDEX_LEASE_NAME }, g));
  return header;
}

/** Reads and validates the lockspace header; throws for an absent or damaged one. */
export async function readVolumeHeader(device: BlockDevice, offset: number, geometry: Geometry): Promise<LockspaceHeader> {
  const bytes = await device.read(headerOffset(offset, geometry), geometry.sectorSize);
  return decodeLockspaceHeader(bytes, 0);
}

/** The geometry of the lockspace area at `offset`, from its delta leader (a DLM volume's first sector). */
export async function detectVolumeGeometry(device: BlockDevice, offset: number): Promise<Geometry> {
  const first = await device.read(offset, device.sectorSize);
  const geometry = detectGeometry(first);
  if (geometry === undefined) throw new RangeError(`no sanlock lockspace at offset ${offset}: not a DLM volume`);
  return geometry;
}
