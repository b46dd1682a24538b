// Creation of the two kinds of files automatic disk leases use (docs/lockmanager.md §2.1 step 4,
// §3.3), in libvirt's order: create exclusively (EEXIST = another host is creating it: leave it),
// give it the configured owner, ask the daemon for the alignment (ALIGN), zero-fill that many
// bytes, and have the daemon format the area. A failure in these steps removes the file again. An
// existing file is never checked or rewritten.

import { constants } from "node:fs";
import { chmod, chown, open, readFile, stat, unlink } from "node:fs/promises";
import type { CallTarget } from "../calls.js";
import { ResFlag } from "@sanlock-ts/core/wire";
import { align, writeLockspace, writeResource } from "../operations.js";
import type { SanlockLockConfig } from "./config.js";
import { DISKS_LOCKSPACE } from "./disk-lease.js";
import { LockManagerError, LockManagerErrorCode, type LockManagerErrorCodeValue, fromClientFailure, fromSystemError } from "./errors.js";

/** ALIGN answers 1, 2, 4 or 8 MiB (docs/wire.md §7.12); anything else is refused before zero-filling. */
const MAX_ALIGN_BYTES = 8 * 1024 * 1024;
const ZERO_CHUNK = 1024 * 1024;
const MODE_OWNER_RW = 0o600;
const MODE_GROUP_RW = 0o060;
/** /etc/passwd and /etc/group are read whole; bigger ones are not a local account database. */
const MAX_ACCOUNT_FILE = 16 * 1024 * 1024;

export interface FileOwner {
  uid: number;
  gid: number;
}

/** uid or gid of `+N` or a name from the account file; -1 = unset. */
async function accountId(value: string | undefined, file: string): Promise<number> {
  if (value === undefined) return -1;
  if (/^\+\d+$/.test(value)) return Number(value.slice(1));
  const text = await readFile(file, "utf8").catch(() => "");
  if (text.length > MAX_ACCOUNT_FILE) throw new LockManagerError(LockManagerErrorCode.CONFIG, "INTERNAL_ERROR", `${file} is too large`);
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === value && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  throw new LockManagerError(LockManagerErrorCode.CONFIG, "INTERNAL_ERROR", `Failed to parse ${file === "/etc/group" ? "group" : "user"} '${value}'`);
}

/** The configured owner of created files (-1 for what is not set). */
export async function configuredOwner(config: SanlockLockConfig): Promise<FileOwner> {
  return { uid: await accountId(config.user, "/etc/passwd"), gid: await accountId(config.group, "/etc/group") };
}

interface AreaCreation {
  path: string;
  mode: number;
  owner: FileOwner;
  target: CallTarget;
  errorCode: LockManagerErrorCodeValue;
  /** Formats the zero-filled area through the daemon. */
  format: () => Promise<void>;
  /** libvirt's texts: "Unable to create lockspace %s" (also for leases), "... initialize ...". */
  initText: string;
}

/** Creates, zero-fills and formats one area file; false when it existed (or another host is creating it). */
async function createAreaFile(c: AreaCreation): Promise<boolean> {
  let handle;
  try {
    handle = await open(c.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, c.mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw fromSystemError(c.errorCode, `Unable to create lockspace ${c.path}`, err);
  }
  try {
    await handle.chmod(c.mode); // the umask must not take bits libvirt sets
    if (c.owner.uid !== -1 || c.owner.gid !== -1) await handle.chown(c.owner.uid, c.owner.gid);
    let alignment: number;
    try {
      alignment = await align(c.target, c.path);
    } catch (err) {
      throw fromClientFailure(c.errorCode, `Unable to query sector size ${c.path}`, err);
    }
    if (alignment <= 0 || alignment > MAX_ALIGN_BYTES || alignment % ZERO_CHUNK !== 0) {
      throw new LockManagerError(c.errorCode, "INTERNAL_ERROR", `Unable to query sector size ${c.path}: alignment ${alignment}`);
    }
    const zeros = new Uint8Array(ZERO_CHUNK);
    for (let at = 0; at < alignment; at += ZERO_CHUNK) await handle.write(zeros, 0, ZERO_CHUNK, at);
    await handle.sync();
    await handle.close();
    handle = undefined;
    try {
      await c.format();
    } catch (err) {
      throw fromClientFailure(c.errorCode, `${c.initText} ${c.path}`, err);
    }
    return true;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(c.path).catch(() => undefined);
    if (err instanceof LockManagerError) throw err;
    throw fromSystemError(c.errorCode, `Unable to create lockspace ${c.path}`, err);
  }
}

/**
 * The __LIBVIRT__DISKS__ area at offset 0 of `path` (docs/lockmanager.md §2.1 step 4): mode 0600,
 * 0660 when a group is configured. An existing regular file gets the configured owner and, with a
 * group, the group bits; it is not re-initialised.
 */
export async function ensureLockspaceFile(path: string, config: SanlockLockConfig, target: CallTarget): Promise<boolean> {
  const owner = await configuredOwner(config);
  const groupBits = config.group !== undefined ? MODE_GROUP_RW : 0;
  const info = await stat(path).catch(() => null);
  if (info !== null) {
    if (!info.isFile())
      throw new LockManagerError(LockManagerErrorCode.LOCKSPACE_SETUP, "INTERNAL_ERROR", `Unable to create lockspace ${path}: not a regular file`);
    try {
      const uidWrong = owner.uid !== -1 && info.uid !== owner.uid;
      const gidWrong = owner.gid !== -1 && info.gid !== owner.gid;
      if (uidWrong || gidWrong) await chown(path, owner.uid, owner.gid);
      if (groupBits !== 0 && (info.mode & MODE_GROUP_RW) !== MODE_GROUP_RW) await chmod(path, (info.mode & 0o7777) | MODE_GROUP_RW);
    } catch (err) {
      throw fromSystemError(LockManagerErrorCode.LOCKSPACE_SETUP, `Unable to create lockspace ${path}`, err);
    }
    return false;
  }
  const parent = path.slice(0, path.lastIndexOf("/")) || "/";
  const dirInfo = await stat(parent).catch(() => null);
  if (dirInfo === null || !dirInfo.isDirectory()) {
    throw new LockManagerError(
      LockManagerErrorCode.LOCKSPACE_SETUP,
      "INTERNAL_ERROR",
      `Unable to create lockspace ${path}: parent directory does not exist or is not a directory`,
    );
  }
  return createAreaFile({
    path,
    mode: MODE_OWNER_RW | groupBits,
    owner,
    target,
    errorCode: LockManagerErrorCode.LOCKSPACE_SETUP,
    initText: "Unable to initialize lockspace",
    format: () => writeLockspace(target, { lockspace: DISKS_LOCKSPACE, path, offset: 0n, maxHosts: 0, ioTimeout: config.ioTimeout, flags: 0 }),
  });
}

/**
 * The lease file of one disk (docs/lockmanager.md §3.3): created only when `stat` fails, always
 * mode 0600, formatted with WRITE_RESOURCE (max_hosts 0, num_hosts 0, as sanlock_init sends).
 */
export async function ensureDiskLeaseFile(
  path: string,
  resourceName: string,
  shared: boolean,
  config: SanlockLockConfig,
  target: CallTarget,
): Promise<boolean> {
  if ((await stat(path).catch(() => null)) !== null) return false;
  const owner = await configuredOwner(config);
  return createAreaFile({
    path,
    mode: MODE_OWNER_RW,
    owner,
    target,
    errorCode: LockManagerErrorCode.LEASE_CREATE,
    initText: "Unable to initialize lease",
    format: () =>
      writeResource(target, {
        lockspace: DISKS_LOCKSPACE,
        resource: resourceName,
        disks: [{ path, offset: 0n }],
        maxHosts: 0,
        numHosts: 0,
        clear: false,
        // libvirt passes the resource's SHARED flag here; the daemon reads only its ALIGN/SECTOR bits (docs/lockmanager.md §3.3).
        flags: shared ? ResFlag.SHARED : 0,
      }),
  });
}
