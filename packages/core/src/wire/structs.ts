// Encode/decode of every structure of the socket protocol (docs/wire.md §4).
// u64 fields are bigint so no value is silently rounded.

import { ByteReader, ByteWriter, decodeCText } from "./bytes.js";
import {
  DISK_SIZE,
  EVENT_RECORD_SIZE,
  HOST_EVENT_SIZE,
  HOST_SIZE,
  KILLPATH_FIELD_LEN,
  KILLPATH_SIZE,
  LOCKSPACE_SIZE,
  MAX_DISKS,
  MAX_STATE_STRING,
  NAME_LEN,
  OPTIONS_SIZE,
  PATH_LEN,
  RENTRY_SIZE,
  RESOURCE_SIZE,
  RINDEX_SIZE,
  STATE_FIXED_SIZE,
  StateType,
} from "./constants.js";
import { WireError, WireErrorCode } from "./errors.js";
import { readHeader, writeHeader, type WireHeader } from "./header.js";
import { errnoResult } from "../results.js";

// ---- sanlk_disk (docs/wire.md §4.1) ----

export interface SanlkDisk {
  path: string;
  offset: bigint;
  /** Send 0; STATUS replies leak the daemon's sector size here. */
  pad1: number;
  /** Send 0; STATUS replies leak an internal fd (or 0xffffffff) here. */
  pad2: number;
}

export function disk(path: string, offset: bigint = 0n): SanlkDisk {
  return { path, offset, pad1: 0, pad2: 0 };
}

export function readDisk(r: ByteReader): SanlkDisk {
  return { path: r.fixedString(PATH_LEN, "path"), offset: r.u64("offset"), pad1: r.u32("pad1"), pad2: r.u32("pad2") };
}

export function writeDisk(w: ByteWriter, d: SanlkDisk): void {
  w.fixedString(d.path, PATH_LEN, "path", true);
  w.u64(d.offset, "offset");
  w.u32(d.pad1, "pad1");
  w.u32(d.pad2, "pad2");
}

// ---- sanlk_resource (docs/wire.md §4.2) ----

export interface SanlkResource {
  lockspaceName: string;
  name: string;
  lver: bigint;
  data64: bigint;
  data32: number;
  unused: number;
  flags: number;
  /** As sent in the struct; may be non-zero although no disks follow (RELEASE, CONVERT...). */
  numDisks: number;
  /** The disks that follow the struct on the wire (empty when the command sends none). */
  disks: SanlkDisk[];
}

export function resource(
  lockspaceName: string,
  name: string,
  disks: SanlkDisk[] = [],
  fields: Partial<Omit<SanlkResource, "lockspaceName" | "name" | "disks">> = {},
): SanlkResource {
  return {
    lockspaceName,
    name,
    lver: fields.lver ?? 0n,
    data64: fields.data64 ?? 0n,
    data32: fields.data32 ?? 0,
    unused: fields.unused ?? 0,
    flags: fields.flags ?? 0,
    numDisks: fields.numDisks ?? disks.length,
    disks,
  };
}

/** Reads the 128-byte struct; `disks` is left empty. */
export function readResourceStruct(r: ByteReader): SanlkResource {
  return {
    lockspaceName: r.fixedString(NAME_LEN, "lockspace_name"),
    name: r.fixedString(NAME_LEN, "name"),
    lver: r.u64("lver"),
    data64: r.u64("data64"),
    data32: r.u32("data32"),
    unused: r.u32("unused"),
    flags: r.u32("flags"),
    numDisks: r.u32("num_disks"),
    disks: [],
  };
}

/** num_disks must be 1..4 before disks are read (the daemon answers −ERANGE, docs/wire.md §7.7). */
export function checkNumDisks(numDisks: number): void {
  if (numDisks < 1 || numDisks > MAX_DISKS) {
    throw new WireError(WireErrorCode.BAD_COUNT, `sanlk_resource.num_disks: ${numDisks} is not in 1..${MAX_DISKS}`, {
      result: errnoResult("ERANGE"),
      details: { field: "num_disks", value: numDisks },
    });
  }
}

/** Reads the struct and its `num_disks` disks. */
export function readResourceWithDisks(r: ByteReader): SanlkResource {
  const res = readResourceStruct(r);
  checkNumDisks(res.numDisks);
  for (let i = 0; i < res.numDisks; i++) res.disks.push(readDisk(r));
  return res;
}

export function writeResourceStruct(w: ByteWriter, res: SanlkResource, withDisks: boolean): void {
  w.fixedString(res.lockspaceName, NAME_LEN, "lockspace_name", false);
  w.fixedString(res.name, NAME_LEN, "name", false);
  w.u64(res.lver, "lver");
  w.u64(res.data64, "data64");
  w.u32(res.data32, "data32");
  w.u32(res.unused, "unused");
  w.u32(res.flags, "flags");
  w.u32(res.numDisks, "num_disks");
  if (!withDisks) return;
  if (res.disks.length !== res.numDisks) {
    throw new WireError(WireErrorCode.BAD_VALUE, `sanlk_resource.num_disks: ${res.numDisks} but ${res.disks.length} disks given`);
  }
  checkNumDisks(res.numDisks);
  for (const d of res.disks) writeDisk(w, d);
}

export function resourceWireSize(res: SanlkResource, withDisks: boolean): number {
  return RESOURCE_SIZE + (withDisks ? DISK_SIZE * res.disks.length : 0);
}

// ---- sanlk_options (docs/wire.md §4.3) ----

export interface SanlkOptions {
  ownerName: string;
  flags: number;
  /** Unused by 3.8.5: the bytes it announces are neither sent nor read. */
  len: number;
}

export const EMPTY_OPTIONS: Readonly<SanlkOptions> = { ownerName: "", flags: 0, len: 0 };

export function readOptions(r: ByteReader): SanlkOptions {
  return { ownerName: r.fixedString(NAME_LEN, "owner_name"), flags: r.u32("flags"), len: r.u32("len") };
}

export function writeOptions(w: ByteWriter, o: SanlkOptions): void {
  w.fixedString(o.ownerName, NAME_LEN, "owner_name", false);
  w.u32(o.flags, "flags");
  w.u32(o.len, "len");
}

// ---- sanlk_lockspace (docs/wire.md §4.4) ----

export interface SanlkLockspace {
  name: string;
  hostId: bigint;
  flags: number;
  hostIdDisk: SanlkDisk;
}

export function lockspace(name: string, fields: { hostId?: bigint; flags?: number; path?: string; offset?: bigint } = {}): SanlkLockspace {
  return {
    name,
    hostId: fields.hostId ?? 0n,
    flags: fields.flags ?? 0,
    hostIdDisk: disk(fields.path ?? "", fields.offset ?? 0n),
  };
}

export function readLockspaceStruct(r: ByteReader): SanlkLockspace {
  const name = r.fixedString(NAME_LEN, "name");
  const hostId = r.u64("host_id");
  const flags = r.u32("flags");
  // Bytes 60..63 are padding; GET_LOCKSPACES replies carry stale bytes there (docs/wire.md §13.5).
  r.skip(4, "padding");
  return { name, hostId, flags, hostIdDisk: readDisk(r) };
}

export function writeLockspaceStruct(w: ByteWriter, ls: SanlkLockspace): void {
  w.fixedString(ls.name, NAME_LEN, "name", false);
  w.u64(ls.hostId, "host_id");
  w.u32(ls.flags, "flags");
  w.zeros(4, "padding");
  writeDisk(w, ls.hostIdDisk);
}

// ---- sanlk_host (docs/wire.md §4.5) ----

export interface SanlkHost {
  hostId: bigint;
  generation: bigint;
  timestamp: bigint;
  ioTimeout: number;
  /** GET_HOSTS: host state in the low nibble (HostState); READ_RESOURCE_OWNERS: 0. */
  flags: number;
}

export function readHost(r: ByteReader): SanlkHost {
  return {
    hostId: r.u64("host_id"),
    generation: r.u64("generation"),
    timestamp: r.u64("timestamp"),
    ioTimeout: r.u32("io_timeout"),
    flags: r.u32("flags"),
  };
}

export function writeHost(w: ByteWriter, h: SanlkHost): void {
  w.u64(h.hostId, "host_id");
  w.u64(h.generation, "generation");
  w.u64(h.timestamp, "timestamp");
  w.u32(h.ioTimeout, "io_timeout");
  w.u32(h.flags, "flags");
}

// ---- sanlk_host_event (docs/wire.md §4.6) ----

export interface SanlkHostEvent {
  hostId: bigint;
  generation: bigint;
  event: bigint;
  data: bigint;
}

export const EMPTY_HOST_EVENT: Readonly<SanlkHostEvent> = { hostId: 0n, generation: 0n, event: 0n, data: 0n };

export function readHostEvent(r: ByteReader): SanlkHostEvent {
  return { hostId: r.u64("host_id"), generation: r.u64("generation"), event: r.u64("event"), data: r.u64("data") };
}

export function writeHostEvent(w: ByteWriter, e: SanlkHostEvent): void {
  w.u64(e.hostId, "host_id");
  w.u64(e.generation, "generation");
  w.u64(e.event, "event");
  w.u64(e.data, "data");
}

// ---- sanlk_rindex (docs/wire.md §4.7) ----

export interface SanlkRindex {
  flags: number;
  maxResources: number;
  unused: bigint;
  lockspaceName: string;
  disk: SanlkDisk;
}

export function readRindex(r: ByteReader): SanlkRindex {
  return {
    flags: r.u32("flags"),
    maxResources: r.u32("max_resources"),
    unused: r.u64("unused"),
    lockspaceName: r.fixedString(NAME_LEN, "lockspace_name"),
    disk: readDisk(r),
  };
}

export function writeRindex(w: ByteWriter, x: SanlkRindex): void {
  w.u32(x.flags, "flags");
  w.u32(x.maxResources, "max_resources");
  w.u64(x.unused, "unused");
  w.fixedString(x.lockspaceName, NAME_LEN, "lockspace_name", false);
  writeDisk(w, x.disk);
}

// ---- sanlk_rentry (docs/wire.md §4.8) ----

export interface SanlkRentry {
  name: string;
  offset: bigint;
  flags: number;
  unused: number;
}

export function readRentry(r: ByteReader): SanlkRentry {
  return { name: r.fixedString(NAME_LEN, "name"), offset: r.u64("offset"), flags: r.u32("flags"), unused: r.u32("unused") };
}

export function writeRentry(w: ByteWriter, e: SanlkRentry): void {
  w.fixedString(e.name, NAME_LEN, "name", false);
  w.u64(e.offset, "offset");
  w.u32(e.flags, "flags");
  w.u32(e.unused, "unused");
}

// ---- sanlk_state records (docs/wire.md §4.9) ----

export interface SanlkStateFixed {
  type: number;
  flags: number;
  /** CLIENT: pid (−1 unregistered); RESOURCE: owning pid; HOST: host_id. Read as i32. */
  data32: number;
  data64: bigint;
  name: string;
  /** Text length including its NUL, 1..4096. */
  strLen: number;
}

/** One STATUS/HOST_STATUS/RENEWAL record with its text and trailing struct. */
export interface StateRecord {
  type: number;
  flags: number;
  data32: number;
  data64: bigint;
  name: string;
  /** The `key=value ...` text without its NUL. */
  str: string;
  /** After a LOCKSPACE record. */
  lockspace?: SanlkLockspace;
  /** After a RESOURCE record (with its disks). */
  resource?: SanlkResource;
}

export function readStateFixed(r: ByteReader): SanlkStateFixed {
  const type = r.u32("type");
  const flags = r.u32("flags");
  const data32 = r.i32("data32");
  r.skip(4, "padding");
  const data64 = r.u64("data64");
  const name = r.fixedString(NAME_LEN, "name");
  const strLen = r.u32("str_len");
  r.skip(4, "padding"); // the fixed part is 80 bytes on the wire, not 76 (docs/wire.md §13.4)
  const fixed: SanlkStateFixed = { type, flags, data32, data64, name, strLen };
  checkStrLen(fixed.strLen);
  return fixed;
}

function checkStrLen(strLen: number): void {
  if (strLen > MAX_STATE_STRING) {
    throw new WireError(WireErrorCode.TOO_LARGE, `sanlk_state.str_len: ${strLen} exceeds ${MAX_STATE_STRING}`, {
      details: { field: "str_len", value: strLen },
    });
  }
}

/** Reads a whole record: fixed part, text, and the struct that follows LOCKSPACE/RESOURCE records. */
export function readStateRecord(r: ByteReader): StateRecord {
  const fixed = readStateFixed(r);
  const text = r.bytesOf(fixed.strLen, "str");
  const record: StateRecord = {
    type: fixed.type,
    flags: fixed.flags,
    data32: fixed.data32,
    data64: fixed.data64,
    name: fixed.name,
    str: decodeCText(text),
  };
  if (fixed.type === StateType.LOCKSPACE) record.lockspace = readLockspaceStruct(r);
  if (fixed.type === StateType.RESOURCE) record.resource = readResourceWithDisks(r);
  return record;
}

export function stateRecordWireSize(record: StateRecord): number {
  let size = STATE_FIXED_SIZE + byteLengthUtf8(record.str) + 1;
  if (record.type === StateType.LOCKSPACE) size += LOCKSPACE_SIZE;
  if (record.type === StateType.RESOURCE) {
    size += RESOURCE_SIZE + DISK_SIZE * (record.resource?.disks.length ?? 0);
  }
  return size;
}

export function writeStateRecord(w: ByteWriter, record: StateRecord): void {
  const text = new TextEncoder().encode(record.str);
  const strLen = text.byteLength + 1;
  checkStrLen(strLen);
  w.u32(record.type, "type");
  w.u32(record.flags, "flags");
  w.i32(record.data32, "data32");
  w.zeros(4, "padding");
  w.u64(record.data64, "data64");
  w.fixedString(record.name, NAME_LEN, "name", false);
  w.u32(strLen, "str_len");
  w.zeros(4, "padding");
  w.raw(text, "str");
  w.zeros(1, "str NUL");
  if (record.type === StateType.LOCKSPACE) writeLockspaceStruct(w, requireTrailer(record.lockspace, "lockspace"));
  if (record.type === StateType.RESOURCE) writeResourceStruct(w, requireTrailer(record.resource, "resource"), true);
}

function requireTrailer<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new WireError(WireErrorCode.BAD_VALUE, `sanlk_state: record type needs a trailing ${what}`);
  }
  return value;
}

function byteLengthUtf8(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

// ---- event callback record (docs/wire.md §4.10) ----

export interface EventRecord {
  header: WireHeader;
  he: SanlkHostEvent;
  fromHostId: bigint;
  fromGeneration: bigint;
}

export function readEventRecord(r: ByteReader): EventRecord {
  return {
    header: readHeader(r),
    he: readHostEvent(r),
    fromHostId: r.u64("from_host_id"),
    fromGeneration: r.u64("from_generation"),
  };
}

export function writeEventRecord(w: ByteWriter, e: EventRecord): void {
  writeHeader(w, e.header);
  writeHostEvent(w, e.he);
  w.u64(e.fromHostId, "from_host_id");
  w.u64(e.fromGeneration, "from_generation");
}

/** The 4 bytes a client writes on an event channel to unregister it: u32 1 (docs/wire.md §8.4 step 5). */
export function encodeEndEventValue(): Uint8Array {
  return Uint8Array.of(1, 0, 0, 0);
}

/** True when 4 bytes read from an event channel ask to close it (value 1; other values keep it, docs/wire.md §8.4). */
export function isEndEventValue(bytes: Uint8Array): boolean {
  return bytes.byteLength === 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === 1;
}

// ---- killpath payload (docs/wire.md §4.11) ----

export interface KillpathPayload {
  /** ≤ 127 bytes. */
  path: string;
  /** Arguments joined by spaces, space and backslash escaped with a backslash. */
  args: string;
}

export function readKillpath(r: ByteReader): KillpathPayload {
  return { path: r.fixedString(KILLPATH_FIELD_LEN, "path"), args: r.fixedString(KILLPATH_FIELD_LEN, "args") };
}

export function writeKillpath(w: ByteWriter, k: KillpathPayload): void {
  w.fixedString(k.path, KILLPATH_FIELD_LEN, "path", true);
  w.fixedString(k.args, KILLPATH_FIELD_LEN, "args", true);
}

/** Joins argv the way the Python binding does: space and backslash escaped (docs/wire.md §7.16). */
export function joinKillpathArgs(args: readonly string[]): string {
  return args.map((a) => a.replace(/[\\ ]/g, (c) => `\\${c}`)).join(" ");
}

// ---- whole-struct helpers ----

type Writer<T> = (w: ByteWriter, value: T) => void;
type Reader<T> = (r: ByteReader) => T;

function encodeWith<T>(size: number, what: string, write: Writer<T>, value: T): Uint8Array {
  const w = new ByteWriter(size, what);
  write(w, value);
  return w.finish();
}

/** Decodes exactly one struct; extra bytes are an error. */
function decodeWith<T>(bytes: Uint8Array, what: string, read: Reader<T>): T {
  const r = new ByteReader(bytes, what);
  const value = read(r);
  if (r.remaining !== 0) {
    throw new WireError(WireErrorCode.MALFORMED, `${what}: ${r.remaining} bytes left over after the struct`);
  }
  return value;
}

export const encodeDisk = (v: SanlkDisk): Uint8Array => encodeWith(DISK_SIZE, "sanlk_disk", writeDisk, v);
export const decodeDisk = (b: Uint8Array): SanlkDisk => decodeWith(b, "sanlk_disk", readDisk);
export const encodeResource = (v: SanlkResource, withDisks: boolean): Uint8Array =>
  encodeWith(resourceWireSize(v, withDisks), "sanlk_resource", (w, x) => writeResourceStruct(w, x, withDisks), v);
export const decodeResource = (b: Uint8Array, withDisks: boolean): SanlkResource =>
  decodeWith(b, "sanlk_resource", withDisks ? readResourceWithDisks : readResourceStruct);
export const encodeOptions = (v: SanlkOptions): Uint8Array => encodeWith(OPTIONS_SIZE, "sanlk_options", writeOptions, v);
export const decodeOptions = (b: Uint8Array): SanlkOptions => decodeWith(b, "sanlk_options", readOptions);
export const encodeLockspace = (v: SanlkLockspace): Uint8Array => encodeWith(LOCKSPACE_SIZE, "sanlk_lockspace", writeLockspaceStruct, v);
export const decodeLockspace = (b: Uint8Array): SanlkLockspace => decodeWith(b, "sanlk_lockspace", readLockspaceStruct);
export const encodeHost = (v: SanlkHost): Uint8Array => encodeWith(HOST_SIZE, "sanlk_host", writeHost, v);
export const decodeHost = (b: Uint8Array): SanlkHost => decodeWith(b, "sanlk_host", readHost);
export const encodeHostEvent = (v: SanlkHostEvent): Uint8Array => encodeWith(HOST_EVENT_SIZE, "sanlk_host_event", writeHostEvent, v);
export const decodeHostEvent = (b: Uint8Array): SanlkHostEvent => decodeWith(b, "sanlk_host_event", readHostEvent);
export const encodeRindex = (v: SanlkRindex): Uint8Array => encodeWith(RINDEX_SIZE, "sanlk_rindex", writeRindex, v);
export const decodeRindex = (b: Uint8Array): SanlkRindex => decodeWith(b, "sanlk_rindex", readRindex);
export const encodeRentry = (v: SanlkRentry): Uint8Array => encodeWith(RENTRY_SIZE, "sanlk_rentry", writeRentry, v);
export const decodeRentry = (b: Uint8Array): SanlkRentry => decodeWith(b, "sanlk_rentry", readRentry);
export const encodeStateRecord = (v: StateRecord): Uint8Array => encodeWith(stateRecordWireSize(v), "sanlk_state", writeStateRecord, v);
export const decodeStateRecord = (b: Uint8Array): StateRecord => decodeWith(b, "sanlk_state", readStateRecord);
export const encodeEventRecord = (v: EventRecord): Uint8Array => encodeWith(EVENT_RECORD_SIZE, "event record", writeEventRecord, v);
export const decodeEventRecord = (b: Uint8Array): EventRecord => decodeWith(b, "event record", readEventRecord);
export const encodeKillpath = (v: KillpathPayload): Uint8Array => encodeWith(KILLPATH_SIZE, "killpath", writeKillpath, v);
export const decodeKillpath = (b: Uint8Array): KillpathPayload => decodeWith(b, "killpath", readKillpath);
