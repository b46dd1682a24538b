// Resource index header (sector 0 of the rindex area) and 64-byte entries (sectors 1..),
// docs/ondisk.md §8.1-8.2. No checksum anywhere in the rindex format.
import { ErrorCodes } from "../errors.js";
import { hex32, readU64AsNumber, requireBytes, writeU32, writeU64 } from "./bytes.js";
import type { DecodeProblem } from "./decode-problem.js";
import { throwFirst } from "./decode-problem.js";
import type { Geometry } from "./geometry.js";
import { VERSION_MAJOR_MASK } from "./leader-record.js";
import { namesEqual, readName, writeName } from "./names.js";

export const RINDEX_DISK_MAGIC = 0x01042018;
export const RINDEX_DISK_VERSION = 0x00010002;
export const RINDEX_DISK_VERSION_MAJOR = 0x00010000;
export const RINDEX_HEADER_SIZE = 80;
export const RINDEX_ENTRY_SIZE = 64;
export const DEFAULT_MAX_RESOURCES = 4096;
export const RINDEX_LEASE_NAME = "rindex_lease";

export interface RindexHeader {
  magic: number;
  version: number;
  /** RHF_ALIGN_* bit */
  flags: number;
  sectorSize: number;
  maxResources: number;
  unused: number;
  /** byte offset of this header on the device */
  rxOffset: number;
  lockspaceName: string;
}

export interface RindexEntry {
  /** byte offset of the resource lease; 0 in a free entry */
  resOffset: number;
  flags: number;
  unused: number;
  name: string;
}

export function writeRindexHeader(out: Uint8Array, offset: number, h: RindexHeader): void {
  requireBytes(out, offset, RINDEX_HEADER_SIZE, "rindex header");
  const v = new DataView(out.buffer, out.byteOffset + offset, RINDEX_HEADER_SIZE);
  writeU32(v, 0, h.magic, "rindex magic");
  writeU32(v, 4, h.version, "rindex version");
  writeU32(v, 8, h.flags, "rindex flags");
  writeU32(v, 12, h.sectorSize, "rindex sector_size");
  writeU32(v, 16, h.maxResources, "rindex max_resources");
  writeU32(v, 20, h.unused, "rindex unused");
  writeU64(v, 24, h.rxOffset, "rindex rx_offset");
  writeName(out, offset + 32, h.lockspaceName, "lockspace_name");
}

export function encodeRindexHeader(h: RindexHeader): Uint8Array {
  const out = new Uint8Array(RINDEX_HEADER_SIZE);
  writeRindexHeader(out, 0, h);
  return out;
}

export function readRindexHeaderFields(bytes: Uint8Array, offset = 0, at = 0): RindexHeader {
  requireBytes(bytes, offset, RINDEX_HEADER_SIZE, "rindex header");
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, RINDEX_HEADER_SIZE);
  return {
    magic: v.getUint32(0, true),
    version: v.getUint32(4, true),
    flags: v.getUint32(8, true),
    sectorSize: v.getUint32(12, true),
    maxResources: v.getUint32(16, true),
    unused: v.getUint32(20, true),
    rxOffset: readU64AsNumber(v, 24, "rx_offset", at + offset),
    lockspaceName: readName(bytes, offset + 32),
  };
}

export interface RindexExpectation {
  /** absolute device offset of bytes[offset]; also the rx_offset the header must carry */
  at: number;
  lockspaceName?: string;
}

export function rindexHeaderProblems(h: RindexHeader, expect: RindexExpectation, base: number): DecodeProblem[] {
  const problem = (code: string, field: string, rel: number, msg: string): DecodeProblem[] => [
    { code, field, offset: base + rel, message: `${msg} (field ${field} at byte ${base + rel})` },
  ];
  if (h.magic !== RINDEX_DISK_MAGIC) {
    return problem(ErrorCodes.BAD_MAGIC, "magic", 0, `rindex header magic is ${hex32(h.magic)}, expected ${hex32(RINDEX_DISK_MAGIC)}`);
  }
  if ((h.version & VERSION_MAJOR_MASK) >>> 0 !== RINDEX_DISK_VERSION_MAJOR) {
    return problem(ErrorCodes.BAD_VERSION, "version", 4, `rindex version ${hex32(h.version)} has major other than ${hex32(RINDEX_DISK_VERSION_MAJOR)}`);
  }
  if (expect.lockspaceName !== undefined && !namesEqual(h.lockspaceName, expect.lockspaceName)) {
    return problem(ErrorCodes.NAME_MISMATCH, "lockspace_name", 32, `rindex lockspace_name "${h.lockspaceName}" is not "${expect.lockspaceName}"`);
  }
  if (h.rxOffset !== expect.at) {
    return problem(ErrorCodes.FIELD_RANGE, "rx_offset", 24, `rindex rx_offset ${h.rxOffset} differs from where the header was read (${expect.at})`);
  }
  return [];
}

/** Decodes and validates a header (docs/ondisk.md §8.1): magic, version major, lockspace name, rx_offset. */
export function decodeRindexHeader(bytes: Uint8Array, offset: number, expect: RindexExpectation): RindexHeader {
  const h = readRindexHeaderFields(bytes, offset, expect.at);
  throwFirst(rindexHeaderProblems(h, expect, expect.at + offset));
  return h;
}

export function writeRindexEntry(out: Uint8Array, offset: number, e: RindexEntry): void {
  requireBytes(out, offset, RINDEX_ENTRY_SIZE, "rindex entry");
  const v = new DataView(out.buffer, out.byteOffset + offset, RINDEX_ENTRY_SIZE);
  writeU64(v, 0, e.resOffset, "entry res_offset");
  writeU32(v, 8, e.flags, "entry flags");
  writeU32(v, 12, e.unused, "entry unused");
  writeName(out, offset + 16, e.name, "entry name");
}

export function encodeRindexEntry(e: RindexEntry): Uint8Array {
  const out = new Uint8Array(RINDEX_ENTRY_SIZE);
  writeRindexEntry(out, 0, e);
  return out;
}

export function decodeRindexEntry(bytes: Uint8Array, offset = 0, at = 0): RindexEntry {
  requireBytes(bytes, offset, RINDEX_ENTRY_SIZE, "rindex entry");
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, RINDEX_ENTRY_SIZE);
  return {
    resOffset: readU64AsNumber(v, 0, "res_offset", at + offset),
    flags: v.getUint32(8, true),
    unused: v.getUint32(12, true),
    name: readName(bytes, offset + 16),
  };
}

export function emptyRindexEntry(): RindexEntry {
  return { resOffset: 0, flags: 0, unused: 0, name: "" };
}

/** Free entry (docs/ondisk.md §8.2): res_offset 0 and empty name. */
export function isFreeRindexEntry(e: RindexEntry): boolean {
  return e.resOffset === 0 && e.name === "";
}

/** Absolute offset of entry i: rx_offset + sector_size + i * 64. */
export function rindexEntryOffset(rxOffset: number, geometry: Geometry, index: number): number {
  return rxOffset + geometry.sectorSize + index * RINDEX_ENTRY_SIZE;
}

/** Absolute offset of the resource lease described by entry i: rx_offset + (2 + i) * align_size. */
export function rindexLeaseOffset(rxOffset: number, geometry: Geometry, index: number): number {
  return rxOffset + (2 + index) * geometry.alignSize;
}

/** Entry index for a lease offset, or undefined when the offset is not an entry's lease. */
export function rindexEntryIndex(rxOffset: number, geometry: Geometry, resOffset: number, maxResources: number): number | undefined {
  const rel = resOffset - rxOffset - 2 * geometry.alignSize;
  if (rel < 0 || rel % geometry.alignSize !== 0) return undefined;
  const index = rel / geometry.alignSize;
  return index < maxResources ? index : undefined;
}
