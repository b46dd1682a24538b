/**
 * Test helper: a file whose I/O can be made to hang, for real, through a tiny FUSE
 * passthrough file system (stall_fs.py beside this file, python3 + Debian's python3-fusepy).
 *
 *   const fs = await mountStallFs(t, { files: { "ls3": 1 << 20 } });
 *   fs.path("ls3")  // the file as the daemon opens it (O_DIRECT works: direct_io mount)
 *   fs.stall()      // from now on every read/write on the mount blocks in the kernel
 *   fs.unstall()    // blocked I/Os complete, new ones go through
 *
 * A stall lasts at most `maxStallSeconds` per I/O, then that I/O fails with EIO, so nothing
 * can hang forever. Teardown order matters: a process blocked in a FUSE request cannot even be
 * killed (-9) until the request is answered, so register `t.teardown(() => fs.unstall())` AFTER
 * starting the processes that use the mount (tap runs teardowns last-in first-out); the
 * helper's own teardown (unstall, stop the server, `umount -l`, remove the files) runs last.
 * Needs root and /dev/fuse; `stallFsSkipReason()` says why not.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PYTHON, environmentSkip, type FailTarget } from "../env.js";
import type { Teardown } from "../files.js";

/** The part of a tap Test this helper needs. */

export interface StallFs {
  /** Path of `name` on the mount. */
  path(name: string): string;
  /** Path of `name` in the backing directory (bypasses the stall; for inspection). */
  backingPath(name: string): string;
  stall(): void;
  unstall(): void;
  readonly stalled: boolean;
  /** Unstall, stop the server, unmount (idempotent; teardown calls it). */
  close(): Promise<void>;
}

export interface StallFsOptions {
  /** Sparse files to create: name → size in bytes. */
  readonly files: Readonly<Record<string, number>>;
  /** Bound of one stalled I/O (default 120 s), after which it fails with EIO. */
  readonly maxStallSeconds?: number;
  /** Parent directory (must not be tmpfs-only concerns: the backing files are buffered). Default /var/tmp. */
  readonly dir?: string;
}

const SERVER = fileURLToPath(new URL("./stall_fs.py", import.meta.url));

const READY_TIMEOUT_MS = 10_000;
const MAX_FILE_BYTES = 256 * 1024 * 1024;
const MAX_FILES = 16;

/**
 * Why a stall-fs cannot be mounted here, or false (pass as tap's `skip`). Under
 * REQUIRE_INTEROP=1 a reason is also a failure, reported on `t` (default: tap's root).
 */
export function stallFsSkipReason(t?: FailTarget): string | false {
  return environmentSkip(stallFsGap(), t);
}

function stallFsGap(): string | false {
  if (process.getuid?.() !== 0) return "mounting FUSE needs root";
  if (!existsSync("/dev/fuse")) return "no /dev/fuse";
  if (spawnSync(PYTHON, ["-c", "import fusepy"]).status !== 0) return "python3-fusepy is not installed (apt-get install python3-fusepy)";
  return false;
}

export async function mountStallFs(t: Teardown, options: StallFsOptions): Promise<StallFs> {
  const names = Object.keys(options.files);
  if (names.length === 0 || names.length > MAX_FILES) throw new RangeError(`stall-fs: 1..${MAX_FILES} files, got ${names.length}`);
  const maxStall = options.maxStallSeconds ?? 120;
  if (!(maxStall > 0 && maxStall <= 600)) throw new RangeError(`stall-fs: maxStallSeconds ${maxStall} outside (0, 600]`);
  const root = mkdtempSync(join(options.dir ?? process.env["SANLOCK_TS_TEST_DIR"] ?? "/var/tmp", "stall-fs-"));
  const backing = join(root, "backing");
  const mountpoint = join(root, "mnt");
  const control = join(root, "stall");
  mkdirSync(backing);
  mkdirSync(mountpoint);
  for (const name of names) {
    const size = options.files[name] ?? 0;
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new RangeError(`stall-fs: bad file name ${JSON.stringify(name)}`);
    if (!(Number.isSafeInteger(size) && size > 0 && size <= MAX_FILE_BYTES)) throw new RangeError(`stall-fs: ${name} size ${size}`);
    writeFileSync(join(backing, name), "");
    truncateSync(join(backing, name), size);
  }
  const server = spawn(PYTHON, [SERVER, backing, mountpoint, control, String(maxStall)], { stdio: ["ignore", "pipe", "pipe"] });
  let exited = false;
  let stderr = "";
  server.on("exit", () => {
    exited = true;
  });
  server.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 8192) stderr += chunk.toString();
  });
  let stalled = false;
  let closed = false;
  const unstall = (): void => {
    stalled = false;
    rmSync(control, { force: true });
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    unstall();
    // Lazy unmount first: it detaches the mount even while a file on it is still open.
    spawnSync("umount", ["-l", mountpoint]);
    if (!exited) {
      const gone = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      const timer = setTimeout(() => server.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(root, { recursive: true, force: true });
  };
  t.teardown(close);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stall-fs: no "ready" within ${READY_TIMEOUT_MS} ms: ${stderr}`)), READY_TIMEOUT_MS);
    let out = "";
    server.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`stall-fs: server exited (${code}): ${stderr}`));
    });
  });
  return {
    path: (name) => join(mountpoint, name),
    backingPath: (name) => join(backing, name),
    stall: () => {
      writeFileSync(control, "");
      stalled = true;
    },
    unstall,
    get stalled() {
      return stalled;
    },
    close,
  };
}
