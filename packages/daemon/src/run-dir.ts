/**
 * The run directory and the listening socket (docs/wire.md §2.1, §2.2; sanlock lockfile.c and
 * main.c setup_listener).
 *
 * - run_dir is created with mode 0775 (umask 0002) if missing and chowned to (uid, 0) when
 *   privileged, (uid, gid) when not; a chown failure is fatal, as in sanlock.
 * - the socket `<run_dir>/sanlock.sock`: a stale file is unlinked, then bind, chmod 0660,
 *   chown(uid, gid) (fatal on failure), listen. Access control is only this file mode.
 * - owner uid/gid (main.c defaults, user_to_uid, group_to_gid): a user AND a group named
 *   "sanlock" → theirs, else 0/0; -U replaces only the uid and -G only the gid, each looked up
 *   by name only (getpwnam/getgrnam: "65534" is not a name), an unknown one giving 0.
 */
import { SanlockTsError } from "@sanlock-ts/core";
import { chmodSync, chownSync, linkSync, mkdirSync, renameSync, rmSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { koffi, libcFunctionOf } from "./libc.js";

export const SOCKET_NAME = "sanlock.sock";
/** sanlock formats the path into sun_path with room for 106 characters (docs/wire.md §2.1). */
export const MAX_SOCKET_PATH = 106;
/** Socket file mode: srw-rw---- (DEFAULT_SOCKET_MODE). */
export const SOCKET_MODE = 0o660;
/** Run dir mode when we create it (mkdir 0775 under umask 0002). */
export const RUN_DIR_MODE = 0o775;
/**
 * Listen backlog. sanlock uses 5; libuv accepts in a loop as soon as the listener is
 * readable, and a larger queue only avoids refusing a burst of connecting clients.
 */
export const LISTEN_BACKLOG = 128;

export class RunDirError extends SanlockTsError {
  override readonly name = "RunDirError";
}

export interface SocketOwner {
  readonly uid: number;
  readonly gid: number;
  /**
   * sanlock's com.uname / com.gname: the -U / -G (or sanlock.conf uname / gname) names, else
   * "sanlock" when the default came from the sanlock user and group. Privileged mode switches
   * to uid/gid only when both are set (setup_uid_gid).
   */
  readonly userName?: string | undefined;
  readonly groupName?: string | undefined;
}

export function socketPath(runDir: string, name: string = SOCKET_NAME): string {
  const path = join(runDir, name);
  if (path.length > MAX_SOCKET_PATH) {
    throw new RunDirError("ERR_DAEMON_SOCKET_PATH_TOO_LONG", `socket path ${path} is longer than ${MAX_SOCKET_PATH} characters`);
  }
  return path;
}

interface NameLookup {
  uidOf(name: string): number | undefined;
  gidOf(name: string): number | undefined;
}

let lookup: NameLookup | undefined;

/**
 * getpwnam/getgrnam through koffi: Node has no user database API, and reading /etc/passwd
 * would miss NSS sources (LDAP, sssd) that sanlock's getpwnam sees.
 */
function nameLookup(): NameLookup {
  if (lookup !== undefined) return lookup;
  const passwd = koffi.struct("sanlock_ts_passwd", {
    pw_name: "char *",
    pw_passwd: "char *",
    pw_uid: "uint32_t",
    pw_gid: "uint32_t",
    pw_gecos: "char *",
    pw_dir: "char *",
    pw_shell: "char *",
  });
  const group = koffi.struct("sanlock_ts_group", {
    gr_name: "char *",
    gr_passwd: "char *",
    gr_gid: "uint32_t",
    gr_mem: "void *",
  });
  const getpwnam = libcFunctionOf<(name: string) => unknown>("getpwnam", koffi.pointer(passwd), ["const char *"]);
  const getgrnam = libcFunctionOf<(name: string) => unknown>("getgrnam", koffi.pointer(group), ["const char *"]);
  lookup = {
    uidOf(name) {
      const entry: unknown = getpwnam(name);
      return entry === null ? undefined : (koffi.decode(entry, passwd) as { pw_uid: number }).pw_uid;
    },
    gidOf(name) {
      const entry: unknown = getgrnam(name);
      return entry === null ? undefined : (koffi.decode(entry, group) as { gr_gid: number }).gr_gid;
    },
  };
  return lookup;
}

/**
 * uid/gid the socket (and in privileged mode the daemon) will have (docs/wire.md §2.2). sanlock starts from
 * the defaults (the "sanlock" user and group when both exist, else 0/0), then -U sets only
 * com.uid and -G only com.gid: `-U nobody` alone keeps the default gid. Lookups are by name
 * only; a numeric or unknown name gives 0, as user_to_uid / group_to_gid do.
 */
export function resolveSocketOwner(user: string | undefined, group: string | undefined): SocketOwner {
  const names = nameLookup();
  const sanlockUid = names.uidOf("sanlock");
  const sanlockGid = names.gidOf("sanlock");
  const sanlockDefault = sanlockUid !== undefined && sanlockGid !== undefined;
  const defaultName = sanlockDefault ? "sanlock" : undefined;
  return {
    uid: user !== undefined ? (names.uidOf(user) ?? 0) : sanlockDefault ? sanlockUid : 0,
    gid: group !== undefined ? (names.gidOf(group) ?? 0) : sanlockDefault ? sanlockGid : 0,
    userName: user ?? defaultName,
    groupName: group ?? defaultName,
  };
}

/** Creates run_dir if needed and gives it sanlock's ownership. */
export function prepareRunDir(runDir: string, owner: SocketOwner, privileged: boolean): void {
  const previousUmask = process.umask(0o002);
  try {
    mkdirSync(runDir, { mode: RUN_DIR_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new RunDirError("ERR_DAEMON_RUN_DIR", `cannot create run dir ${runDir}: ${(error as Error).message}`);
    }
  } finally {
    process.umask(previousUmask);
  }
  try {
    chownSync(runDir, owner.uid, privileged ? 0 : owner.gid);
  } catch (error) {
    throw new RunDirError("ERR_DAEMON_RUN_DIR", `lockfile chown error ${runDir}: ${(error as Error).message}`);
  }
}

/** Binds and listens on `<run_dir>/sanlock.sock` with sanlock's mode and owner. */
export async function listenOnRunDir(runDir: string, owner: SocketOwner, onConnection: (socket: Socket) => void, name: string = SOCKET_NAME): Promise<Server> {
  const path = socketPath(runDir, name);
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new RunDirError("ERR_DAEMON_SOCKET", `cannot remove stale socket ${path}: ${(error as Error).message}`);
    }
  }
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, onConnection);
  // Bind with a restrictive umask so the socket is never connectable by others before chmod.
  const previousUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ path, backlog: LISTEN_BACKLOG }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    throw new RunDirError("ERR_DAEMON_SOCKET", `cannot listen on ${path}: ${(error as Error).message}`);
  } finally {
    process.umask(previousUmask);
  }
  try {
    chmodSync(path, SOCKET_MODE);
    chownSync(path, owner.uid, owner.gid);
  } catch (error) {
    server.close();
    throw new RunDirError("ERR_DAEMON_SOCKET", `could not set socket ${path} permissions: ${(error as Error).message}`);
  }
  return server;
}

/**
 * Stops listening but leaves `sanlock.sock` in place, as sanlock does (docs/wire.md §2.2, §8.3: clients
 * then get ECONNREFUSED, not ENOENT). libuv unlinks a unix socket's path when its server
 * closes, so a second hard link keeps the inode and is renamed back afterwards.
 */
export async function closeKeepingSocketFile(server: Server, runDir: string): Promise<void> {
  const path = socketPath(runDir);
  const keep = `${path}.closing`;
  let linked = false;
  try {
    linkSync(path, keep);
    linked = true;
  } catch {
    // The file is already gone (or the dir is read-only): nothing to keep.
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!linked) return;
  try {
    renameSync(keep, path);
  } catch {
    rmSync(keep, { force: true });
  }
}
