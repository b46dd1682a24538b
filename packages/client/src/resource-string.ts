// Resource strings and path escaping (docs/wire.md §10.1–§10.3): the INQUIRE
// state string the daemon produces, and the exported form `status` prints.

import { ClientError, ClientErrorCode } from "./errors.js";
import { MAX_DISKS, NAME_LEN, PATH_LEN, ResFlag } from "@sanlock-ts/core/wire";

export interface ParsedDisk {
  path: string;
  offset: bigint;
}

export interface ParsedResource {
  lockspace: string;
  resource: string;
  disks: ParsedDisk[];
  /** RES_LVER when the string ended in a version, RES_SHARED for ":SH" (as the Python binding reports). */
  flags: number;
  /** The lease version, 0 when shared or absent. */
  version: bigint;
}

/** sanlock's resource strings stop at 4400 characters (docs/wire.md §10.1); state strings at 4096 bytes. */
const MAX_RESOURCE_STRING = 4400;
const MAX_STATE_RESOURCES = 1024;

function malformed(text: string, problem: string): ClientError {
  return new ClientError(ClientErrorCode.PROTOCOL, `resource string "${text.slice(0, 80)}": ${problem}`);
}

/** Splits at unescaped colons; the fields keep their escapes. */
function splitColons(text: string): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") {
      i++;
      continue;
    }
    if (text[i] === ":") {
      fields.push(text.slice(start, i));
      start = i + 1;
    }
  }
  fields.push(text.slice(start));
  return fields;
}

/** Import rule of docs/wire.md §10.2: every backslash is removed, the character after it kept. */
export function unescapePath(field: string): string {
  return field.replace(/\\(.)/gs, "$1").replace(/\\$/, "");
}

/** Export rule of docs/wire.md §10.2: ":" and " " not already escaped get a backslash. */
export function escapePath(path: string): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] as string;
    if (ch === "\\" && i + 1 < path.length) {
      out += ch + (path[i + 1] as string);
      i++;
    } else if (ch === ":" || ch === " ") {
      out += `\\${ch}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** One `LOCKSPACE:RESOURCE:PATH:OFFSET[:PATH:OFFSET ...][:LVER | :SH]` string (docs/wire.md §10.1). */
export function parseResourceString(text: string): ParsedResource {
  if (text.length > MAX_RESOURCE_STRING) throw malformed(text, `longer than ${MAX_RESOURCE_STRING} characters`);
  const fields = splitColons(text);
  const colons = fields.length - 1;
  if (colons === 0 || colons === 2) throw malformed(text, `${colons} separators`);
  const diskCount = Math.floor((colons - 1) / 2);
  if (diskCount > MAX_DISKS) throw malformed(text, `${diskCount} disks exceed ${MAX_DISKS}`);
  const lockspace = unescapePath(fields[0] ?? "");
  const resource = unescapePath(fields[1] ?? "");
  if (lockspace.length > NAME_LEN || resource.length > NAME_LEN) throw malformed(text, `name longer than ${NAME_LEN}`);
  const disks: ParsedDisk[] = [];
  for (let d = 0; d < diskCount; d++) {
    const path = unescapePath(fields[2 + 2 * d] ?? "");
    const offset = fields[3 + 2 * d] ?? "";
    if (path.length === 0 || path.length >= PATH_LEN) throw malformed(text, `disk ${d} path length ${path.length}`);
    if (!/^\d{1,20}$/.test(offset)) throw malformed(text, `disk ${d} offset "${offset}" is not decimal`);
    disks.push({ path, offset: BigInt(offset) });
  }
  if ((colons - 1) % 2 === 0) return { lockspace, resource, disks, flags: 0, version: 0n };
  const last = fields[fields.length - 1] ?? "";
  if (last.startsWith("SH")) return { lockspace, resource, disks, flags: ResFlag.SHARED, version: 0n };
  return { lockspace, resource, disks, flags: ResFlag.LVER, version: parseLver(last) };
}

/** The LVER field as C strtoull(…, 0) reads it: hex with 0x, octal with a leading 0, garbage → 0 (docs/wire.md §10.1). */
function parseLver(field: string): bigint {
  const hex = /^0[xX]([0-9a-fA-F]+)/.exec(field);
  if (hex) return BigInt(`0x${hex[1]}`);
  const octal = /^0([0-7]+)/.exec(field);
  if (octal) return BigInt(`0o${octal[1]}`);
  const dec = /^\d+/.exec(field);
  return dec ? BigInt(dec[0]) : 0n;
}

/**
 * The INQUIRE state string (docs/wire.md §10.3): resource strings separated by single
 * spaces; a space before the third unescaped colon of the current string
 * belongs to it.
 */
export function parseStateString(state: string): ParsedResource[] {
  const parts: string[] = [];
  let current = "";
  let colons = 0;
  for (let i = 0; i < state.length; i++) {
    const ch = state[i] as string;
    if (ch === "\\" && i + 1 < state.length) {
      current += ch + (state[i + 1] as string);
      i++;
      continue;
    }
    if (ch === " " && colons >= 3) {
      parts.push(current);
      current = "";
      colons = 0;
      continue;
    }
    if (ch === ":") colons++;
    current += ch;
  }
  if (current.length > 0) parts.push(current);
  if (parts.length > MAX_STATE_RESOURCES) throw malformed(state, `more than ${MAX_STATE_RESOURCES} resources`);
  return parts.map(parseResourceString);
}

/** Builds a resource string the way the daemon and the CLI do (docs/wire.md §10.1): final field always present. */
export function formatResourceString(r: { lockspace: string; resource: string; disks: readonly ParsedDisk[]; shared: boolean; version: bigint }): string {
  const disks = r.disks.map((d) => `:${escapePath(d.path)}:${d.offset}`).join("");
  return `${r.lockspace}:${r.resource}${disks}:${r.shared ? "SH" : r.version.toString()}`;
}
