/**
 * The daemon's pid file, `<run_dir>/sanlock.pid` (docs/wire.md §2.2; sanlock lockfile.c).
 *
 * Like sanlock it is opened O_CREAT|O_WRONLY mode 0644 (libuv adds O_CLOEXEC to every open), locked with a whole-file
 * fcntl(F_SETLK, F_WRLCK) write lock, truncated, and given "<pid>\n". The lock is what keeps
 * two daemons off one run dir: a second one fails to lock and exits with status 1. We use the
 * POSIX record lock rather than flock(2) because that is the lock sanlock itself takes, so our
 * daemon and a real sanlock daemon also exclude each other on the same run dir. Node has no
 * fcntl locking, hence the fs-ext native addon; only its asynchronous fcntl builds the
 * struct flock (its fcntlSync passes the lock type as a pointer and fails with EFAULT).
 * The lock lives as long as the descriptor.
 */
import { SanlockTsError } from "@sanlock-ts/core";
import { closeSync, ftruncateSync, openSync, writeSync, constants as fsConstants } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** File name of the pid file inside the run dir (SANLK_LOCKFILE_NAME). */
export const PID_FILE_NAME = "sanlock.pid";
/** l_type value of a write lock on Linux (F_WRLCK). */
const F_WRLCK = 1;

interface FsExt {
  fcntl(fd: number, command: "setlk", lockType: number, callback: (error: NodeJS.ErrnoException | null) => void): void;
}

const fsExt = createRequire(import.meta.url)("fs-ext") as FsExt;

export class PidFileError extends SanlockTsError {
  override readonly name = "PidFileError";
}

export interface HeldPidFile {
  readonly path: string;
  readonly fd: number;
  /** Closes the descriptor, which drops the lock. The file stays, as with sanlock. */
  release(): void;
}

/** Creates, locks and fills the pid file; throws ERR_DAEMON_RUNNING if another process holds it. */
export async function acquirePidFile(runDir: string, pid: number = process.pid): Promise<HeldPidFile> {
  const path = join(runDir, PID_FILE_NAME);
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_CREAT | fsConstants.O_WRONLY, 0o644);
  } catch (error) {
    throw new PidFileError("ERR_DAEMON_PID_FILE_OPEN", `lockfile open error ${path}: ${(error as Error).message}`);
  }
  try {
    await lockWholeFile(fd, path);
    ftruncateSync(fd, 0);
    writeSync(fd, `${pid}\n`);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  let released = false;
  return {
    path,
    fd,
    release(): void {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}

async function lockWholeFile(fd: number, path: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      fsExt.fcntl(fd, "setlk", F_WRLCK, (error) => (error ? reject(error) : resolve()));
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EAGAIN" || code === "EACCES") {
      throw new PidFileError("ERR_DAEMON_RUNNING", `lockfile setlk error ${path}: another daemon holds it`);
    }
    throw new PidFileError("ERR_DAEMON_PID_FILE_LOCK", `lockfile setlk error ${path}: ${(error as Error).message}`);
  }
}
