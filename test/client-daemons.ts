/**
 * Test helper for the client tests: starts a daemon (the real sanlock 3.8.5,
 * unprivileged, or ours via `node packages/cli/dist/main.js daemon`) on a
 * private run directory under /var/tmp (O_DIRECT needs a real file system),
 * and stops it and removes its files in the test's teardown, also on failure.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { environmentSkip, type FailTarget } from "./helpers/interop-env.js";

export type DaemonKind = "sanlock" | "sanlock-ts";

export interface TestDaemon {
  kind: DaemonKind;
  runDir: string;
  socketPath: string;
  /** Directory for lease files of this test (removed in teardown). */
  dir: string;
  /** Environment that points the sanlock CLI / our CLI at this daemon. */
  env: NodeJS.ProcessEnv;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
export const OUR_CLI = join(REPO_ROOT, "packages/cli/dist/main.js");
export const HAVE_SANLOCK = spawnSync("sanlock", ["version"]).status === 0;
const DAEMON_ARGS = ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"];
const START_TIMEOUT_MS = 15_000;

/**
 * Why a daemon kind cannot run here, or false (pass as tap's `skip`). Under REQUIRE_INTEROP=1
 * a reason is also a failure, reported on `t` (default: tap's root); see helpers/interop-env.ts.
 */
export function daemonSkipReason(kind: DaemonKind, t?: FailTarget): string | false {
  if (kind === "sanlock") return environmentSkip(!HAVE_SANLOCK && "sanlock 3.8.5 is not installed", t);
  return environmentSkip(!existsSync(OUR_CLI) && "packages/cli/dist/main.js is not built (run pnpm build)", t);
}

/** A sparse file of `size` bytes in `dir`. */
export function leaseFile(dir: string, name: string, size = 8 << 20): string {
  const path = join(dir, name);
  writeFileSync(path, "");
  truncateSync(path, size);
  return path;
}

/** Resolves once a connection to the socket succeeds. */
function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Stops a child: SIGTERM, then SIGKILL after 3 s; resolves when it exited. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export async function startDaemon(t: Teardown, kind: DaemonKind, shareDir?: string): Promise<TestDaemon> {
  const dir = shareDir ?? mkdtempSync("/var/tmp/client-test-");
  if (shareDir === undefined) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const runDir = mkdtempSync(join(dir, "run-"));
  const env = { ...process.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir };
  const [cmd, args] = kind === "sanlock" ? ["sanlock", DAEMON_ARGS] : [process.execPath, [OUR_CLI, ...DAEMON_ARGS]];
  let stderr = "";
  const child = spawn(cmd as string, args as string[], { env, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += chunk.toString();
  });
  t.teardown(() => stop(child));
  const socketPath = join(runDir, "sanlock.sock");
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${kind} daemon exited with ${child.exitCode}: ${stderr.slice(0, 2000)}`);
    if (existsSync(socketPath) && (await canConnect(socketPath))) return { kind, runDir, socketPath, dir, env };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${kind} daemon did not open ${socketPath} within ${START_TIMEOUT_MS} ms: ${stderr.slice(0, 2000)}`);
}

/** Retries `fn` while it throws an error whose errno is in `retryOn`, up to `attempts` times, `delayMs` apart. */
export async function retrying<T>(fn: () => Promise<T>, retryOn: number[], attempts = 40, delayMs = 500): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (i >= attempts || errno === undefined || !retryOn.includes(errno)) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
