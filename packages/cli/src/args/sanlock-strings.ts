/**
 * Parsers for the colon-separated arguments of the sanlock 3.8.5 command line
 * (spec docs/wire.md §10.1, §10.2, §10.4; docs/ondisk.md §9.1):
 *
 *   -s LOCKSPACE  = NAME:HOST_ID:PATH:OFFSET
 *   -r RESOURCE   = LOCKSPACE_NAME:NAME:PATH:OFFSET[:PATH:OFFSET ...][:LVER | :SH]
 *   -x RINDEX     = LOCKSPACE_NAME:PATH:OFFSET
 *   -e RENTRY     = NAME[:OFFSET]   (or ":OFFSET")
 *   dump target   = PATH[:OFFSET[:SIZE]]
 *
 * A backslash escapes the next character (so a path may contain "\:"); the
 * backslash is dropped from the value. Offsets and sizes are decimal bytes or a
 * decimal number followed by "M" (MiB).
 *
 * Deliberately stricter than sanlock, which silently truncates long names and
 * turns unparsable numbers into 0: here both are errors, because a silently
 * changed name or offset would make the tool write somewhere else than asked.
 */
import { CliArgError } from "./errors.js";
import { MAX_DISKS } from "@sanlock-ts/client/wire";

/** NAME_ID_SIZE / SANLK_NAME_LEN: names are at most 48 bytes (docs/ondisk.md §1). */
export const MAX_NAME_BYTES = 48;
/** SANLK_PATH_LEN is 1024 including the terminating NUL. */
export const MAX_PATH_BYTES = 1023;
/** SANLK_MAX_DISKS: a resource has at most 4 disks (core/limits.ts). */
export { MAX_DISKS };
/** Longest argument string we look at; sanlock's resource strings stop at 4400. */
export const MAX_ARG_CHARS = 8192;
const MIB = 1048576;

export interface Disk {
  readonly path: string;
  readonly offset: number;
}

export interface LockspaceArg {
  readonly name: string;
  readonly hostId: number;
  /** "" when the argument had no path field. */
  readonly path: string;
  readonly offset: number;
}

export interface ResourceArg {
  readonly lockspaceName: string;
  readonly name: string;
  readonly disks: readonly Disk[];
  /** Present when the string ended in an LVER field. */
  readonly lver?: bigint;
  readonly shared: boolean;
}

export interface RindexArg {
  readonly lockspaceName: string;
  readonly path: string;
  readonly offset: number;
}

export interface RentryArg {
  /** "" when only an offset was given ("-e :OFFSET"). */
  readonly name: string;
  /** 0 when no offset was given. */
  readonly offset: number;
}

export interface DumpTarget {
  readonly path: string;
  readonly offset: number;
  /** 0 = no size given (dump until the first unknown area). */
  readonly size: number;
}

const utf8 = new TextEncoder();

function byteLength(text: string): number {
  return utf8.encode(text).length;
}

function checkLength(text: string, what: string): void {
  if (text.length > MAX_ARG_CHARS) {
    throw new CliArgError("ERR_CLI_BAD_ARG", `${what} is longer than ${MAX_ARG_CHARS} characters`);
  }
}

/**
 * Split at unescaped colons, at most `maxSeparators` of them (the rest of the
 * string, colons included, stays in the last field). Fields keep their escapes.
 */
export function splitUnescaped(text: string, maxSeparators: number): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\") {
      i++; // the escaped character is never a separator
      continue;
    }
    if (ch === ":" && fields.length < maxSeparators) {
      fields.push(text.slice(start, i));
      start = i + 1;
    }
  }
  fields.push(text.slice(start));
  return fields;
}

/** Drop escaping backslashes: "\:" -> ":", "\\" -> "\". */
export function unescapeField(field: string, what: string): string {
  let out = "";
  for (let i = 0; i < field.length; i++) {
    const ch = field[i];
    if (ch === "\\") {
      const next = field[i + 1];
      if (next === undefined) {
        throw new CliArgError("ERR_CLI_BAD_ARG", `${what} ends with a lone backslash`);
      }
      out += next;
      i++;
      continue;
    }
    out += ch;
  }
  return out;
}

/** Decimal bytes, or decimal MiB with an "M" suffix ("1M" = 1048576). */
export function parseOffset(text: string, what: string): number {
  const match = /^(\d+)(M?)$/.exec(text);
  if (match === null) {
    throw new CliArgError("ERR_CLI_BAD_NUMBER", `${what} "${text}" is not a number of bytes (digits, optionally followed by M)`);
  }
  const value = Number(match[1]) * (match[2] === "M" ? MIB : 1);
  if (!Number.isSafeInteger(value)) {
    throw new CliArgError("ERR_CLI_BAD_NUMBER", `${what} "${text}" is too large`);
  }
  return value;
}

/** A plain decimal count (host_id, -n, -o, -f). */
export function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text)) {
    throw new CliArgError("ERR_CLI_BAD_NUMBER", `${what} "${text}" is not a decimal number`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new CliArgError("ERR_CLI_BAD_NUMBER", `${what} "${text}" is too large`);
  }
  return value;
}

export function checkName(name: string, what: string): string {
  const bytes = byteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    throw new CliArgError("ERR_CLI_NAME_TOO_LONG", `${what} "${name}" is ${bytes} bytes, the limit is ${MAX_NAME_BYTES}`);
  }
  return name;
}

function checkPath(path: string, what: string): string {
  const bytes = byteLength(path);
  if (bytes > MAX_PATH_BYTES) {
    throw new CliArgError("ERR_CLI_PATH_TOO_LONG", `${what} is ${bytes} bytes, the limit is ${MAX_PATH_BYTES}`);
  }
  return path;
}

/** -s NAME:HOST_ID:PATH:OFFSET; missing trailing fields stay 0 / "" (docs/wire.md §10.4). */
export function parseLockspaceArg(text: string): LockspaceArg {
  checkLength(text, "lockspace argument");
  const [name = "", hostId, path, offset] = splitUnescaped(text, 3);
  return {
    name: checkName(unescapeField(name, "lockspace name"), "lockspace name"),
    hostId: hostId === undefined || hostId === "" ? 0 : parseCount(hostId, "lockspace host_id"),
    path: path === undefined ? "" : checkPath(unescapeField(path, "lockspace path"), "lockspace path"),
    offset: offset === undefined || offset === "" ? 0 : parseOffset(offset, "lockspace offset"),
  };
}

/** -r LS:NAME:PATH:OFFSET[:PATH:OFFSET ...][:LVER|:SH] (docs/wire.md §10.1). */
export function parseResourceArg(text: string): ResourceArg {
  checkLength(text, "resource argument");
  const fields = splitUnescaped(text, Number.MAX_SAFE_INTEGER);
  const colons = fields.length - 1;
  if (colons < 3) {
    throw new CliArgError("ERR_CLI_BAD_ARG", `resource "${text}" needs LOCKSPACE:NAME:PATH:OFFSET`);
  }
  const diskCount = Math.floor((colons - 1) / 2);
  const hasLver = (colons - 1) % 2 === 1;
  if (diskCount > MAX_DISKS) {
    throw new CliArgError("ERR_CLI_BAD_ARG", `resource "${text}" names ${diskCount} disks, the limit is ${MAX_DISKS}`);
  }
  const lockspaceName = checkName(unescapeField(fields[0] ?? "", "resource lockspace name"), "resource lockspace name");
  const name = checkName(unescapeField(fields[1] ?? "", "resource name"), "resource name");
  const disks: Disk[] = [];
  for (let d = 0; d < diskCount; d++) {
    const path = unescapeField(fields[2 + 2 * d] ?? "", "resource path");
    if (path === "") {
      throw new CliArgError("ERR_CLI_PATH_MISSING", `resource "${text}" has an empty path for disk ${d + 1}`);
    }
    disks.push({
      path: checkPath(path, "resource path"),
      offset: parseOffset(fields[3 + 2 * d] ?? "", "resource offset"),
    });
  }
  const last = hasLver ? unescapeField(fields[fields.length - 1] ?? "", "resource lver") : undefined;
  if (last === undefined) return { lockspaceName, name, disks, shared: false };
  if (last.startsWith("SH")) return { lockspaceName, name, disks, shared: true };
  return { lockspaceName, name, disks, lver: BigInt(parseCount(last, "resource lver")), shared: false };
}

/** -x LOCKSPACE_NAME:PATH:OFFSET (docs/wire.md §10.4). */
export function parseRindexArg(text: string): RindexArg {
  checkLength(text, "rindex argument");
  const [name = "", path, offset] = splitUnescaped(text, 2);
  return {
    lockspaceName: checkName(unescapeField(name, "rindex lockspace name"), "rindex lockspace name"),
    path: path === undefined ? "" : checkPath(unescapeField(path, "rindex path"), "rindex path"),
    offset: offset === undefined || offset === "" ? 0 : parseOffset(offset, "rindex offset"),
  };
}

/** -e NAME[:OFFSET] or -e :OFFSET; split at the first colon (names hold no colon). */
export function parseRentryArg(text: string): RentryArg {
  checkLength(text, "rindex entry argument");
  const colon = text.indexOf(":");
  const name = colon < 0 ? text : text.slice(0, colon);
  const offset = colon < 0 ? "" : text.slice(colon + 1);
  return {
    name: checkName(name, "rindex entry name"),
    offset: offset === "" ? 0 : parseOffset(offset, "rindex entry offset"),
  };
}

/** `direct dump PATH[:OFFSET[:SIZE]]` (docs/ondisk.md §9.1). */
export function parseDumpTarget(text: string): DumpTarget {
  checkLength(text, "dump target");
  const [path = "", offset, size] = splitUnescaped(text, 2);
  const plainPath = unescapeField(path, "dump path");
  if (plainPath === "") throw new CliArgError("ERR_CLI_PATH_MISSING", "dump needs a path");
  return {
    path: checkPath(plainPath, "dump path"),
    offset: offset === undefined || offset === "" ? 0 : parseOffset(offset, "dump offset"),
    size: size === undefined || size === "" ? 0 : parseOffset(size, "dump size"),
  };
}
