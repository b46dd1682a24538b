/**
 * `sanlock-ts daemon ...` (the CLI command module) runs this daemon: foreground with -D,
 * detached without it, and stops on `sanlock client shutdown`.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, tempLeaseDir, waitFor } from "../../../test/support/index.js";

const cliMain = fileURLToPath(new URL("../../cli/dist/main.cjs", import.meta.url));
const BASE_ARGS = ["-w", "0", "-U", "root", "-G", "root", "--config", "/nonexistent"];

function run(dir: string, file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, SANLOCK_RUN_DIR: dir, SANLOCK_PRIVILEGED: "0" }, timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Kills a daemon we started, by the pid in its pid file, if it is still running. */
function killByPidFile(dir: string): void {
  try {
    const pid = Number(readFileSync(join(dir, "sanlock.pid"), "utf8"));
    // Only our detached daemon: its command line names the CLI; a reused pid is left alone.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (pid > 0 && cmdline.includes(cliMain)) process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

t.test(
  "sanlock-ts daemon -D serves real clients and exits 0 on shutdown -w 1",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK ? "sanlock not installed" : !existsSync(cliMain) && "packages/cli/dist is not built (run pnpm build)") },
  async (t) => {
    const dir = tempLeaseDir(t, "slts-");
    const daemon = spawn(process.execPath, [cliMain, "daemon", "-D", ...BASE_ARGS], {
      env: { ...process.env, SANLOCK_RUN_DIR: dir, SANLOCK_PRIVILEGED: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    daemon.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
    t.teardown(() => {
      if (daemon.exitCode === null) daemon.kill("SIGKILL");
    });
    await waitFor(() => existsSync(join(dir, "sanlock.sock")), "the socket", 30_000);
    const version = await run(dir, "sanlock", ["client", "version"]);
    t.match(version.stdout, /daemon version 3\.8\.5 \(0x03080500\)/);
    const shutdown = await run(dir, "sanlock", ["client", "shutdown", "-w", "1"]);
    t.equal(shutdown.stdout, "shutdown force 0 wait 1\nshutdown done 0\n");
    t.equal(await exited, 0);
    t.match(stderr, /Running in unprivileged mode/, "-D logs to stderr");
  },
);

t.test(
  "without -D the daemon detaches: the command returns 0 and the daemon keeps serving",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK ? "sanlock not installed" : !existsSync(cliMain) && "packages/cli/dist is not built (run pnpm build)") },
  async (t) => {
    const dir = tempLeaseDir(t, "slts-");
    t.teardown(() => killByPidFile(dir));
    const start = await run(dir, process.execPath, [cliMain, "daemon", ...BASE_ARGS]);
    t.equal(start.code, 0);
    await waitFor(() => existsSync(join(dir, "sanlock.sock")), "the detached daemon's socket", 30_000);
    const status = await run(dir, "sanlock", ["client", "status"]);
    t.match(status.stdout, /^daemon .*\np -1 helper\np -1 listener\np -1 status\n$/);
    await run(dir, "sanlock", ["client", "shutdown", "-w", "1"]);
  },
);

t.test(
  "a bad option value is refused with a message naming it, exit 1",
  { skip: environmentSkip(!existsSync(cliMain) && "packages/cli/dist is not built (run pnpm build)") },
  async (t) => {
    const dir = tempLeaseDir(t, "slts-");
    const out = await run(dir, process.execPath, [cliMain, "daemon", "-D", "-w", "2"]);
    t.equal(out.code, 1);
    t.match(out.stderr, /-w: 2 is outside 0\.\.1/);
    t.notOk(existsSync(join(dir, "sanlock.sock")));
  },
);

t.test(
  "use_watchdog=1 (the default) with no watchdog device exits 1 naming the device (never run unprotected)",
  {
    skip:
      environmentSkip(!existsSync(cliMain) && "packages/cli/dist is not built (run pnpm build)") ||
      (existsSync("/dev/watchdog") && "this machine has /dev/watchdog; the test must not arm a real watchdog"),
  },
  async (t) => {
    const dir = tempLeaseDir(t, "slts-");
    const out = await run(dir, process.execPath, [cliMain, "daemon", "-D", "--config", "/nonexistent"]);
    t.equal(out.code, 1);
    t.match(out.stderr, /watchdog device \/dev\/watchdog does not exist/);
    t.match(out.stderr, /-w 0/);
    t.notOk(existsSync(join(dir, "sanlock.sock")));
  },
);
