/**
 * Lock-manager scenario 13 (docs/lockmanager.md §3.3, §10): creating an automatic disk lease file
 * fails, and nothing is left behind.
 *
 * 1. The lease directory is not writable for the driver's user: addResource fails with libvirt's
 *    `Unable to create lockspace <dir>/<md5>: Permission denied` (ERR_LOCKMGR_LEASE_CREATE). The
 *    driver runs as nobody (setpriv) in a child process: root writes anywhere.
 * 2. The daemon cannot open the new file: a sanlock-ts daemon running as nobody (privileged
 *    mode, -U nobody -G nogroup, as sanlock switches to its socket user) is asked to ALIGN a file
 *    mode 0600 owned by root; it answers -ENODEV, and addResource fails with
 *    `Unable to query sector size <path>: No such device`; the half-made file is unlinked.
 */
import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { diskLeaseName, LockManagerErrorCode, SanlockLockDriver } from "../packages/client/src/lockmanager/index.js";
import { environmentSkip, OUR_CLI, REPO_ROOT, sleep, tempLeaseDir, TEST_DAEMON_ARGS } from "./support/index.js";

const UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
const NOBODY = 65534;
const LOCKMANAGER_DIST = join(REPO_ROOT, "packages/client/dist/lockmanager/index.js");
const skip = environmentSkip(
  process.getuid?.() !== 0
    ? "needs root (to run the driver and a daemon as nobody)"
    : !existsSync("/usr/bin/setpriv")
      ? "setpriv (util-linux) is not installed"
      : !existsSync(LOCKMANAGER_DIST)
        ? "packages/client/dist is not built (run pnpm build)"
        : false,
);

/** A directory nobody can read and traverse (mkdtemp makes 0700 ones). */
function openDir(t: Parameters<typeof tempLeaseDir>[0], prefix: string): string {
  const dir = tempLeaseDir(t, prefix);
  chmodSync(dir, 0o755);
  return dir;
}

t.test("13: lease directory not writable: Permission denied, no file left", { skip }, async (t) => {
  const dir = openDir(t, "lockmgr-eacces-");
  const leaseDir = join(dir, "leases");
  mkdirSync(leaseDir, { mode: 0o755 }); // root's: nobody cannot create files in it
  const script = join(dir, "driver.mjs");
  const disk = "/var/lib/libvirt/images/guest.img";
  writeFileSync(
    script,
    `const { SanlockLockDriver } = await import(${JSON.stringify(pathToFileURL(LOCKMANAGER_DIST).href)});
const driver = await SanlockLockDriver.init({
  config: { autoDiskLeases: true, hostId: 1, diskLeaseDir: ${JSON.stringify(leaseDir)} },
  setupLockspace: false,
  socketPath: ${JSON.stringify(join(dir, "no-daemon.sock"))},
});
const manager = await driver.newManager("domain", { uuid: ${JSON.stringify(UUID)}, name: "guest", pid: 1 }, { started: true });
try {
  await manager.addResource("disk", ${JSON.stringify(disk)});
  console.log(JSON.stringify({ created: true }));
} catch (err) {
  console.log(JSON.stringify({ code: err.code, virError: err.virError, errno: err.errno, message: err.message }));
}
`,
  );
  chmodSync(script, 0o644);
  const run = spawnSync(
    "/usr/bin/setpriv",
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", "/usr/bin/env", "-u", "NODE_OPTIONS", process.execPath, script],
    {
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  t.equal(run.status, 0, `the driver ran as nobody: ${run.stderr}`);
  const answer = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
  const path = join(leaseDir, diskLeaseName(disk));
  t.same(
    answer,
    { code: LockManagerErrorCode.LEASE_CREATE, virError: "SYSTEM_ERROR", errno: 13, message: `Unable to create lockspace ${path}: Permission denied` },
    "libvirt's text, errno EACCES",
  );
  t.same(readdirSync(leaseDir), [], "no file left");
});

t.test("13: the daemon cannot open the new lease file: ALIGN -ENODEV, file unlinked", { skip }, async (t) => {
  const dir = openDir(t, "lockmgr-enodev-");
  const runDir = join(dir, "run");
  mkdirSync(runDir, { mode: 0o755 });
  const leaseDir = join(dir, "leases");
  mkdirSync(leaseDir, { mode: 0o755 });
  // Privileged mode: the daemon switches to its socket user, as sanlock does (-U/-G).
  const args = TEST_DAEMON_ARGS.flatMap((a, i, all) => (a === "-U" || a === "-G" || all[i - 1] === "-U" || all[i - 1] === "-G" ? [] : [a]));
  const daemon = spawn(process.execPath, [OUR_CLI, "daemon", ...args, "-U", "nobody", "-G", "nogroup"], {
    env: { ...process.env, SANLOCK_RUN_DIR: runDir, SANLOCK_PRIVILEGED: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  daemon.stderr.on("data", (c: Buffer) => (log += c.toString().slice(0, 10_000)));
  t.teardown(() => {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill("SIGKILL");
  });
  const socketPath = join(runDir, "sanlock.sock");
  for (let i = 0; i < 200 && !existsSync(socketPath); i++) await sleep(100);
  t.ok(existsSync(socketPath), `the daemon runs: ${log.slice(0, 500)}`);
  const driver = await SanlockLockDriver.init({ config: { autoDiskLeases: true, hostId: 1, diskLeaseDir: leaseDir }, setupLockspace: false, socketPath });
  const manager = await driver.newManager("domain", { uuid: UUID, name: "guest", pid: 1 }, { started: true });
  const disk = "/var/lib/libvirt/images/guest.img";
  const path = join(leaseDir, diskLeaseName(disk));
  await t.rejects(
    manager.addResource("disk", disk),
    { code: LockManagerErrorCode.LEASE_CREATE, message: `Unable to query sector size ${path}: No such device`, sanlockResult: -19 },
    "libvirt's text for the daemon's -ENODEV",
  );
  t.same(readdirSync(leaseDir), [], "the file made before the ALIGN was unlinked");
  t.match(log, /cmd_align/, "the daemon was asked (and refused)");
});
