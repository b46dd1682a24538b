// The driver's configuration file, `<hypervisor>-sanlock.conf` (docs/lockmanager.md §6): libvirt's
// virConf syntax (`key = value`, `#` comments; integers, "strings" and [lists]), with its type
// rules — bools are the integers 0 or 1, host_id and io_timeout non-negative integers, the others
// strings. Unknown keys are ignored, as the plugin does.

import { readFile } from "node:fs/promises";
import { MAX_HOST_ID, MAX_IO_TIMEOUT } from "@sanlock-ts/core/limits";
import { PATH_LEN } from "@sanlock-ts/core/wire";
import { LockManagerError, LockManagerErrorCode, fromSystemError } from "./errors.js";

export const DEFAULT_DISK_LEASE_DIR = "/var/lib/libvirt/sanlock";
/** Most bytes of a configuration file this parser reads; libvirt's own files are a few KiB. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface SanlockLockConfig {
  autoDiskLeases: boolean;
  diskLeaseDir: string;
  /** 0 = none; mandatory (1..2000) with autoDiskLeases. */
  hostId: number;
  requireLeaseForDisks: boolean;
  /** 0 = sanlock's default (10 s). */
  ioTimeout: number;
  /** Owner given to created files: a name or "+uid"; undefined = leave as created. */
  user: string | undefined;
  group: string | undefined;
}

export function defaultLockConfig(): SanlockLockConfig {
  return {
    autoDiskLeases: false,
    diskLeaseDir: DEFAULT_DISK_LEASE_DIR,
    hostId: 0,
    requireLeaseForDisks: true,
    ioTimeout: 0,
    user: undefined,
    group: undefined,
  };
}

type ConfValue = { kind: "int"; value: bigint } | { kind: "string"; value: string } | { kind: "list" };

function configError(message: string): LockManagerError {
  return new LockManagerError(LockManagerErrorCode.CONFIG, "INTERNAL_ERROR", message);
}

/** Reads one value at the start of `text`; returns it and the rest of the line. */
function readValue(file: string, key: string, text: string): ConfValue {
  const t = text.trim();
  const str = /^"((?:[^"\\]|\\.)*)"|^'([^']*)'/.exec(t);
  if (str) return { kind: "string", value: str[1] !== undefined ? str[1].replace(/\\(.)/g, "$1") : (str[2] ?? "") };
  const int = /^[+-]?\d+/.exec(t);
  if (int) return { kind: "int", value: BigInt(int[0]) };
  if (t.startsWith("[")) return { kind: "list" };
  throw configError(`${file}: cannot read the value of '${key}'`);
}

/** `key = value` pairs of a virConf text (last one wins; multi-line lists are skipped). */
export function parseConfText(text: string, file: string): Map<string, ConfValue> {
  const values = new Map<string, ConfValue>();
  let inList = false;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (inList) {
      if (line.includes("]")) inList = false;
      continue;
    }
    if (line === "") continue;
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw configError(`${file}: expected 'key = value': ${line.slice(0, 80)}`);
    const key = m[1] as string;
    const value = readValue(file, key, m[2] as string);
    if (value.kind === "list" && !line.includes("]")) inList = true;
    values.set(key, value);
  }
  return values;
}

function boolOf(file: string, key: string, v: ConfValue): boolean {
  if (v.kind !== "int") throw configError(`${file}: expected a bool for '${key}' parameter`);
  if (v.value !== 0n && v.value !== 1n) throw configError(`value for '${key}' parameter must be 0 or 1`);
  return v.value === 1n;
}

function uintOf(file: string, key: string, v: ConfValue, max: number): number {
  if (v.kind !== "int" || v.value < 0n) throw configError(`${file}: expected an unsigned integer for '${key}' parameter`);
  if (v.value > BigInt(max)) throw configError(`${file}: value for '${key}' parameter must be at most ${max}`);
  return Number(v.value);
}

function stringOf(file: string, key: string, v: ConfValue): string {
  if (v.kind !== "string") throw configError(`${file}: expected a string for '${key}' parameter`);
  return v.value;
}

/** The configuration a file's text gives (docs/lockmanager.md §6); `require_lease_for_disks` defaults to !auto_disk_leases. */
export function parseLockConfig(text: string, file = "sanlock.conf"): SanlockLockConfig {
  const values = parseConfText(text, file);
  const config = defaultLockConfig();
  const get = (key: string): ConfValue | undefined => values.get(key);
  const auto = get("auto_disk_leases");
  if (auto) config.autoDiskLeases = boolOf(file, "auto_disk_leases", auto);
  const dir = get("disk_lease_dir");
  if (dir) config.diskLeaseDir = stringOf(file, "disk_lease_dir", dir);
  const hostId = get("host_id");
  if (hostId) config.hostId = uintOf(file, "host_id", hostId, MAX_HOST_ID);
  const require = get("require_lease_for_disks");
  config.requireLeaseForDisks = require ? boolOf(file, "require_lease_for_disks", require) : !config.autoDiskLeases;
  const ioTimeout = get("io_timeout");
  if (ioTimeout) config.ioTimeout = uintOf(file, "io_timeout", ioTimeout, MAX_IO_TIMEOUT);
  const user = get("user");
  if (user) config.user = stringOf(file, "user", user);
  const group = get("group");
  if (group) config.group = stringOf(file, "group", group);
  return config;
}

/** Checks what init needs (docs/lockmanager.md §2.1 step 3); throws ERR_LOCKMGR_CONFIG. */
export function checkLockConfig(config: SanlockLockConfig): void {
  if (config.autoDiskLeases && config.hostId === 0) throw configError("Automatic disk lease mode enabled, but no host ID is set");
  if (config.hostId < 0 || config.hostId > MAX_HOST_ID || !Number.isInteger(config.hostId))
    throw configError(`host_id ${config.hostId} is not 0..${MAX_HOST_ID}`);
  if (Buffer.byteLength(config.diskLeaseDir) >= PATH_LEN) throw configError(`disk_lease_dir is ${PATH_LEN} bytes or longer`);
}

/** The file's configuration; a missing file gives the defaults (as libvirt), an unreadable one an error. */
export async function readLockConfig(file: string): Promise<SanlockLockConfig> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_CONFIG_BYTES) throw configError(`${file}: larger than ${MAX_CONFIG_BYTES} bytes`);
    text = bytes.toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return defaultLockConfig();
    if (err instanceof LockManagerError) throw err;
    throw fromSystemError(LockManagerErrorCode.CONFIG, `Unable to read ${file}`, err);
  }
  return parseLockConfig(text, file);
}
