// The daemon process runs with the libuv threadpool of device/threadpool.ts (128 threads), so
// that I/O stuck on one device cannot take every thread the other lockspaces renew with.
// Node 20 starts the pool before the daemon's first line runs, so `sanlock-ts daemon` starts
// itself again in place (execve) with UV_THREADPOOL_SIZE set: same pid, same stderr.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { DAEMON_THREADPOOL_SIZE, applyDaemonThreadpoolSize } from "../src/device/threadpool.js";
import { DAEMON_STARTUP } from "../src/process-memory.js";

const cliMain = fileURLToPath(new URL("../../cli/dist/main.cjs", import.meta.url));
const START_TIMEOUT_MS = 20_000;

function environOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .filter((e) => e.includes("="));
  return new Map(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

t.test("applyDaemonThreadpoolSize raises a smaller setting and keeps a larger one", async (t) => {
  const empty: Record<string, string | undefined> = {};
  t.same(applyDaemonThreadpoolSize(empty), { size: DAEMON_THREADPOOL_SIZE, changed: true });
  t.equal(empty.UV_THREADPOOL_SIZE, String(DAEMON_THREADPOOL_SIZE));
  const small = { UV_THREADPOOL_SIZE: "4" };
  t.same(applyDaemonThreadpoolSize(small), { size: DAEMON_THREADPOOL_SIZE, changed: true });
  const large = { UV_THREADPOOL_SIZE: "512" };
  t.same(applyDaemonThreadpoolSize(large), { size: 512, changed: false });
  t.equal(large.UV_THREADPOOL_SIZE, "512", "an operator's larger value is kept");
  t.throws(() => applyDaemonThreadpoolSize({}, 0), RangeError);
});

t.test("`sanlock-ts daemon -D` runs with the daemon's threadpool, in the process that was started", async (t) => {
  const runDir = mkdtempSync(join(tmpdir(), "slts-tp-"));
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, SANLOCK_RUN_DIR: runDir, SANLOCK_PRIVILEGED: "0" };
  delete env.UV_THREADPOOL_SIZE;
  delete env.SANLOCK_TS_THREADPOOL_REEXEC;
  const daemon = spawn(process.execPath, [cliMain, "daemon", "-D", "-w", "0", "-U", "root", "-G", "root", "--config", join(runDir, "absent.conf")], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  daemon.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()).slice(-20_000));
  const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
  t.teardown(async () => {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill("SIGKILL");
      await exited;
    }
  });
  const socket = join(runDir, "sanlock.sock");
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!existsSync(socket) && Date.now() < deadline && daemon.exitCode === null) await sleep(100);
  t.ok(existsSync(socket), `the daemon opened its socket (${stderr.slice(0, 500)})`);
  const pid = daemon.pid!;
  t.equal(readFileSync(join(runDir, "sanlock.pid"), "utf8").trim(), String(pid), "the pid file names the process that was started");
  t.equal(environOf(pid).get("UV_THREADPOOL_SIZE"), String(DAEMON_THREADPOOL_SIZE), "the running image got UV_THREADPOOL_SIZE");
  // The settings read only at start (process-memory.ts DAEMON_STARTUP) ride on the same re-exec.
  t.equal(environOf(pid).get("MALLOC_ARENA_MAX"), DAEMON_STARTUP.env.MALLOC_ARENA_MAX, "and glibc's arena limit");
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  for (const flag of DAEMON_STARTUP.nodeFlags) t.ok(cmdline.includes(flag), `and node flag ${flag}`);
  // libuv starts all of its threads at once, when the pool first gets work (module loading did).
  const threads = readdirSync(`/proc/${pid}/task`).length;
  t.ok(threads > DAEMON_THREADPOOL_SIZE, `${threads} threads: the pool has ${DAEMON_THREADPOOL_SIZE}`);
  t.match(stderr, /sanlock daemon started/, "its stderr is still the one it was started with");
  t.notMatch(stderr, /libuv threadpool of/, "no small-threadpool warning");
  daemon.kill("SIGTERM");
  t.equal(await exited, 0, "exits 0 on SIGTERM");
});

t.test("a SIGPROF pending at the re-exec (node --cpu-prof) does not end the new image", async (t) => {
  // The child blocks SIGPROF, raises it (pending, as V8's sampler leaves it under --cpu-prof) and
  // re-executes itself; the new image unblocks signals while starting, before any handler exists.
  const dir = mkdtempSync(join(tmpdir(), "slts-tp-sig-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const threadpoolJs = fileURLToPath(new URL("../dist/device/threadpool.js", import.meta.url));
  const daemonPackage = fileURLToPath(new URL("../package.json", import.meta.url));
  const child = join(dir, "child.mjs");
  writeFileSync(
    child,
    `
import { createRequire } from "node:module";
import os from "node:os";
const koffi = createRequire(${JSON.stringify(daemonPackage)})("koffi");
const { reexecWithDaemonThreadpool, THREADPOOL_REEXEC_ENV } = await import(${JSON.stringify(threadpoolJs)});
if (process.env[THREADPOOL_REEXEC_ENV] === "1") {
  console.log("alive after re-exec");
  process.exit(0);
}
const libc = koffi.load("libc.so.6");
const sigprocmask = libc.func("int sigprocmask(int how, const uint8_t *set, uint8_t *old)");
const raise = libc.func("int raise(int sig)");
const set = Buffer.alloc(128); // sigset_t
const bit = os.constants.signals.SIGPROF - 1;
set[bit >> 3] |= 1 << (bit & 7);
sigprocmask(0 /* SIG_BLOCK */, set, null);
raise(os.constants.signals.SIGPROF);
await reexecWithDaemonThreadpool({ ...process.env, UV_THREADPOOL_SIZE: "4" });
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SANLOCK_TS_THREADPOOL_REEXEC;
  const run = spawnSync(process.execPath, [child], { env, encoding: "utf8", timeout: 20_000 });
  t.equal(run.signal, null, "not ended by a signal");
  t.equal(run.status, 0);
  t.equal(run.stdout.trim(), "alive after re-exec");
});
