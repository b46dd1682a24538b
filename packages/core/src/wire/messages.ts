// Typed request and reply bodies per command (docs/wire.md §6, §7), their
// encoders and decoders. Framing of a byte stream into messages is in
// framing.ts; this module works on one complete message.

import { ByteReader, ByteWriter, concatBytes, decodeCText, encodeUtf8 } from "./bytes.js";
import {
  Cmd,
  DISK_SIZE,
  HOST_EVENT_SIZE,
  HOST_SIZE,
  KILLPATH_SIZE,
  LOCKSPACE_SIZE,
  MAX_RESOURCES,
  OPTIONS_SIZE,
  RENTRY_SIZE,
  RESOURCE_SIZE,
  RINDEX_SIZE,
  ReleaseFlag,
  cmdName,
  type CmdNumber,
} from "./constants.js";
import { WireError, WireErrorCode } from "./errors.js";
import { encodeHeader, replyHeader, requestHeader, type WireHeader } from "./header.js";
import {
  readDisk,
  readHost,
  readHostEvent,
  readKillpath,
  readLockspaceStruct,
  readOptions,
  readRentry,
  readResourceStruct,
  readResourceWithDisks,
  readRindex,
  resourceWireSize,
  writeDisk,
  writeHost,
  writeHostEvent,
  writeKillpath,
  writeLockspaceStruct,
  writeOptions,
  writeRentry,
  writeResourceStruct,
  writeRindex,
  type KillpathPayload,
  type SanlkDisk,
  type SanlkHost,
  type SanlkHostEvent,
  type SanlkLockspace,
  type SanlkOptions,
  type SanlkRentry,
  type SanlkResource,
  type SanlkRindex,
} from "./structs.js";

// ---------------------------------------------------------------- requests

type Empty = Record<string, never>;
interface LockspaceBody {
  lockspace: SanlkLockspace;
}
interface LockspaceEventBody {
  lockspace: SanlkLockspace;
  event: SanlkHostEvent;
}
/** Resource with its disks on the wire. */
interface ResourceWithDisksBody {
  resource: SanlkResource;
}
/** The 128-byte struct alone (num_disks filled in, disks not sent, docs/wire.md §4.2). */
interface ResourceOnlyBody {
  resource: SanlkResource;
}
interface RindexBody {
  rindex: SanlkRindex;
}
interface RindexEntryBody {
  rindex: SanlkRindex;
  rentry: SanlkRentry;
}

/** Request payload of each command (docs/wire.md §6 "request payload"). */
export interface RequestBodies {
  1: Empty;
  2: LockspaceBody;
  3: LockspaceBody;
  4: Empty;
  5: Empty;
  6: Empty;
  /** n × (resource + disks) + options; n travels in `data`. */
  7: { resources: SanlkResource[]; options: SanlkOptions };
  /** n × resource (no disks): none with REL_ALL, 1 with REL_ORPHAN, 2 with REL_RENAME (docs/wire.md §7.8). */
  8: { resources: SanlkResource[] };
  9: Empty;
  10: Empty;
  11: ResourceWithDisksBody;
  12: { disk: SanlkDisk };
  13: LockspaceBody;
  14: ResourceOnlyBody;
  15: LockspaceBody;
  16: LockspaceBody;
  17: { killpath: KillpathPayload };
  18: LockspaceBody;
  19: ResourceWithDisksBody;
  20: LockspaceBody;
  21: ResourceWithDisksBody;
  22: Empty;
  23: LockspaceBody;
  24: ResourceWithDisksBody;
  /** LVB size = header length − 32 − 128 (docs/wire.md §7.24). */
  25: { resource: SanlkResource; lvb: Uint8Array };
  26: ResourceOnlyBody;
  27: ResourceOnlyBody;
  28: Empty;
  29: Empty;
  30: LockspaceEventBody;
  31: LockspaceBody;
  32: LockspaceEventBody;
  33: LockspaceBody;
  34: LockspaceBody;
  35: RindexBody;
  36: RindexEntryBody;
  37: RindexEntryBody;
  38: RindexEntryBody;
  39: RindexEntryBody;
  40: RindexBody;
}
export type RequestBodyOf<C extends CmdNumber> = RequestBodies[C];

/** A decoded request: its header as received and its typed body. */
export type WireRequest = { [C in CmdNumber]: { cmd: C; header: WireHeader; body: RequestBodies[C] } }[CmdNumber];

/** How the daemon reads each command's payload (docs/wire.md §7; used by framing and codec). */
export type RequestLayout =
  | "none"
  | "lockspace"
  | "lockspace+event"
  | "acquire"
  | "release"
  | "resource+disks"
  | "resource"
  | "disk"
  | "killpath"
  | "set_lvb"
  | "rindex"
  | "rindex+rentry";

const LAYOUT: Readonly<Record<CmdNumber, RequestLayout>> = {
  1: "none",
  2: "lockspace",
  3: "lockspace",
  4: "none",
  5: "none",
  6: "none",
  7: "acquire",
  8: "release",
  9: "none",
  10: "none",
  11: "resource+disks",
  12: "disk",
  13: "lockspace",
  14: "resource",
  15: "lockspace",
  16: "lockspace",
  17: "killpath",
  18: "lockspace",
  19: "resource+disks",
  20: "lockspace",
  21: "resource+disks",
  22: "none",
  23: "lockspace",
  24: "resource+disks",
  25: "set_lvb",
  26: "resource",
  27: "resource",
  28: "none",
  29: "none",
  30: "lockspace+event",
  31: "lockspace",
  32: "lockspace+event",
  33: "lockspace",
  34: "lockspace",
  35: "rindex",
  36: "rindex+rentry",
  37: "rindex+rentry",
  38: "rindex+rentry",
  39: "rindex+rentry",
  40: "rindex",
};

export function requestLayout(cmd: CmdNumber): RequestLayout {
  return LAYOUT[cmd];
}

/** Fixed payload size of a layout, or null when it depends on the content. */
export function fixedPayloadSize(layout: RequestLayout): number | null {
  switch (layout) {
    case "none":
      return 0;
    case "lockspace":
      return LOCKSPACE_SIZE;
    case "lockspace+event":
      return LOCKSPACE_SIZE + HOST_EVENT_SIZE;
    case "resource":
      return RESOURCE_SIZE;
    case "disk":
      return DISK_SIZE;
    case "killpath":
      return KILLPATH_SIZE;
    case "rindex":
      return RINDEX_SIZE;
    case "rindex+rentry":
      return RINDEX_SIZE + RENTRY_SIZE;
    default:
      return null;
  }
}

/** Number of 128-byte structs RELEASE reads, by its flags (docs/wire.md §7.8: ALL → 0, ORPHAN → 1, RENAME → 2, else n). */
export function releaseStructCount(cmdFlags: number, data: number): number {
  if (cmdFlags & ReleaseFlag.ALL) return 0;
  if (cmdFlags & ReleaseFlag.ORPHAN) return 1;
  if (cmdFlags & ReleaseFlag.RENAME) return 2;
  return data >>> 0;
}

// biome-ignore lint/suspicious/noExplicitAny: the body type is indexed by cmd below
type Any = any;

/** Payload bytes of a request body. */
export function encodeRequestBody<C extends CmdNumber>(cmd: C, body: RequestBodies[C]): Uint8Array {
  const b = body as Any;
  const layout = LAYOUT[cmd];
  const size = requestBodySize(layout, b);
  const w = new ByteWriter(size, `${cmdName(cmd)} request`);
  switch (layout) {
    case "none":
      break;
    case "lockspace":
      writeLockspaceStruct(w, b.lockspace);
      break;
    case "lockspace+event":
      writeLockspaceStruct(w, b.lockspace);
      writeHostEvent(w, b.event);
      break;
    case "acquire":
      for (const res of b.resources as SanlkResource[]) writeResourceStruct(w, res, true);
      writeOptions(w, b.options);
      break;
    case "release":
      for (const res of b.resources as SanlkResource[]) writeResourceStruct(w, res, false);
      break;
    case "resource+disks":
      writeResourceStruct(w, b.resource, true);
      break;
    case "resource":
      writeResourceStruct(w, b.resource, false);
      break;
    case "disk":
      writeDisk(w, b.disk);
      break;
    case "killpath":
      writeKillpath(w, b.killpath);
      break;
    case "set_lvb":
      writeResourceStruct(w, b.resource, false);
      w.raw(b.lvb, "lvb");
      break;
    case "rindex":
      writeRindex(w, b.rindex);
      break;
    case "rindex+rentry":
      writeRindex(w, b.rindex);
      writeRentry(w, b.rentry);
      break;
  }
  return w.finish();
}

function requestBodySize(layout: RequestLayout, b: Any): number {
  const fixed = fixedPayloadSize(layout);
  if (fixed !== null) return fixed;
  switch (layout) {
    case "acquire": {
      const resources = b.resources as SanlkResource[];
      if (resources.length > MAX_RESOURCES) {
        throw new WireError(WireErrorCode.BAD_COUNT, `ACQUIRE: ${resources.length} resources exceed ${MAX_RESOURCES}`);
      }
      return resources.reduce((sum, r) => sum + resourceWireSize(r, true), 0) + OPTIONS_SIZE;
    }
    case "release":
      return RESOURCE_SIZE * (b.resources as SanlkResource[]).length;
    case "resource+disks":
      return resourceWireSize(b.resource, true);
    case "set_lvb":
      return RESOURCE_SIZE + (b.lvb as Uint8Array).byteLength;
    default:
      throw new WireError(WireErrorCode.BAD_VALUE, `no size rule for layout ${layout}`);
  }
}

/**
 * Builds a request as libsanlock does: length = 32 + payload, version 1, seq 0.
 * ACQUIRE/RELEASE default `data` to the resource count. `length` may be given
 * to reproduce the CLI's quirks (HOST_STATUS/RENEWAL send 32, docs/wire.md §13.3).
 */
export function buildRequest<C extends CmdNumber>(
  cmd: C,
  body: RequestBodies[C],
  fields: { cmdFlags?: number; data?: number; data2?: number; length?: number } = {},
): { header: WireHeader; bytes: Uint8Array } {
  const payload = encodeRequestBody(cmd, body);
  let data = fields.data;
  if (data === undefined && (cmd === Cmd.ACQUIRE || cmd === Cmd.RELEASE)) {
    data = (body as RequestBodies[7] | RequestBodies[8]).resources.length;
  }
  const header = requestHeader(cmd, payload.byteLength, { ...fields, data: data ?? 0 });
  if (fields.length !== undefined) header.length = fields.length;
  return { header, bytes: concatBytes([encodeHeader(header), payload]) };
}

/** Encodes a decoded request back to bytes, header exactly as given (length included). */
export function encodeRequest(request: WireRequest): Uint8Array {
  return concatBytes([encodeHeader(request.header), encodeRequestBody(request.cmd, request.body as never)]);
}

/**
 * Decodes a request payload that framing already delimited. Throws WireError
 * (TRUNCATED / BAD_COUNT / MALFORMED) when the bytes do not fit the command.
 */
export function decodeRequest(header: WireHeader, payload: Uint8Array): WireRequest {
  const cmd = header.cmd as CmdNumber;
  if (!(cmd in LAYOUT)) {
    throw new WireError(WireErrorCode.UNKNOWN_COMMAND, `request cmd ${header.cmd} is not 1..40`);
  }
  const r = new ByteReader(payload, `${cmdName(cmd)} request`);
  const body = decodeRequestLayout(LAYOUT[cmd], header, r);
  if (r.remaining !== 0) {
    throw new WireError(WireErrorCode.MALFORMED, `${cmdName(cmd)} request: ${r.remaining} unexpected payload bytes`);
  }
  return { cmd, header, body } as WireRequest;
}

function decodeRequestLayout(layout: RequestLayout, h: WireHeader, r: ByteReader): unknown {
  switch (layout) {
    case "none":
      return {};
    case "lockspace":
      return { lockspace: readLockspaceStruct(r) };
    case "lockspace+event":
      return { lockspace: readLockspaceStruct(r), event: readHostEvent(r) };
    case "acquire": {
      const count = acquireResourceCount(h.data);
      checkAcquireCount(count);
      const resources: SanlkResource[] = [];
      for (let i = 0; i < count; i++) resources.push(readResourceWithDisks(r));
      return { resources, options: readOptions(r) };
    }
    case "release": {
      const count = releaseStructCount(h.cmdFlags, h.data);
      const resources: SanlkResource[] = [];
      for (let i = 0; i < count && r.remaining > 0; i++) resources.push(readResourceStruct(r));
      if (resources.length !== count) {
        throw new WireError(WireErrorCode.TRUNCATED, `RELEASE request: ${resources.length} of ${count} resources`);
      }
      return { resources };
    }
    case "resource+disks":
      return { resource: readResourceWithDisks(r) };
    case "resource":
      return { resource: readResourceStruct(r) };
    case "disk":
      return { disk: readDisk(r) };
    case "killpath":
      return { killpath: readKillpath(r) };
    case "set_lvb":
      return { resource: readResourceStruct(r), lvb: r.bytesOf(r.remaining, "lvb") };
    case "rindex":
      return { rindex: readRindex(r) };
    case "rindex+rentry":
      return { rindex: readRindex(r), rentry: readRentry(r) };
  }
}

/**
 * ACQUIRE's resource count as the daemon sees it: `data` read as a C int, so a
 * negative value means no resources (only the options are read), not a huge count.
 */
export function acquireResourceCount(data: number): number {
  return data | 0;
}

/** ACQUIRE count above 8 → −E2BIG, checked before any payload is read (docs/wire.md §7.7). */
export function checkAcquireCount(count: number): void {
  if (count > MAX_RESOURCES) {
    throw new WireError(WireErrorCode.BAD_COUNT, `ACQUIRE data: ${count} resources exceed ${MAX_RESOURCES}`, {
      result: -7,
      details: { field: "data", value: count },
    });
  }
}

// ---------------------------------------------------------------- replies

/** Reply payload of each command that gets a reply (docs/wire.md §6 "reply payload"). */
export interface ReplyBodies {
  2: Empty;
  3: Empty;
  /** STATUS: header only; records follow until EOF (framing.ts yields them). */
  5: Empty;
  /** LOG_DUMP: `data` bytes of log text. */
  6: { log: Uint8Array };
  7: Empty;
  8: Empty;
  /** INQUIRE: state string (text before the NUL), raw payload kept (docs/wire.md §12.14 garbage byte). */
  9: { state: string; raw: Uint8Array };
  10: Empty;
  11: Empty;
  12: Empty;
  13: Empty;
  14: Empty;
  15: Empty;
  16: Empty;
  17: Empty;
  18: Empty;
  19: Empty;
  /** READ_LOCKSPACE: the struct (sent even on error, docs/wire.md §7.19). */
  20: { lockspace: SanlkLockspace | null };
  21: { resource: SanlkResource | null };
  22: { lockspaces: SanlkLockspace[] };
  23: { hosts: SanlkHost[] };
  24: { resource: SanlkResource | null; hosts: SanlkHost[] };
  25: Empty;
  26: { lvb: Uint8Array };
  27: Empty;
  28: Empty;
  29: Empty;
  30: Empty;
  31: Empty;
  32: Empty;
  33: Empty;
  34: Empty;
  35: Empty;
  36: { rentry: SanlkRentry | null };
  37: { rentry: SanlkRentry | null };
  38: { rentry: SanlkRentry | null };
  39: { rentry: SanlkRentry | null };
  40: Empty;
}
export type ReplyCmd = keyof ReplyBodies & CmdNumber;
export type WireReply = { [C in ReplyCmd]: { cmd: C; header: WireHeader; body: ReplyBodies[C] } }[ReplyCmd];

/** REGISTER and SHUTDOWN are never answered (docs/wire.md §13.1). */
export function hasReply(cmd: CmdNumber): cmd is ReplyCmd {
  return cmd !== Cmd.REGISTER && cmd !== Cmd.SHUTDOWN;
}

/** STATUS, HOST_STATUS and RENEWAL replies are followed by records until EOF (docs/wire.md §13.2). */
export function isStreamReply(cmd: CmdNumber): boolean {
  return cmd === Cmd.STATUS || cmd === Cmd.HOST_STATUS || cmd === Cmd.RENEWAL;
}

/** Reply payload bytes of a body (the daemon side builds replies with this). */
export function encodeReplyBody<C extends ReplyCmd>(cmd: C, body: ReplyBodies[C]): Uint8Array {
  const b = body as Any;
  const parts: Uint8Array[] = [];
  const struct = (size: number, what: string, write: (w: ByteWriter) => void): void => {
    const w = new ByteWriter(size, what);
    write(w);
    parts.push(w.finish());
  };
  switch (cmd as number) {
    case Cmd.LOG_DUMP:
      parts.push(b.log);
      break;
    case Cmd.INQUIRE:
      parts.push(b.raw);
      break;
    case Cmd.READ_LOCKSPACE:
      if (b.lockspace) struct(LOCKSPACE_SIZE, "sanlk_lockspace", (w) => writeLockspaceStruct(w, b.lockspace));
      break;
    case Cmd.READ_RESOURCE:
      if (b.resource) struct(RESOURCE_SIZE, "sanlk_resource", (w) => writeResourceStruct(w, b.resource, false));
      break;
    case Cmd.GET_LOCKSPACES:
      for (const ls of b.lockspaces as SanlkLockspace[]) struct(LOCKSPACE_SIZE, "sanlk_lockspace", (w) => writeLockspaceStruct(w, ls));
      break;
    case Cmd.GET_HOSTS:
      for (const h of b.hosts as SanlkHost[]) struct(HOST_SIZE, "sanlk_host", (w) => writeHost(w, h));
      break;
    case Cmd.READ_RESOURCE_OWNERS:
      if (b.resource) struct(RESOURCE_SIZE, "sanlk_resource", (w) => writeResourceStruct(w, b.resource, false));
      for (const h of b.hosts as SanlkHost[]) struct(HOST_SIZE, "sanlk_host", (w) => writeHost(w, h));
      break;
    case Cmd.GET_LVB:
      parts.push(b.lvb);
      break;
    case Cmd.UPDATE_RINDEX:
    case Cmd.LOOKUP_RINDEX:
    case Cmd.CREATE_RESOURCE:
    case Cmd.DELETE_RESOURCE:
      if (b.rentry) struct(RENTRY_SIZE, "sanlk_rentry", (w) => writeRentry(w, b.rentry));
      break;
    default:
      break;
  }
  return concatBytes(parts);
}

/**
 * Builds the daemon's reply by the echo rule (docs/wire.md §3): request header copied,
 * version 1, length 32 + payload, data = result, data2 as given. Callers
 * apply the per-command exceptions (VERSION, SHUTDOWN_WAIT, LOG_DUMP) with
 * `header` overrides.
 */
export function buildReply<C extends ReplyCmd>(
  request: WireHeader,
  cmd: C,
  result: number,
  body: ReplyBodies[C],
  options: { data2?: number; header?: Partial<WireHeader> } = {},
): { header: WireHeader; bytes: Uint8Array } {
  const payload = encodeReplyBody(cmd, body);
  const header = { ...replyHeader(request, result, payload.byteLength, options.data2 ?? 0), ...options.header };
  return { header, bytes: concatBytes([encodeHeader(header), payload]) };
}

export function encodeReply(reply: WireReply): Uint8Array {
  return concatBytes([encodeHeader(reply.header), encodeReplyBody(reply.cmd, reply.body as never)]);
}

/** Decodes the payload of a reply to `cmd` (framing already delimited it). */
export function decodeReply(cmd: ReplyCmd, header: WireHeader, payload: Uint8Array): WireReply {
  const r = new ByteReader(payload, `${cmdName(cmd)} reply`);
  const body = decodeReplyBody(cmd, r);
  if (r.remaining !== 0) {
    throw new WireError(WireErrorCode.MALFORMED, `${cmdName(cmd)} reply: ${r.remaining} unexpected payload bytes`);
  }
  return { cmd, header, body } as WireReply;
}

function decodeReplyBody(cmd: ReplyCmd, r: ByteReader): unknown {
  switch (cmd as number) {
    case Cmd.LOG_DUMP:
      return { log: r.bytesOf(r.remaining, "log") };
    case Cmd.INQUIRE: {
      const raw = r.bytesOf(r.remaining, "state");
      return { state: decodeCText(raw), raw };
    }
    case Cmd.READ_LOCKSPACE:
      return { lockspace: r.remaining > 0 ? readLockspaceStruct(r) : null };
    case Cmd.READ_RESOURCE:
      return { resource: r.remaining > 0 ? readResourceStruct(r) : null };
    case Cmd.GET_LOCKSPACES:
      return { lockspaces: readList(r, LOCKSPACE_SIZE, readLockspaceStruct) };
    case Cmd.GET_HOSTS:
      return { hosts: readList(r, HOST_SIZE, readHost) };
    case Cmd.READ_RESOURCE_OWNERS: {
      const resource = r.remaining > 0 ? readResourceStruct(r) : null;
      return { resource, hosts: readList(r, HOST_SIZE, readHost) };
    }
    case Cmd.GET_LVB:
      return { lvb: r.bytesOf(r.remaining, "lvb") };
    case Cmd.UPDATE_RINDEX:
    case Cmd.LOOKUP_RINDEX:
    case Cmd.CREATE_RESOURCE:
    case Cmd.DELETE_RESOURCE:
      return { rentry: r.remaining > 0 ? readRentry(r) : null };
    default:
      return {};
  }
}

function readList<T>(r: ByteReader, size: number, read: (r: ByteReader) => T): T[] {
  if (r.remaining % size !== 0) {
    throw new WireError(WireErrorCode.MALFORMED, `list payload of ${r.remaining} bytes is not a multiple of ${size}`);
  }
  const items: T[] = [];
  while (r.remaining > 0) items.push(read(r));
  return items;
}

/** INQUIRE reply payload: the state string plus its NUL (docs/wire.md §7.9); empty when no leases. */
export function inquireStatePayload(state: string): Uint8Array {
  if (state === "") return new Uint8Array(0);
  return concatBytes([encodeUtf8(state), new Uint8Array(1)]);
}
