// Lock state strings and the migration cookie's <lockstate> element (docs/lockmanager.md §4).
// A state is the INQUIRE payload verbatim; acquire only checks that it parses, with the result
// numbers of sanlock_state_to_args, which libvirt reports as errno texts.

import { Errno, MAX_DISKS } from "@sanlock-ts/core/wire";
import { type ParsedResource, parseResourceString } from "../resource-string.js";
import { LockManagerError, LockManagerErrorCode, fromDaemonResult } from "./errors.js";

/** sanlock's state strings stop at 4096 bytes (docs/wire.md §10.3). */
const MAX_STATE_BYTES = 4096;
/** Shortest resource string sanlock_str_to_res accepts. */
const MIN_RESOURCE_CHARS = 3;

/** Splits a state at the spaces that separate resource strings (a space before a string's third colon is its own). */
function splitState(state: string): string[] {
  const parts: string[] = [];
  let current = "";
  let colons = 0;
  for (let i = 0; i < state.length; i++) {
    const ch = state[i] as string;
    if (ch === "\\" && i + 1 < state.length) {
      current += ch + (state[i + 1] as string);
      i++;
    } else if (ch === " " && colons >= 3) {
      parts.push(current);
      current = "";
      colons = 0;
    } else {
      if (ch === ":") colons++;
      current += ch;
    }
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

function unescapedColons(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === ":") n++;
  }
  return n;
}

/** sanlock_str_to_res's result for one resource string: 0, or −ENXIO, −1 (EPERM), −2 (ENOENT), −EINVAL. */
function resourceStringResult(text: string): number {
  if (text.length < MIN_RESOURCE_CHARS) return -Errno.ENXIO;
  const colons = unescapedColons(text);
  if (colons === 0 || colons === 2) return -Errno.EPERM;
  if (Math.floor((colons - 1) / 2) > MAX_DISKS) return -Errno.ENOENT;
  try {
    parseResourceString(text);
    return 0;
  } catch {
    return -Errno.EINVAL;
  }
}

/**
 * The resources of a lock state, checked as acquire checks them (docs/lockmanager.md §4.1); an
 * empty or absent state is no state. Throws ERR_LOCKMGR_STATE_PARSE with libvirt's text
 * ("Unable to parse lock state ab: No such device or address").
 */
export function parseLockState(state: string | null | undefined): ParsedResource[] {
  if (state === null || state === undefined || state === "") return [];
  if (Buffer.byteLength(state) > MAX_STATE_BYTES) {
    throw new LockManagerError(
      LockManagerErrorCode.STATE_PARSE,
      "SYSTEM_ERROR",
      `Unable to parse lock state ${state.slice(0, 80)}: longer than ${MAX_STATE_BYTES} bytes`,
    );
  }
  const parts = splitState(state);
  if (parts.length === 0) throw fromDaemonResult(LockManagerErrorCode.STATE_PARSE, `Unable to parse lock state ${state}`, -Errno.ENXIO);
  const out: ParsedResource[] = [];
  for (const part of parts) {
    const result = resourceStringResult(part);
    if (result < 0) throw fromDaemonResult(LockManagerErrorCode.STATE_PARSE, `Unable to parse lock state ${state}`, result);
    out.push(parseResourceString(part));
  }
  return out;
}

export const LOCK_DRIVER_NAME = "sanlock";

/** The <lockstate> element of a migration cookie, as libvirt writes it (no XML escaping of the state). */
export function formatLockstateCookie(state: string | null, driver = LOCK_DRIVER_NAME): string {
  const leases = state === null || state === "" ? "" : `\n  <leases>${state}</leases>`;
  return `<lockstate driver='${driver}'>${leases}\n</lockstate>\n`;
}

function cookieError(message: string): LockManagerError {
  return new LockManagerError(LockManagerErrorCode.COOKIE, "INTERNAL_ERROR", message);
}

/**
 * Reads a <lockstate> element (docs/lockmanager.md §4.3): the source's driver must be this one;
 * an empty or missing <leases> is no state.
 */
export function parseLockstateCookie(xml: string, localDriver = LOCK_DRIVER_NAME): { driver: string; state: string | null } {
  const element = /<lockstate\b([^>]*)>([\s\S]*?)<\/lockstate>|<lockstate\b([^>]*)\/>/.exec(xml);
  if (!element) throw cookieError("Missing lockstate element in migration cookie");
  const attrs = element[1] ?? element[3] ?? "";
  const driver = /\bdriver\s*=\s*(?:'([^']*)'|"([^"]*)")/.exec(attrs);
  const name = driver ? (driver[1] ?? driver[2] ?? "") : "";
  if (name === "") throw cookieError("Missing lock driver name in migration cookie");
  if (name !== localDriver) throw cookieError(`Source host lock driver ${name} different from target ${localDriver}`);
  const leases = /<leases>([\s\S]*?)<\/leases>/.exec(element[2] ?? "");
  const state = leases?.[1] ?? "";
  return { driver: name, state: state === "" ? null : state };
}
