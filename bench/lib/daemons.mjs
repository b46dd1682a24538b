// Starts and stops the daemons under test: Debian's sanlock 3.8.5 and sanlock-ts, with the same
// options and environment (unprivileged, private run directory, no watchdog, no mlock, no priority).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const OUR_CLI = join(REPO_ROOT, "packages/cli/dist/main.cjs");
export const DAEMON_ARGS = ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"];
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const STDERR_KEEP_BYTES = 64 * 1024;

export const DAEMON_KINDS = {
  sanlock: { label: "sanlock 3.8.5", command: () => ["sanlock", DAEMON_ARGS], cli: () => ["sanlock", []] },
  "sanlock-ts": {
    label: "sanlock-ts",
    command: (nodeFlags = []) => [process.execPath, [...nodeFlags, OUR_CLI, ...DAEMON_ARGS]],
    cli: () => [process.execPath, [OUR_CLI]],
  },
};

/** Why a daemon kind cannot run here, or false. */
export function skipReason(kind) {
  if (kind === "sanlock") {
    return spawnSync("sanlock", ["version"]).status === 0 ? false : "Debian's sanlock is not installed";
  }
  return existsSync(OUR_CLI) ? false : "packages/cli/dist/main.cjs is not built (run pnpm build)";
}

function canConnect(path) {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/**
 * Starts a daemon of `kind` with run directory `runDir`; resolves once its socket accepts
 * connections. The returned handle's stop() ends it (SIGTERM, SIGKILL after 5 s). `nodeFlags`
 * (sanlock-ts only) go to node, e.g. --cpu-prof.
 */
export async function startDaemon(kind, runDir, { nodeFlags = [] } = {}) {
  mkdirSync(runDir, { recursive: true });
  const env = { ...process.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir };
  const [cmd, args] = DAEMON_KINDS[kind].command(nodeFlags);
  // Own process group: sanlock forks a helper process, which must go too.
  const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk.toString(); // keep the newest 64 KiB: failures show at the end
    if (stderr.length > STDERR_KEEP_BYTES) stderr = stderr.slice(-STDERR_KEEP_BYTES);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const handle = {
    kind,
    runDir,
    env,
    pid: child.pid,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const signalGroup = (sig) => {
        try {
          process.kill(-child.pid, sig);
        } catch {
          /* already gone */
        }
      };
      // sanlock refuses SIGTERM while lockspaces are joined; the grace period ends that.
      const kill = setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS);
      signalGroup("SIGTERM");
      await exited;
      clearTimeout(kill);
      signalGroup("SIGKILL"); // the helper, if it outlived the daemon
    },
  };
  const socketPath = join(runDir, "sanlock.sock");
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${kind} daemon exited with ${child.exitCode}: ${stderr.slice(0, 2000)}`);
    if (existsSync(socketPath) && (await canConnect(socketPath))) return handle;
    await new Promise((r) => setTimeout(r, 50));
  }
  await handle.stop();
  throw new Error(`${kind} daemon did not open ${socketPath} within ${START_TIMEOUT_MS} ms: ${stderr.slice(0, 2000)}`);
}
