import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, tempLeaseDir, waitFor } from "../../../test/support/index.js";
import { acquirePidFile } from "../src/pid-file.js";
import { prepareRunDir } from "../src/run-dir.js";

const mainJs = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** Runs the built daemon entry; resolves to its exit status. Bounded by a timeout. */
function runDaemonProcess(dir: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mainJs, "daemon", ...args],
      {
        env: { ...process.env, SANLOCK_RUN_DIR: dir, SANLOCK_PRIVILEGED: "0" },
        timeout: 20_000,
      },
      (error, _stdout, stderr) => resolve({ code: error ? ((error.code as number | null) ?? null) : 0, stderr }),
    );
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

t.test("pid file: created 0644 with '<pid>\\n' and held", async (t) => {
  const dir = tempLeaseDir(t, "slts-");
  const held = await acquirePidFile(dir, 4242);
  t.teardown(() => held.release());
  t.equal(readFileSync(held.path, "utf8"), "4242\n");
  t.equal(statSync(held.path).mode & 0o777, 0o644);
});

t.test("run dir is created 0775 when missing", async (t) => {
  const parent = tempLeaseDir(t, "slts-");
  const dir = join(parent, "run");
  prepareRunDir(dir, { uid: 0, gid: 0 }, false);
  t.equal(statSync(dir).mode & 0o777, 0o775);
});

t.test("a second daemon on the same run dir exits with status 1", async (t) => {
  const dir = tempLeaseDir(t, "slts-");
  const first = spawn(process.execPath, [mainJs, "daemon", "-D", "-w", "0", "-U", "root", "-G", "root", "--config", "/nonexistent"], {
    env: { ...process.env, SANLOCK_RUN_DIR: dir, SANLOCK_PRIVILEGED: "0" },
    stdio: "ignore",
  });
  t.teardown(() => stop(first));
  await waitFor(() => existsSync(join(dir, "sanlock.sock")), "the first daemon's socket", 30_000);
  t.equal(readFileSync(join(dir, "sanlock.pid"), "utf8"), `${first.pid}\n`);
  const second = await runDaemonProcess(dir, ["-D", "-w", "0", "--config", "/nonexistent"]);
  t.equal(second.code, 1);
  t.match(second.stderr, /lockfile setlk error .*sanlock\.pid/);
});

t.test(
  "our lock excludes a real sanlock daemon and the reverse (same F_SETLK lock)",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const dir = tempLeaseDir(t, "slts-");
    const real = spawn("sanlock", ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"], {
      env: { ...process.env, SANLOCK_RUN_DIR: dir, SANLOCK_PRIVILEGED: "0" },
      stdio: "ignore",
    });
    t.teardown(() => stop(real));
    await waitFor(() => existsSync(join(dir, "sanlock.sock")), "the real daemon's socket", 30_000);
    const ours = await runDaemonProcess(dir, ["-D", "-w", "0", "--config", "/nonexistent"]);
    t.equal(ours.code, 1, "ours refuses a run dir the real daemon holds");
    await stop(real);

    const held = await acquirePidFile(dir);
    t.teardown(() => held.release());
    const second = spawn("sanlock", ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"], {
      env: { ...process.env, SANLOCK_RUN_DIR: dir, SANLOCK_PRIVILEGED: "0" },
      stdio: "ignore",
    });
    t.teardown(() => stop(second));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 10_000);
      second.once("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    t.equal(code, 1, "the real daemon refuses a run dir we hold");
  },
);
