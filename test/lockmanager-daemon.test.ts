/**
 * The lock manager (@sanlock-ts/client/lockmanager) against a running sanlock-ts daemon, with
 * workloads started through `sanlock-ts lockmgr exec` so that, as with libvirt, the workload's
 * own pid is the registered process. Numbers are the scenarios of docs/lockmanager.md §10.
 * Lease and lockspace files are compared byte for byte with what the real `sanlock direct init`
 * writes. One daemon for the whole file: joining __LIBVIRT__DISKS__ is the slow step.
 */
import t, { type Test } from "tap";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DomainDescription,
  LockManagerErrorCode,
  SanlockLockDriver,
  diskLeaseName,
  imageAttach,
  imageDetach,
  processInquire,
  processPause,
  processResume,
  processStart,
  supervisorCommand,
  waitRegistered,
} from "../packages/client/src/lockmanager/index.js";
import * as ops from "../packages/client/src/operations.js";
import { ClientErrorCode } from "../packages/client/src/errors.js";
import { HAVE_REAL_SANLOCK, OUR_CLI, clusterSkipReason, sleep, sparseFile, startClusterDaemon, tempLeaseDir } from "./helpers/daemons.js";
import { environmentSkip } from "./helpers/interop-env.js";

const MiB = 1 << 20;
const HOST_ID = 3;
const IO_TIMEOUT = 1;
const WAIT_MS = 30_000;
const UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809";

interface Workload {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  stderr(): string;
}

function startWorkload(t: Test, argv: string[], runDir: string): Workload {
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { env: { ...process.env, SANLOCK_RUN_DIR: runDir }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
    return exited;
  });
  return { pid: child.pid as number, exited, child, stderr: () => err };
}

/** /proc/PID/stat's state letter: "T" stopped, "S" sleeping... */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

const skip = clusterSkipReason(["sanlock-ts"]) || environmentSkip(!HAVE_REAL_SANLOCK && "the real sanlock (direct init, the byte reference) is not installed");

t.test("lock manager on a sanlock-ts daemon", { skip }, async (t) => {
  const dir = tempLeaseDir(t, "lockmgr-");
  const leaseDir = join(dir, "leases");
  execFileSync("mkdir", [leaseDir]);
  const configFile = join(dir, "qemu-sanlock.conf");
  writeFileSync(configFile, `auto_disk_leases = 1\ndisk_lease_dir = "${leaseDir}"\nhost_id = ${HOST_ID}\nio_timeout = ${IO_TIMEOUT}\n`);
  const daemon = await startClusterDaemon(t, { kind: "sanlock-ts", label: "host 3 (sanlock-ts)", dir });
  const socketPath = daemon.socketPath;
  const target = { socketPath, timeoutMs: WAIT_MS };
  const driver = await SanlockLockDriver.init({ configFile, socketPath });
  t.equal(driver.lockspaceError, null, "init joined __LIBVIRT__DISKS__");
  const lockspaceFile = join(leaseDir, "__LIBVIRT__DISKS__");

  t.test("8: the lockspace file is sanlock's own area, mode 0600, and joined", async (t) => {
    const reference = sparseFile(dir, "ls-reference", MiB);
    execFileSync("sanlock", ["direct", "init", "-s", `__LIBVIRT__DISKS__:0:${reference}:0`, "-o", String(IO_TIMEOUT)]);
    const ours = readFileSync(lockspaceFile);
    const theirs = readFileSync(reference);
    t.equal(ours.length, MiB, "1 MiB (ALIGN of a file)");
    t.equal(statSync(lockspaceFile).mode & 0o777, 0o600);
    const joined = (HOST_ID - 1) * 512;
    t.ok(
      ours.subarray(0, joined).equals(theirs.subarray(0, joined)) && ours.subarray(joined + 512).equals(theirs.subarray(joined + 512)),
      "every sector but the joined host's is identical",
    );
    const lockspaces = await ops.getLockspaces(target);
    t.same(
      lockspaces.map((l) => [l.lockspace, l.hostId, l.path, l.offset]),
      [["__LIBVIRT__DISKS__", BigInt(HOST_ID), lockspaceFile, 0n]],
    );
  });

  t.test("9: a second driver finds the lockspace joined and leaves the file alone", async (t) => {
    const before = statSync(lockspaceFile).mtimeMs;
    const again = await SanlockLockDriver.init({ configFile, socketPath });
    t.equal(again.lockspaceError, null, "-EEXIST is success");
    t.equal(statSync(lockspaceFile).mtimeMs, before);
  });

  const diskA = join(dir, "guest-a.img");
  const diskB = join(dir, "guest-b.img");
  const domA: DomainDescription = { params: { uuid: UUID, name: "QEMUGuest1", pid: 0 }, disks: [{ path: diskA, type: "file" }] };

  t.test("12: a disk's lease file is sanlock's own resource area, created once", async (t) => {
    const m = await driver.newManager("domain", { uuid: UUID, name: "g", pid: 999_999 }, { started: true });
    await m.addResource("disk", diskA);
    const leaseFile = join(leaseDir, diskLeaseName(diskA));
    t.same(m.resources, [
      { lockspace: "__LIBVIRT__DISKS__", resource: diskLeaseName(diskA), disks: [{ path: leaseFile, offset: 0n }], shared: false, persistent: false },
    ]);
    const reference = sparseFile(dir, "lease-reference", MiB);
    execFileSync("sanlock", ["direct", "init", "-r", `__LIBVIRT__DISKS__:${diskLeaseName(diskA)}:${reference}:0`]);
    t.ok(readFileSync(leaseFile).equals(readFileSync(reference)), "byte-identical to sanlock direct init -r");
    t.equal(statSync(leaseFile).mode & 0o777, 0o600);
    writeFileSync(leaseFile, "not a lease", { flag: "r+" });
    const m2 = await driver.newManager("domain", { uuid: UUID, name: "g", pid: 999_999 }, { started: true });
    await m2.addResource("disk", diskA);
    t.equal(readFileSync(leaseFile).subarray(0, 11).toString(), "not a lease", "an existing file is never rewritten");
    execFileSync("sanlock", ["direct", "init", "-r", `__LIBVIRT__DISKS__:${diskLeaseName(diskA)}:${leaseFile}:0`]);
  });

  t.test("15, 21: a workload started by lockmgr exec registers itself; resume acquires, pause releases", async (t) => {
    const argv = supervisorCommand(domA, ["/bin/sleep", "600"], { cli: [process.execPath, OUR_CLI], configFile, paused: true });
    const w = startWorkload(t, argv, daemon.runDir);
    await waitRegistered(driver, w.pid, { timeoutMs: WAIT_MS, exited: w.exited });
    const dom = { ...domA, params: { ...domA.params, pid: w.pid } };
    let status = await ops.status(target);
    t.same(
      status.clients.filter((c) => c.pid === w.pid).map((c) => c.name),
      [String(w.pid)],
      "registered only: the client is named after its pid",
    );
    t.equal(status.resources.length, 0, "no lease before resume");
    const cmdline = (): string => readFileSync(`/proc/${w.pid}/cmdline`, "utf8");
    for (let i = 0; i < 300 && !cmdline().startsWith("/bin/sleep"); i++) await sleep(100); // registered first, then exec
    t.equal(cmdline(), "/bin/sleep\u0000600\u0000", "the registered pid is the program itself");

    await processResume(driver, dom, null);
    status = await ops.status(target);
    t.same(
      status.clients.filter((c) => c.pid === w.pid).map((c) => c.name),
      ["QEMUGuest1"],
      "owner_name from the domain name",
    );
    t.same(
      status.resources.map((r) => [r.resource, r.pid, r.version]),
      [[diskLeaseName(diskA), w.pid, 1n]],
    );

    const inquired = await processInquire(driver, dom);
    const leaseFile = join(leaseDir, diskLeaseName(diskA));
    t.equal(inquired, `__LIBVIRT__DISKS__:${diskLeaseName(diskA)}:${leaseFile}:0:1`);
    const paused = await processPause(driver, dom);
    t.equal(paused, inquired, "pause returns the state inquire gave");
    t.equal((await ops.status(target)).resources.length, 0, "released");
    const owners = await ops.readResourceOwners(target, {
      lockspace: "__LIBVIRT__DISKS__",
      resource: diskLeaseName(diskA),
      disks: [{ path: leaseFile, offset: 0n }],
      flags: 0,
    });
    t.same([owners.version, owners.hosts.length], [1n, 0], "free on disk, lver 1");
    await processResume(driver, dom, paused);
    status = await ops.status(target);
    t.same(
      status.resources.map((r) => [r.pid, r.version]),
      [[w.pid, 2n]],
      "resumed with lver 2, same holder",
    );

    t.test("19: a second domain on this host cannot take the same disk", async (t) => {
      const w2 = startWorkload(
        t,
        supervisorCommand(domA, ["/bin/sleep", "600"], { cli: [process.execPath, OUR_CLI], configFile, paused: true }),
        daemon.runDir,
      );
      await waitRegistered(driver, w2.pid, { timeoutMs: WAIT_MS, exited: w2.exited });
      await t.rejects(processResume(driver, { ...domA, params: { ...domA.params, name: "other", pid: w2.pid } }, null), {
        code: LockManagerErrorCode.ACQUIRE,
        message: "Failed to acquire lock: File exists",
      });
    });

    t.test("22: hot-plug acquires and releases one disk by pid", async (t) => {
      const diskC = { path: diskB, type: "file" as const };
      await imageAttach(driver, dom, diskC);
      t.same((await ops.status(target)).resources.map((r) => r.resource).sort(), [diskLeaseName(diskA), diskLeaseName(diskB)].sort());
      await imageDetach(driver, dom, diskC);
      t.same(
        (await ops.status(target)).resources.map((r) => r.resource),
        [diskLeaseName(diskA)],
      );
      await t.rejects(imageDetach(driver, dom, diskC), {
        code: LockManagerErrorCode.RELEASE,
        errno: 1,
        message: "Failed to release lock: Operation not permitted",
      });
    });

    t.test("the workload's exit frees its lease", async (t) => {
      w.child.kill("SIGKILL");
      await w.exited;
      for (let i = 0; i < 100 && (await ops.status(target)).resources.some((r) => r.pid === w.pid); i++) await sleep(100);
      t.same(
        (await ops.status(target)).resources.filter((r) => r.pid === w.pid),
        [],
      );
    });
  });

  t.test("16: a pid that never registered: resume sends only the probe, inquire and pause give null", async (t) => {
    const plain = startWorkload(t, ["/bin/sleep", "600"], daemon.runDir);
    const dom = { ...domA, params: { ...domA.params, pid: plain.pid } };
    await processResume(driver, dom, null);
    t.equal(await processInquire(driver, dom), null);
    t.equal(await processPause(driver, dom), null);
    t.equal((await ops.status(target)).resources.length, 0);
  });

  t.test("23: after RESTRICT the registration refuses locally; pid calls still work", async (t) => {
    const self = { params: { uuid: UUID, name: "self", pid: process.pid }, disks: [{ path: join(dir, "self.img"), type: "file" as const }] };
    const registration = await processStart(driver, self, { paused: true });
    t.teardown(() => registration.close());
    t.ok(registration.restricted);
    const started = Date.now();
    await t.rejects(ops.inquireRaw(target, { registration }), { code: ClientErrorCode.RESTRICTED });
    t.ok(Date.now() - started < WAIT_MS, "no wait for a reply that never comes");
    await processResume(driver, self, null);
    t.match(await processInquire(driver, self), /^__LIBVIRT__DISKS__:/, "acquired by pid from another connection");
    await registration.close();
  });

  t.test("33 (helper part): the killpath helper pauses or powers off a workload", async (t) => {
    const w = startWorkload(
      t,
      supervisorCommand({ ...domA, onLockFailure: "pause" }, ["/bin/sleep", "600"], { cli: [process.execPath, OUR_CLI], configFile, paused: false }),
      daemon.runDir,
    );
    await waitRegistered(driver, w.pid, { timeoutMs: WAIT_MS, exited: w.exited });
    for (let i = 0; i < 100 && !(await ops.status(target)).resources.some((r) => r.pid === w.pid); i++) await sleep(100);
    t.same((await ops.status(target)).resources.filter((r) => r.pid === w.pid).length, 1, "not paused: exec acquired before becoming the program");
    const env = { ...process.env, SANLOCK_RUN_DIR: daemon.runDir };
    const pause = spawnSync(process.execPath, [OUR_CLI, "lockmgr", "killpath", "-", UUID, "pause", String(w.pid)], { env, encoding: "utf8" });
    t.equal(pause.status, 0, pause.stderr);
    t.equal(procState(w.pid), "T", "stopped");
    t.equal((await ops.status(target)).resources.filter((r) => r.pid === w.pid).length, 0, "its lease released by pid");
    // Not spawnSync: this process must stay free to reap the killed workload.
    const off = spawn(process.execPath, [OUR_CLI, "lockmgr", "killpath", "-", UUID, "poweroff", String(w.pid)], { env, stdio: "ignore" });
    t.equal(await new Promise((resolve) => off.once("exit", resolve)), 0, "poweroff helper exit 0");
    t.equal(await w.exited, null, "killed");
  });

  t.test("34: the helper's usage errors exit 1", async (t) => {
    for (const args of [
      ["-", UUID, "pause"],
      ["-", UUID, "restart", "1234"],
      ["-", UUID, "pause", "x"],
    ]) {
      t.equal(spawnSync(process.execPath, [OUR_CLI, "lockmgr", "killpath", ...args]).status, 1, args.join(" "));
    }
    t.equal(spawnSync(process.execPath, [OUR_CLI, "lockmgr", "exec", "--name", "x", "--uuid", UUID]).status, 1, "exec without -- PROGRAM");
  });
});
