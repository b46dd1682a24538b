// Whole-resource-lease operations of `sanlock direct init -r` and read_leader -r (docs/ondisk.md §6).
import type { BlockDevice } from "../block-device.js";
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { Geometry } from "../ondisk/geometry.js";
import { legacyGeometry } from "../ondisk/geometry.js";
import type { LeaderRecord } from "../ondisk/leader-record.js";
import { PAXOS_DISK_CLEAR, PAXOS_DISK_MAGIC, PAXOS_DISK_VERSION, decodeLeader, emptyLeader, writeLeader } from "../ondisk/leader-record.js";
import { nameBytes } from "../ondisk/names.js";
import type { RequestRecord } from "../ondisk/request-record.js";
import { decodeRequestRecord, initialRequest, writeRequestRecord } from "../ondisk/request-record.js";
import { resolveGeometry } from "./detect.js";
import { checkAreaPlacement, requestSectorOffset } from "./layout.js";

export interface ResourceAreaInit {
  /** byte offset of the resource lease area */
  offset: number;
  spaceName: string;
  resourceName: string;
  /** default: the device's logical sector size with the legacy alignment */
  geometry?: Geometry;
  /** dblock slots in use; 0/undefined or above max_hosts means max_hosts (as sanlock clamps) */
  numHosts?: number;
  /**
   * When given, writes a cleared lease (magic 0x11282016, `direct init -r -z 1`) with this
   * write_timestamp (the writer's monotonic seconds; core has no clock of its own).
   */
  clearTimestamp?: bigint;
}

/** num_hosts as sanlock stores it: 0 or > max_hosts become max_hosts. */
export function effectiveNumHosts(numHosts: number | undefined, geometry: Geometry): number {
  if (numHosts === undefined || numHosts === 0 || numHosts > geometry.maxHosts) return geometry.maxHosts;
  if (!Number.isInteger(numHosts) || numHosts < 0) {
    throw new SanlockTsError(ErrorCodes.INVALID_ARGUMENT, `num_hosts ${numHosts} is not a non-negative integer`, { numHosts });
  }
  return numHosts;
}

/** The leader written by init (free, lver 0) or by clear (magic PAXOS_DISK_CLEAR). */
export function initialPaxosLeader(init: Omit<ResourceAreaInit, "offset" | "geometry">, geometry: Geometry): LeaderRecord {
  nameBytes(init.spaceName, "lockspace name");
  nameBytes(init.resourceName, "resource name");
  const cleared = init.clearTimestamp !== undefined;
  return {
    ...emptyLeader(),
    magic: cleared ? PAXOS_DISK_CLEAR : PAXOS_DISK_MAGIC,
    version: PAXOS_DISK_VERSION,
    flags: geometry.leaderAlignFlag,
    sectorSize: geometry.sectorSize,
    numHosts: effectiveNumHosts(init.numHosts, geometry),
    maxHosts: geometry.maxHosts,
    spaceName: init.spaceName,
    resourceName: init.resourceName,
    writeTimestamp: init.clearTimestamp ?? 0n,
  };
}

/** The whole area image of init/clear: leader, request record, everything else zero. */
export function buildResourceArea(init: Omit<ResourceAreaInit, "offset" | "geometry">, geometry: Geometry): Uint8Array {
  const area = new Uint8Array(geometry.alignSize);
  writeLeader(area, 0, initialPaxosLeader(init, geometry));
  writeRequestRecord(area, geometry.sectorSize, initialRequest());
  return area;
}

/** `sanlock direct init -r` (and `-z 1`): one write of the whole area (docs/ondisk.md §6.2, §10). */
export async function initResourceArea(device: BlockDevice, init: ResourceAreaInit): Promise<Geometry> {
  const geometry = init.geometry ?? legacyGeometry(device.sectorSize);
  const image = buildResourceArea(init, geometry);
  await checkAreaPlacement(device, init.offset, geometry);
  await device.write(init.offset, image);
  return geometry;
}

export interface PaxosLeaderLocation {
  offset: number;
  geometry?: Geometry;
  spaceName?: string;
  resourceName?: string;
  /** paxos check num_hosts >= hostId (docs/ondisk.md §4) */
  hostId?: number;
}

/**
 * Reads and validates the leader of a resource lease (docs/ondisk.md §4 paxos rules). A cleared lease
 * throws ERR_DISK_LEASE_CLEARED; other failures name the field and byte.
 */
export async function readPaxosLeader(device: BlockDevice, loc: PaxosLeaderLocation): Promise<{ leader: LeaderRecord; geometry: Geometry }> {
  const geometry = await resolveGeometry(device, loc.offset, loc.geometry);
  const bytes = await device.read(loc.offset, geometry.sectorSize);
  const leader = decodeLeader(bytes, 0, {
    kind: "paxos",
    at: loc.offset,
    ...(loc.spaceName !== undefined ? { spaceName: loc.spaceName } : {}),
    ...(loc.resourceName !== undefined ? { resourceName: loc.resourceName } : {}),
    ...(loc.hostId !== undefined ? { hostId: loc.hostId } : {}),
  });
  return { leader, geometry };
}

/** Reads and checks (magic, version major) the request record of the lease at offset. */
export async function readRequestRecord(device: BlockDevice, offset: number, geometry: Geometry): Promise<RequestRecord> {
  const at = requestSectorOffset(offset, geometry);
  return decodeRequestRecord(await device.read(at, geometry.sectorSize), 0, at);
}

/** Reads the whole resource area (leader, request, dblocks), as a ballot's first step does (docs/ondisk.md §7.1). */
export async function readResourceArea(device: BlockDevice, offset: number, geometry: Geometry): Promise<Uint8Array> {
  await checkAreaPlacement(device, offset, geometry, { requireAlignment: false });
  return device.read(offset, geometry.alignSize);
}
