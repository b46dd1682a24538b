// The 200-byte leader record of delta and paxos leases (docs/ondisk.md §4).
//
// Number representation: u64 fields that hold host ids or host counts (num_hosts, max_hosts,
// owner_id) are JS numbers, rejected on decode when above 2^53-1 (ERR_DISK_FIELD_RANGE), so no
// bits are ever lost. u64 fields that hold counters, times or arbitrary user values
// (owner_generation, lver, timestamp, unused1 and write_*: in delta records write_* carry
// set_event's arbitrary 64-bit generation/event/data) are bigint.
import { ErrorCodes, SanlockTsError } from "../errors.js";
import { hex32, readU64AsNumber, requireBytes, writeU16, writeU32, writeU64 } from "./bytes.js";
import { sanlockCrc32c } from "./crc32c.js";
import type { DecodeProblem } from "./decode-problem.js";
import { throwFirst } from "./decode-problem.js";
import { nameBytes, readName, writeName, namesEqual } from "./names.js";

export const DELTA_DISK_MAGIC = 0x12212010;
export const PAXOS_DISK_MAGIC = 0x06152010;
export const PAXOS_DISK_CLEAR = 0x11282016;
export const DELTA_DISK_VERSION = 0x00030004;
export const PAXOS_DISK_VERSION = 0x00060004;
export const DELTA_DISK_VERSION_MAJOR = 0x00030000;
export const PAXOS_DISK_VERSION_MAJOR = 0x00060000;
export const VERSION_MAJOR_MASK = 0xffff0000;
export const LEADER_RECORD_SIZE = 200;
export const LEADER_RECORD_MAX = 256;
export const LEADER_COMPARE_LEN = 152;
export const LEADER_CHECKSUM_LEN = 168;
export const LFL_SHORT_HOLD = 0x1;
/** timestamp value meaning "free" */
export const LEASE_FREE = 0n;

/** Byte offsets of the fields inside the record (docs/ondisk.md §4 table). */
export const LeaderOffsets = {
  magic: 0,
  version: 4,
  flags: 8,
  sectorSize: 12,
  numHosts: 16,
  maxHosts: 24,
  ownerId: 32,
  ownerGeneration: 40,
  lver: 48,
  spaceName: 56,
  resourceName: 104,
  timestamp: 152,
  unused1: 160,
  checksum: 168,
  unused2: 172,
  ioTimeout: 174,
  writeId: 176,
  writeGeneration: 184,
  writeTimestamp: 192,
} as const;

export interface LeaderRecord {
  magic: number;
  version: number;
  flags: number;
  sectorSize: number;
  numHosts: number;
  maxHosts: number;
  ownerId: number;
  ownerGeneration: bigint;
  lver: bigint;
  spaceName: string;
  resourceName: string;
  /** writer's monotonic seconds; 0n = free */
  timestamp: bigint;
  unused1: bigint;
  checksum: number;
  unused2: number;
  ioTimeout: number;
  /** paxos: writer host_id; delta: event generation ("extra1") */
  writeId: bigint;
  /** paxos: writer generation; delta: event value ("extra2") */
  writeGeneration: bigint;
  /** paxos: writer monotonic seconds; delta: event data ("extra3") */
  writeTimestamp: bigint;
}

export type LeaderKind = "delta" | "paxos";

/** A record with every field zero / empty; spread it and override. */
export function emptyLeader(): LeaderRecord {
  return {
    magic: 0,
    version: 0,
    flags: 0,
    sectorSize: 0,
    numHosts: 0,
    maxHosts: 0,
    ownerId: 0,
    ownerGeneration: 0n,
    lver: 0n,
    spaceName: "",
    resourceName: "",
    timestamp: 0n,
    unused1: 0n,
    checksum: 0,
    unused2: 0,
    ioTimeout: 0,
    writeId: 0n,
    writeGeneration: 0n,
    writeTimestamp: 0n,
  };
}

export interface EncodeLeaderOptions {
  /** "compute" (default): store the CRC of bytes 0..167; "keep": store record.checksum as given. */
  checksum?: "compute" | "keep";
}

/** sanlock checksum of a leader: CRC over bytes 0..167 of the encoded record (docs/ondisk.md §3.2). */
export function leaderChecksum(bytes: Uint8Array, offset = 0): number {
  requireBytes(bytes, offset, LEADER_CHECKSUM_LEN, "leader checksum");
  return sanlockCrc32c(bytes, offset, offset + LEADER_CHECKSUM_LEN);
}

/**
 * Writes the 200-byte record into out[offset..offset+200) (bytes 200..255 are not touched;
 * callers start from a zeroed sector). Returns the checksum stored.
 */
export function writeLeader(out: Uint8Array, offset: number, rec: LeaderRecord, options: EncodeLeaderOptions = {}): number {
  requireBytes(out, offset, LEADER_RECORD_SIZE, "leader record");
  const v = new DataView(out.buffer, out.byteOffset + offset, LEADER_RECORD_SIZE);
  const o = LeaderOffsets;
  writeU32(v, o.magic, rec.magic, "magic");
  writeU32(v, o.version, rec.version, "version");
  writeU32(v, o.flags, rec.flags, "flags");
  writeU32(v, o.sectorSize, rec.sectorSize, "sector_size");
  writeU64(v, o.numHosts, rec.numHosts, "num_hosts");
  writeU64(v, o.maxHosts, rec.maxHosts, "max_hosts");
  writeU64(v, o.ownerId, rec.ownerId, "owner_id");
  writeU64(v, o.ownerGeneration, rec.ownerGeneration, "owner_generation");
  writeU64(v, o.lver, rec.lver, "lver");
  writeName(out, offset + o.spaceName, rec.spaceName, "space_name");
  writeName(out, offset + o.resourceName, rec.resourceName, "resource_name");
  writeU64(v, o.timestamp, rec.timestamp, "timestamp");
  writeU64(v, o.unused1, rec.unused1, "unused1");
  writeU16(v, o.unused2, rec.unused2, "unused2");
  writeU16(v, o.ioTimeout, rec.ioTimeout, "io_timeout");
  writeU64(v, o.writeId, rec.writeId, "write_id");
  writeU64(v, o.writeGeneration, rec.writeGeneration, "write_generation");
  writeU64(v, o.writeTimestamp, rec.writeTimestamp, "write_timestamp");
  const checksum = options.checksum === "keep" ? rec.checksum : leaderChecksum(out, offset);
  writeU32(v, o.checksum, checksum, "checksum");
  return checksum;
}

/** Encodes a record into a new 200-byte array (checksum computed unless options say "keep"). */
export function encodeLeader(rec: LeaderRecord, options: EncodeLeaderOptions = {}): Uint8Array {
  const out = new Uint8Array(LEADER_RECORD_SIZE);
  writeLeader(out, 0, rec, options);
  return out;
}

/**
 * Reads every field without validation. Number-typed u64 fields (num_hosts, max_hosts,
 * owner_id) above 2^53-1 throw ERR_DISK_FIELD_RANGE, or with `onRange` are reported there and
 * read as Number(value) (inexact; for diagnostics only).
 */
export function readLeaderFields(bytes: Uint8Array, offset = 0, at = 0, onRange?: (problem: DecodeProblem) => void): LeaderRecord {
  requireBytes(bytes, offset, LEADER_RECORD_SIZE, "leader record");
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, LEADER_RECORD_SIZE);
  const o = LeaderOffsets;
  const base = at + offset;
  const hostField = (rel: number, field: string): number => {
    if (!onRange) return readU64AsNumber(v, rel, field, base);
    const value = v.getBigUint64(rel, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      onRange({ code: ErrorCodes.FIELD_RANGE, field, offset: base + rel, message: `${field} at byte ${base + rel} is ${value}, above 2^53-1` });
    }
    return Number(value);
  };
  return {
    magic: v.getUint32(o.magic, true),
    version: v.getUint32(o.version, true),
    flags: v.getUint32(o.flags, true),
    sectorSize: v.getUint32(o.sectorSize, true),
    numHosts: hostField(o.numHosts, "num_hosts"),
    maxHosts: hostField(o.maxHosts, "max_hosts"),
    ownerId: hostField(o.ownerId, "owner_id"),
    ownerGeneration: v.getBigUint64(o.ownerGeneration, true),
    lver: v.getBigUint64(o.lver, true),
    spaceName: readName(bytes, offset + o.spaceName),
    resourceName: readName(bytes, offset + o.resourceName),
    timestamp: v.getBigUint64(o.timestamp, true),
    unused1: v.getBigUint64(o.unused1, true),
    checksum: v.getUint32(o.checksum, true),
    unused2: v.getUint16(o.unused2, true),
    ioTimeout: v.getUint16(o.ioTimeout, true),
    writeId: v.getBigUint64(o.writeId, true),
    writeGeneration: v.getBigUint64(o.writeGeneration, true),
    writeTimestamp: v.getBigUint64(o.writeTimestamp, true),
  };
}

export interface LeaderExpectation {
  /** which kind of lease the caller relies on; checks magic and version major (docs/ondisk.md §4) */
  kind: LeaderKind;
  /** absolute device offset of bytes[offset], used in error messages */
  at?: number;
  spaceName?: string;
  resourceName?: string;
  /** paxos: the caller's host_id must be <= num_hosts */
  hostId?: number;
  /** default true */
  verifyChecksum?: boolean;
}

export interface LeaderInspection {
  record: LeaderRecord;
  /** the checksum computed over bytes 0..167 */
  computedChecksum: number;
  problems: DecodeProblem[];
}

/** Non-throwing decode for dump/diagnostics: every field plus the list of validation problems. */
export function inspectLeader(bytes: Uint8Array, offset: number, expect: LeaderExpectation): LeaderInspection {
  const at = expect.at ?? 0;
  const rangeProblems: DecodeProblem[] = [];
  const record = readLeaderFields(bytes, offset, at, (p) => rangeProblems.push(p));
  const computedChecksum = leaderChecksum(bytes, offset);
  return { record, computedChecksum, problems: [...leaderProblems(record, computedChecksum, expect, at + offset), ...rangeProblems] };
}

function leaderProblems(rec: LeaderRecord, computed: number, expect: LeaderExpectation, base: number): DecodeProblem[] {
  const problems: DecodeProblem[] = [];
  const add = (code: string, field: keyof typeof LeaderOffsets, message: string): void => {
    const offset = base + LeaderOffsets[field];
    problems.push({ code, field, offset, message: `${message} (field ${field} at byte ${offset})` });
  };
  const paxos = expect.kind === "paxos";
  const wantMagic = paxos ? PAXOS_DISK_MAGIC : DELTA_DISK_MAGIC;
  const wantMajor = paxos ? PAXOS_DISK_VERSION_MAJOR : DELTA_DISK_VERSION_MAJOR;
  if (paxos && rec.magic === PAXOS_DISK_CLEAR) {
    add(ErrorCodes.LEASE_CLEARED, "magic", `paxos lease is cleared (magic ${hex32(rec.magic)})`);
    return problems;
  }
  if (rec.magic !== wantMagic) {
    add(ErrorCodes.BAD_MAGIC, "magic", `${expect.kind} leader magic is ${hex32(rec.magic)}, expected ${hex32(wantMagic)}`);
    return problems;
  }
  if ((rec.version & VERSION_MAJOR_MASK) >>> 0 !== wantMajor) {
    add(ErrorCodes.BAD_VERSION, "version", `${expect.kind} leader version ${hex32(rec.version)} has major other than ${hex32(wantMajor)}`);
  }
  if (expect.spaceName !== undefined && !namesEqual(rec.spaceName, expect.spaceName)) {
    add(ErrorCodes.NAME_MISMATCH, "spaceName", `leader space_name "${rec.spaceName}" is not "${expect.spaceName}"`);
  }
  if (expect.resourceName !== undefined && !namesEqual(rec.resourceName, expect.resourceName)) {
    add(ErrorCodes.NAME_MISMATCH, "resourceName", `leader resource_name "${rec.resourceName}" is not "${expect.resourceName}"`);
  }
  if (paxos && expect.hostId !== undefined && rec.numHosts < expect.hostId) {
    add(ErrorCodes.FIELD_RANGE, "numHosts", `leader num_hosts ${rec.numHosts} is below host_id ${expect.hostId}`);
  }
  if ((expect.verifyChecksum ?? true) && rec.checksum !== computed) {
    add(ErrorCodes.BAD_CHECKSUM, "checksum", `leader checksum ${hex32(rec.checksum)} does not match computed ${hex32(computed)}`);
  }
  return problems;
}

/**
 * Decodes and validates a leader the way sanlock does before relying on it (docs/ondisk.md §4):
 * magic, version major, names, num_hosts >= hostId (paxos), checksum.
 * Throws OnDiskFormatError (ERR_DISK_BAD_MAGIC, ERR_DISK_LEASE_CLEARED, ERR_DISK_BAD_VERSION,
 * ERR_DISK_NAME_MISMATCH, ERR_DISK_FIELD_RANGE, ERR_DISK_BAD_CHECKSUM) naming the field and byte.
 */
export function decodeLeader(bytes: Uint8Array, offset: number, expect: LeaderExpectation): LeaderRecord {
  // Magic/version/name/checksum problems come first, then u64 range problems.
  const inspection = inspectLeader(bytes, offset, expect);
  throwFirst(inspection.problems);
  return inspection.record;
}

/** True when two leader copies are considered identical (first 152 bytes equal). */
export function leadersCompareEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length < LEADER_COMPARE_LEN || b.length < LEADER_COMPARE_LEN) {
    throw new SanlockTsError(ErrorCodes.SHORT_BUFFER, `leader comparison needs ${LEADER_COMPARE_LEN} bytes`);
  }
  for (let i = 0; i < LEADER_COMPARE_LEN; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Every field of two records equal except the stored checksum (which derives from the others):
 * the same answer as comparing their encodings, without encoding (hot in acquire and renewal).
 */
export function leaderFieldsEqual(a: LeaderRecord, b: LeaderRecord): boolean {
  return (
    a.magic === b.magic &&
    a.version === b.version &&
    a.flags === b.flags &&
    a.sectorSize === b.sectorSize &&
    a.numHosts === b.numHosts &&
    a.maxHosts === b.maxHosts &&
    a.ownerId === b.ownerId &&
    a.ownerGeneration === b.ownerGeneration &&
    a.lver === b.lver &&
    a.timestamp === b.timestamp &&
    a.unused1 === b.unused1 &&
    a.unused2 === b.unused2 &&
    a.ioTimeout === b.ioTimeout &&
    a.writeId === b.writeId &&
    a.writeGeneration === b.writeGeneration &&
    a.writeTimestamp === b.writeTimestamp &&
    namesEqualAsStored(a.spaceName, b.spaceName) &&
    namesEqualAsStored(a.resourceName, b.resourceName)
  );
}

/** The 48-byte name fields two strings would be written as are equal (writeName: UTF-8, NUL padded). */
function namesEqualAsStored(a: string, b: string): boolean {
  if (a === b) return true;
  // Different strings can still encode alike (lone surrogates both become U+FFFD).
  const x = nameBytes(a);
  const y = nameBytes(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
