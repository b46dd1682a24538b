// Resource index operations (docs/ondisk.md §8): format, read, lookup, update, and the on-disk
// parts of create / delete / rebuild. create, delete and rebuild must run while the caller
// holds the internal paxos lease at rx_offset + align_size (docs/ondisk.md §8.3); acquiring and releasing
// it is the paxos algorithm's job, not this module's.
import type { BlockDevice } from "../block-device.js";
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { Geometry } from "../ondisk/geometry.js";
import { alignFromRindexFlags, geometryFor, legacyGeometry } from "../ondisk/geometry.js";
import { PAXOS_DISK_MAGIC, readLeaderFields } from "../ondisk/leader-record.js";
import { nameBytes, namesEqual } from "../ondisk/names.js";
import type { RindexEntry, RindexHeader } from "../ondisk/rindex.js";
import {
  DEFAULT_MAX_RESOURCES,
  RINDEX_DISK_MAGIC,
  RINDEX_DISK_VERSION,
  RINDEX_ENTRY_SIZE,
  RINDEX_LEASE_NAME,
  decodeRindexEntry,
  decodeRindexHeader,
  emptyRindexEntry,
  isFreeRindexEntry,
  writeRindexEntry,
  writeRindexHeader,
} from "../ondisk/rindex.js";
import { checkAreaPlacement } from "./layout.js";
import { buildResourceArea, initResourceArea } from "./resource-area.js";

export interface RindexFormat {
  /** rx_offset: byte offset of the rindex area */
  offset: number;
  spaceName: string;
  geometry?: Geometry;
  /** default 4096, capped at the geometry's maximum (as sanlock does) */
  maxResources?: number;
}

/** max_resources as sanlock stores it: 0 -> 4096, then capped at the geometry limit. */
export function effectiveMaxResources(maxResources: number | undefined, geometry: Geometry): number {
  const wanted = maxResources === undefined || maxResources === 0 ? DEFAULT_MAX_RESOURCES : maxResources;
  if (!Number.isInteger(wanted) || wanted < 0) {
    throw new SanlockTsError(ErrorCodes.INVALID_ARGUMENT, `max_resources ${maxResources} is not a non-negative integer`);
  }
  return Math.min(wanted, geometry.maxRindexEntries);
}

/** Header + empty entries: the rindex area image written by format. */
export function buildRindexArea(format: RindexFormat, geometry: Geometry): Uint8Array {
  const area = new Uint8Array(geometry.alignSize);
  writeRindexHeader(area, 0, {
    magic: RINDEX_DISK_MAGIC,
    version: RINDEX_DISK_VERSION,
    flags: geometry.rindexAlignFlag,
    sectorSize: geometry.sectorSize,
    maxResources: effectiveMaxResources(format.maxResources, geometry),
    unused: 0,
    rxOffset: format.offset,
    lockspaceName: format.spaceName,
  });
  return area;
}

/** `sanlock direct format -x`: whole rindex area, then the internal lease "rindex_lease" (docs/ondisk.md §8.3). */
export async function formatRindex(device: BlockDevice, format: RindexFormat): Promise<Geometry> {
  const geometry = format.geometry ?? legacyGeometry(device.sectorSize);
  nameBytes(format.spaceName, "lockspace name");
  await checkAreaPlacement(device, format.offset, geometry);
  await checkAreaPlacement(device, format.offset + geometry.alignSize, geometry);
  await device.write(format.offset, buildRindexArea(format, geometry));
  await initResourceArea(device, {
    offset: format.offset + geometry.alignSize,
    spaceName: format.spaceName,
    resourceName: RINDEX_LEASE_NAME,
    geometry,
  });
  return geometry;
}

export interface RindexLocation {
  /** rx_offset */
  offset: number;
  /** lockspace name the header must carry, when known */
  spaceName?: string;
}

export interface RindexContent {
  header: RindexHeader;
  geometry: Geometry;
  /** the whole rindex area as read */
  area: Uint8Array;
  /** entries 0 .. max_resources-1 */
  entries: RindexEntry[];
}

function rindexGeometry(header: RindexHeader): Geometry {
  const align = alignFromRindexFlags(header.flags);
  return align === undefined ? legacyGeometry(header.sectorSize) : geometryFor(header.sectorSize, align);
}

/** Reads and validates the header (magic, version, lockspace name, rx_offset; docs/ondisk.md §8.1). */
export async function readRindexHeader(device: BlockDevice, loc: RindexLocation): Promise<{ header: RindexHeader; geometry: Geometry }> {
  const bytes = await device.read(loc.offset, device.sectorSize);
  const expect = loc.spaceName === undefined ? { at: loc.offset } : { at: loc.offset, lockspaceName: loc.spaceName };
  const header = decodeRindexHeader(bytes, 0, expect);
  return { header, geometry: rindexGeometry(header) };
}

/** Reads header and the whole rindex area, decoding max_resources entries. */
export async function readRindex(device: BlockDevice, loc: RindexLocation): Promise<RindexContent> {
  const { header, geometry } = await readRindexHeader(device, loc);
  await checkAreaPlacement(device, loc.offset, geometry, { requireAlignment: false });
  const area = await device.read(loc.offset, geometry.alignSize);
  const count = entryCount(header, geometry);
  const entries: RindexEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push(decodeRindexEntry(area, entryPositionInArea(geometry, i), loc.offset));
  }
  return { header, geometry, area, entries };
}

function entryCount(header: RindexHeader, geometry: Geometry): number {
  const declared = header.maxResources === 0 ? geometry.maxRindexEntries : header.maxResources;
  // Entries must fit in the area after the header sector.
  const fit = (geometry.alignSize - geometry.sectorSize) / RINDEX_ENTRY_SIZE;
  return Math.min(declared, fit);
}

function entryPositionInArea(geometry: Geometry, index: number): number {
  return geometry.sectorSize + index * RINDEX_ENTRY_SIZE;
}

function leaseOffsetOf(rx: RindexContent, index: number): number {
  return rx.header.rxOffset + (2 + index) * rx.geometry.alignSize;
}

export interface RindexMatch {
  index: number;
  /** lease offset that entry `index` describes */
  resOffset: number;
  entry: RindexEntry;
}

/** First free entry (docs/ondisk.md §8.2), or undefined when the index is full. */
export function findFreeEntry(rx: RindexContent): RindexMatch | undefined {
  const index = rx.entries.findIndex(isFreeRindexEntry);
  return index < 0 ? undefined : { index, resOffset: leaseOffsetOf(rx, index), entry: rx.entries[index]! };
}

/** Entry whose name equals `name` (strncmp over 48 bytes; empty names never match). */
export function findEntryByName(rx: RindexContent, name: string): RindexMatch | undefined {
  if (name === "") return undefined;
  const index = rx.entries.findIndex((e) => e.name !== "" && namesEqual(e.name, name));
  return index < 0 ? undefined : { index, resOffset: leaseOffsetOf(rx, index), entry: rx.entries[index]! };
}

/** Entry index recorded for lease offset resOffset; throws ERR_DEVICE_MISALIGNED / ERR_DEVICE_OUT_OF_RANGE. */
export function entryIndexForOffset(rx: RindexContent, resOffset: number): number {
  const align = rx.geometry.alignSize;
  if (resOffset % align !== 0) {
    throw new SanlockTsError(ErrorCodes.MISALIGNED, `resource offset ${resOffset} is not a multiple of the alignment ${align}`);
  }
  const index = (resOffset - rx.header.rxOffset - 2 * align) / align;
  if (!Number.isInteger(index) || index < 0 || index >= rx.entries.length) {
    throw new SanlockTsError(ErrorCodes.OUT_OF_RANGE, `resource offset ${resOffset} is not a lease slot of the rindex at ${rx.header.rxOffset}`);
  }
  return index;
}

/**
 * sanlock lookup semantics: no name and no offset -> first free slot; offset only -> the
 * entry's recorded name; name only -> its offset; both -> ERR_DISK_NAME_MISMATCH when they differ.
 * Throws ERR_DISK_RINDEX_NOT_FOUND / ERR_DISK_RINDEX_FULL when nothing matches.
 */
export async function lookupRindex(device: BlockDevice, loc: RindexLocation, query: { name?: string; resOffset?: number }): Promise<RindexMatch> {
  const rx = await readRindex(device, loc);
  const name = query.name ?? "";
  const offset = query.resOffset ?? 0;
  if (name === "" && offset === 0) {
    const free = findFreeEntry(rx);
    if (!free) throw new SanlockTsError(ErrorCodes.RINDEX_FULL, `rindex at ${loc.offset} has no free entry`);
    return free;
  }
  if (offset === 0) {
    const found = findEntryByName(rx, name);
    if (!found) throw new SanlockTsError(ErrorCodes.RINDEX_NOT_FOUND, `rindex at ${loc.offset} has no entry named "${name}"`);
    return found;
  }
  const index = entryIndexForOffset(rx, offset);
  const entry = rx.entries[index]!;
  if (name !== "" && !namesEqual(name, entry.name)) {
    throw new SanlockTsError(ErrorCodes.NAME_MISMATCH, `rindex entry for offset ${offset} is named "${entry.name}", not "${name}"`);
  }
  return { index, resOffset: offset, entry };
}

/** Rewrites the sector holding entry `index` with `entry` (rest of the sector as read). */
async function writeEntrySector(device: BlockDevice, rx: RindexContent, index: number, entry: RindexEntry): Promise<void> {
  const pos = entryPositionInArea(rx.geometry, index);
  const sectorStart = pos - (pos % rx.geometry.sectorSize);
  const sector = rx.area.slice(sectorStart, sectorStart + rx.geometry.sectorSize);
  writeRindexEntry(sector, pos - sectorStart, entry);
  await device.write(rx.header.rxOffset + sectorStart, sector);
  writeRindexEntry(rx.area, pos, entry);
  rx.entries[index] = entry;
}

/**
 * `direct/client update -x`: set entry for resOffset to `name`, or zero it when remove is
 * true (`-z 1`). No lease is touched.
 */
export async function updateRindex(
  device: BlockDevice,
  loc: RindexLocation,
  update: { resOffset: number; name?: string; remove?: boolean },
): Promise<RindexEntry> {
  const rx = await readRindex(device, loc);
  const index = entryIndexForOffset(rx, update.resOffset);
  let entry: RindexEntry;
  if (update.remove) {
    entry = emptyRindexEntry();
  } else {
    if (!update.name) throw new SanlockTsError(ErrorCodes.INVALID_ARGUMENT, "rindex update needs a name (or remove)");
    nameBytes(update.name, "resource name");
    entry = { resOffset: update.resOffset, flags: 0, unused: 0, name: update.name };
  }
  await writeEntrySector(device, rx, index, entry);
  return entry;
}

/**
 * On-disk part of rindex create (caller holds the internal lease): pick the first free
 * entry, initialise a paxos lease there, then record name and offset in the entry.
 * Like sanlock, does not refuse a name that is already present.
 */
export async function createRindexEntry(device: BlockDevice, loc: RindexLocation, create: { name: string; numHosts?: number }): Promise<RindexMatch> {
  nameBytes(create.name, "resource name");
  const rx = await readRindex(device, loc);
  const free = findFreeEntry(rx);
  if (!free) throw new SanlockTsError(ErrorCodes.RINDEX_FULL, `rindex at ${loc.offset} has no free entry`);
  await initResourceArea(device, {
    offset: free.resOffset,
    spaceName: rx.header.lockspaceName,
    resourceName: create.name,
    geometry: rx.geometry,
    ...(create.numHosts !== undefined ? { numHosts: create.numHosts } : {}),
  });
  const entry: RindexEntry = { resOffset: free.resOffset, flags: 0, unused: 0, name: create.name };
  await writeEntrySector(device, rx, free.index, entry);
  return { ...free, entry };
}

/**
 * On-disk part of rindex delete (caller holds the internal lease): zero the entry named
 * `name`, then rewrite its lease area as a cleared lease with write_timestamp clearTimestamp.
 */
export async function deleteRindexEntry(device: BlockDevice, loc: RindexLocation, del: { name: string; clearTimestamp: bigint }): Promise<RindexMatch> {
  const rx = await readRindex(device, loc);
  const found = findEntryByName(rx, del.name);
  if (!found) throw new SanlockTsError(ErrorCodes.RINDEX_NOT_FOUND, `rindex at ${loc.offset} has no entry named "${del.name}"`);
  // Validate the lease placement before the first write, so a bad device changes nothing.
  const cleared = buildResourceArea({ spaceName: rx.header.lockspaceName, resourceName: found.entry.name, clearTimestamp: del.clearTimestamp }, rx.geometry);
  await checkAreaPlacement(device, found.resOffset, rx.geometry);
  await writeEntrySector(device, rx, found.index, emptyRindexEntry());
  await device.write(found.resOffset, cleared);
  return found;
}

/**
 * Rebuild (caller holds the internal lease unless told otherwise): zero all entries, then for
 * each slot read the lease's first sector and record it when its magic is the paxos magic
 * (cleared leases are not re-added); stops at the end of the device. Writes the whole area.
 */
export async function rebuildRindex(device: BlockDevice, loc: RindexLocation): Promise<RindexEntry[]> {
  const rx = await readRindex(device, loc);
  const area = rx.area;
  area.fill(0, rx.geometry.sectorSize);
  const size = await device.size();
  const found: RindexEntry[] = [];
  for (let i = 0; i < rx.entries.length; i++) {
    const leaseOffset = leaseOffsetOf(rx, i);
    if (leaseOffset + rx.geometry.sectorSize > size) break;
    const first = await device.read(leaseOffset, rx.geometry.sectorSize);
    // Magic first: a non-lease area may hold anything, including out-of-range u64s.
    if (new DataView(first.buffer, first.byteOffset).getUint32(0, true) !== PAXOS_DISK_MAGIC) continue;
    const leader = readLeaderFields(first, 0, leaseOffset);
    const entry: RindexEntry = { resOffset: leaseOffset, flags: 0, unused: 0, name: leader.resourceName };
    writeRindexEntry(area, entryPositionInArea(rx.geometry, i), entry);
    found.push(entry);
  }
  await device.write(loc.offset, area);
  return found;
}
