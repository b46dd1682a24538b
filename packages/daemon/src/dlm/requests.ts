/**
 * Requests of the DLM socket (docs/dlm-wire.md), checked field by field. A request that fails a
 * check gets EINVAL with the field's name; nothing reaches the engine unchecked. Hand-written
 * rather than zod: the daemon keeps zod out of its resident set (main.ts).
 */
import { MAX_RESOURCE_NAME_LEN } from "@sanlock-ts/core/dlm";

export class RequestError extends Error {
  readonly code = "ERR_DLM_REQUEST";
}

export type DlmRequest =
  | { op: "hello"; id: number }
  | {
      op: "create";
      id: number;
      name: string;
      hostId?: number;
      disk?: { path: string; offset: number };
      exclusive: boolean;
      noDir: boolean;
      timeWarn: boolean;
      lvbLength?: number;
      cluster?: string;
      recovery: boolean;
    }
  | { op: "open"; id: number; name: string; recovery: boolean }
  | { op: "close"; id: number; handle: number }
  | { op: "release"; id: number; handle: number; force: boolean }
  | { op: "list"; id: number }
  | {
      op: "lock";
      id: number;
      handle: number;
      mode: number;
      flags: number;
      resource?: Uint8Array;
      lkid?: number;
      lvb?: Uint8Array;
      timeoutMs?: number;
      bast: boolean;
    }
  | { op: "unlock"; id: number; handle: number; lkid: number; flags: number; lvb?: Uint8Array }
  | { op: "cancel"; id: number; handle: number; lkid: number; deadlock: boolean }
  | { op: "purge"; id: number; handle: number; nodeId: number; pid: number }
  | { op: "locks"; id: number; handle: number };

/** Largest lvb accepted on the socket (the engine checks the lockspace's own lvblen). */
const MAX_LVB_BYTES = 64;
const MAX_PATH_BYTES = 1024;

type Fields = Record<string, unknown>;

function u32(m: Fields, key: string, optional: true): number | undefined;
function u32(m: Fields, key: string, optional?: false): number;
function u32(m: Fields, key: string, optional = false): number | undefined {
  const v = m[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RequestError(`${key} must be an unsigned 32-bit integer`);
  return v;
}

function bool(m: Fields, key: string): boolean {
  const v = m[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new RequestError(`${key} must be true or false`);
  return v;
}

function text(m: Fields, key: string, maxBytes: number, optional: true): string | undefined;
function text(m: Fields, key: string, maxBytes: number, optional?: false): string;
function text(m: Fields, key: string, maxBytes: number, optional = false): string | undefined {
  const v = m[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || Buffer.byteLength(v) > maxBytes) throw new RequestError(`${key} must be a string of at most ${maxBytes} bytes`);
  return v;
}

function base64(m: Fields, key: string, maxBytes: number): Uint8Array | undefined {
  const v = m[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new RequestError(`${key} must be base64`);
  const bytes = new Uint8Array(Buffer.from(v, "base64"));
  if (bytes.length > maxBytes) throw new RequestError(`${key} is ${bytes.length} bytes, at most ${maxBytes}`);
  return bytes;
}

function disk(m: Fields): { path: string; offset: number } | undefined {
  const d = m.disk;
  if (d === undefined) return undefined;
  if (typeof d !== "object" || d === null || Array.isArray(d)) throw new RequestError("disk must be {path, offset}");
  const f = d as Fields;
  const path = text(f, "path", MAX_PATH_BYTES);
  if (path === "") throw new RequestError("disk.path is empty");
  const offset = f.offset ?? 0;
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) throw new RequestError("disk.offset must be a non-negative integer");
  return { path, offset };
}

/** The request id, if the message has a usable one (a reply can then carry the error). */
export function requestId(m: Fields): number | undefined {
  const id = m.id;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** Checks one decoded frame; throws RequestError naming the first bad field. */
export function parseRequest(m: Fields): DlmRequest {
  const id = requestId(m);
  if (id === undefined) throw new RequestError("id must be a positive integer");
  switch (m.op) {
    case "hello":
    case "list":
      return { op: m.op, id };
    case "create": {
      const hostId = u32(m, "hostId", true);
      const d = disk(m);
      const lvbLength = u32(m, "lvbLength", true);
      const cluster = text(m, "cluster", 64, true);
      return {
        op: "create",
        id,
        name: text(m, "name", 64),
        exclusive: bool(m, "exclusive"),
        noDir: bool(m, "noDir"),
        timeWarn: bool(m, "timeWarn"),
        recovery: bool(m, "recovery"),
        ...(hostId !== undefined ? { hostId } : {}),
        ...(d ? { disk: d } : {}),
        ...(lvbLength !== undefined ? { lvbLength } : {}),
        ...(cluster !== undefined ? { cluster } : {}),
      };
    }
    case "open":
      return { op: "open", id, name: text(m, "name", 64), recovery: bool(m, "recovery") };
    case "close":
    case "locks":
      return { op: m.op, id, handle: u32(m, "handle") };
    case "release":
      return { op: "release", id, handle: u32(m, "handle"), force: bool(m, "force") };
    case "lock":
      return parseLock(m, id);
    case "unlock": {
      const lvb = base64(m, "lvb", MAX_LVB_BYTES);
      return { op: "unlock", id, handle: u32(m, "handle"), lkid: u32(m, "lkid"), flags: u32(m, "flags", true) ?? 0, ...(lvb ? { lvb } : {}) };
    }
    case "cancel":
      return { op: "cancel", id, handle: u32(m, "handle"), lkid: u32(m, "lkid"), deadlock: bool(m, "deadlock") };
    case "purge":
      return { op: "purge", id, handle: u32(m, "handle"), nodeId: u32(m, "nodeId", true) ?? 0, pid: u32(m, "pid", true) ?? 0 };
    default:
      throw new RequestError(`unknown op ${JSON.stringify(m.op)}`);
  }
}

function parseLock(m: Fields, id: number): DlmRequest {
  // Resource names may be binary: up to DLM_RESNAME_MAXLEN bytes; the engine checks 1..64 and the flags.
  const resource = base64(m, "resource", MAX_RESOURCE_NAME_LEN + 1);
  const lvb = base64(m, "lvb", MAX_LVB_BYTES);
  const lkid = u32(m, "lkid", true);
  const timeoutMs = u32(m, "timeoutMs", true);
  return {
    op: "lock",
    id,
    handle: u32(m, "handle"),
    mode: u32(m, "mode"),
    flags: u32(m, "flags", true) ?? 0,
    bast: bool(m, "bast"),
    ...(resource ? { resource } : {}),
    ...(lvb ? { lvb } : {}),
    ...(lkid !== undefined ? { lkid } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}
