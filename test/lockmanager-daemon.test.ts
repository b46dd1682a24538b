/**
 * The lock manager (@sanlock-ts/client/lockmanager) against a running sanlock-ts daemon, with
 * workloads started through `sanlock-ts lockmgr exec` so that, as with libvirt, the workload's
 * own pid is the registered process. Numbers are the scenarios of docs/lockmanager.md §10.
 * Lease and lockspace files are compared byte for byte with what the real `sanlock direct init`
 * writes. One daemon for the whole file: joining __LIBVIRT__DISKS__ is the slow step.
 */
import t, { type Test } from "tap";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DomainDescription,
  LockManagerErrorCode,
  SanlockLockDriver,
  diskLeaseName,
  formatLockstateCookie,
  imageAttach,
  parseLockstateCookie,
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
import { SanlockClient } from "../packages/client/src/client.js";
import {
  HAVE_REAL_SANLOCK,
  OUR_CLI,
  REPO_ROOT,
  daemonSkipReason,
  environmentSkip,
  mountStallFs,
  sleep,
  sparseFile,
  stallFsSkipReason,
  startDaemon,
  tempLeaseDir,
} from "./support/index.js";
import { recordingProxy } from "./support/libvirt.js";
import { Cmd } from "../packages/core/src/wire/index.js";

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

const skip = daemonSkipReason(["sanlock-ts"]) || environmentSkip(!HAVE_REAL_SANLOCK && "the real sanlock (direct init, the byte reference) is not installed");

t.test("lock manager on a sanlock-ts daemon", { skip }, async (t) => {
  const dir = tempLeaseDir(t, "lockmgr-");
  const leaseDir = join(dir, "leases");
  execFileSync("mkdir", [leaseDir]);
  const configFile = join(dir, "qemu-sanlock.conf");
  writeFileSync(configFile, `auto_disk_leases = 1\ndisk_lease_dir = "${leaseDir}"\nhost_id = ${HOST_ID}\nio_timeout = ${IO_TIMEOUT}\n`);
  // Scenario 33's failing lockspace lives here; mounted before the daemon starts so that teardown
  // unstalls it, kills the daemon, and only then unmounts (a process in a FUSE request cannot die).
  const stallSkip = stallFsSkipReason(t);
  const stallFs = stallSkip ? null : await mountStallFs(t, { files: { "failing-ls": MiB }, maxStallSeconds: 120 });
  const daemon = await startDaemon(t, { kind: "sanlock-ts", label: "host 3 (sanlock-ts)", dir });
  t.teardown(() => stallFs?.unstall());
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

  const exec = async (t: Test, dom: DomainDescription, paused = true) => {
    const w = startWorkload(t, supervisorCommand(dom, ["/bin/sleep", "600"], { cli: [process.execPath, OUR_CLI], configFile, paused }), daemon.runDir);
    await waitRegistered(driver, w.pid, { timeoutMs: WAIT_MS, exited: w.exited });
    return { w, dom: { ...dom, params: { ...dom.params, pid: w.pid } } };
  };

  t.test("25: a stale state passes in libvirt's mode and fails with the lver check", async (t) => {
    const disk = join(dir, "stale.img");
    const a = await exec(t, { params: { uuid: UUID, name: "A", pid: 0 }, disks: [{ path: disk, type: "file" }] });
    const b = await exec(t, { params: { uuid: UUID, name: "B", pid: 0 }, disks: [{ path: disk, type: "file" }] });
    await processResume(driver, a.dom, null);
    const stale = await processPause(driver, a.dom);
    t.match(stale, /:0:1$/, "A paused at lver 1");
    await processResume(driver, b.dom, null);
    await processPause(driver, b.dom); // B held it meanwhile: lver 2
    const strict = await SanlockLockDriver.init({ configFile, socketPath, stateVersionCheck: "lver" });
    await t.rejects(processResume(strict, a.dom, stale), {
      code: LockManagerErrorCode.ACQUIRE,
      virError: "RESOURCE_BUSY",
      sanlockResult: -240,
    });
    await processResume(driver, a.dom, stale);
    t.match(await processInquire(driver, a.dom), /:0:3$/, "libvirt's mode: the state is only parsed, lver 3");
  });

  t.test("26, 27 (two processes of one host): migration through states and the cookie", async (t) => {
    const disk = join(dir, "migrating.img");
    const vm = (name: string): DomainDescription => ({ params: { uuid: UUID, name, pid: 0 }, disks: [{ path: disk, type: "file" }] });
    const source = await exec(t, vm("migrating"));
    await processResume(driver, source.dom, null);
    const begin = await processInquire(driver, source.dom); // Begin: the running guest's state goes into the cookie
    const cookie = parseLockstateCookie(formatLockstateCookie(begin));
    t.equal(cookie.state, begin);
    const dest = await exec(t, vm("migrating")); // Prepare: registered only
    await t.rejects(processResume(driver, dest.dom, cookie.state), { code: LockManagerErrorCode.ACQUIRE }, "27: Finish before the source released fails");
    const switchOver = await processPause(driver, source.dom); // Perform: the source stops
    const strict = await SanlockLockDriver.init({ configFile, socketPath, stateVersionCheck: "lver" });
    await processResume(strict, dest.dom, cookie.state); // Finish, with the Begin state's lease version
    t.equal(await processInquire(driver, source.dom), null, "the source holds nothing");
    t.match(await processInquire(driver, dest.dom), /:0:2$/, "the destination holds it, lver 2");
    dest.w.child.kill("SIGKILL"); // 27: a cancelled migration: the destination's process is killed...
    await dest.w.exited;
    // ...and the source resumes with its own state, once the daemon has freed the dead process's lease
    // (until then ACQUIRE answers -EAGAIN: the release is still being written).
    for (let attempt = 1; ; attempt++) {
      const failure = await processResume(driver, source.dom, switchOver).then(
        () => null,
        (err: unknown) => err,
      );
      if (failure === null) break;
      if ((failure as { sanlockResult?: number }).sanlockResult !== -11 || attempt === 100) throw failure;
      await sleep(100);
    }
    t.match(await processInquire(driver, source.dom), /:0:3$/, "the source holds it again, lver 3");
  });

  t.test("the client calls the lock manager needed (spec §8): owner name, raw state, release of several by pid, ALIGN", async (t) => {
    const client = new SanlockClient({ runDir: daemon.runDir });
    const { dom } = await exec(t, { params: { uuid: UUID, name: "client-gaps", pid: 0 } });
    const pid = dom.params.pid;
    const leases = ["gap-1.img", "gap-2.img"].map((name) => {
      const path = join(leaseDir, diskLeaseName(join(dir, name)));
      return { lockspace: "__LIBVIRT__DISKS__", resource: diskLeaseName(join(dir, name)), path };
    });
    const m = await driver.newManager("domain", { uuid: UUID, name: "x", pid }, { started: true });
    for (const name of ["gap-1.img", "gap-2.img"]) await m.addResource("disk", join(dir, name)); // creates both lease files
    await client.acquireMany(
      leases.map((l) => ({ lockspace: l.lockspace, resource: l.resource, disks: [{ path: l.path, offset: 0 }] })),
      { pid, ownerName: "client-gaps" },
    );
    t.same(
      (await ops.status(target)).clients.filter((c) => c.pid === pid).map((c) => c.name),
      ["client-gaps"],
      "owner name",
    );
    t.equal(await client.inquireState({ pid }), leases.map((l) => `${l.lockspace}:${l.resource}:${l.path}:0:1`).join(" "), "state string, verbatim");
    await client.releaseMany(
      leases.map((l) => ({ lockspace: l.lockspace, resource: l.resource })),
      { pid },
    );
    t.equal(await client.inquireState({ pid }), "", "both released in one request");
    t.equal(await client.align(leases[0]?.path ?? ""), MiB, "ALIGN through the daemon: 1 MiB for a file");
  });

  t.test("10: init while another client's add of the lockspace is in flight waits for it (INQ_LOCKSPACE WAIT), then succeeds", async (t) => {
    const twin = await startDaemon(t, { kind: "sanlock-ts", label: "a second host", dir });
    const dir2 = join(dir, "leases-2");
    execFileSync("mkdir", [dir2]);
    const lsFile = sparseFile(dir2, "__LIBVIRT__DISKS__", MiB);
    execFileSync("sanlock", ["direct", "init", "-s", `__LIBVIRT__DISKS__:0:${lsFile}:0`, "-o", String(IO_TIMEOUT)]);
    const config2 = join(dir, "qemu-sanlock-2.conf");
    writeFileSync(config2, `auto_disk_leases = 1\ndisk_lease_dir = "${dir2}"\nhost_id = 4\nio_timeout = ${IO_TIMEOUT}\n`);
    const proxy = await recordingProxy(t, join(dir, "twin-proxy.sock"), twin.socketPath);
    await ops.addLockspace(
      { socketPath: twin.socketPath },
      { lockspace: "__LIBVIRT__DISKS__", hostId: 4n, path: lsFile, offset: 0n, ioTimeout: IO_TIMEOUT, wait: false },
    );
    const d = await SanlockLockDriver.init({ configFile: config2, socketPath: proxy.socketPath });
    t.equal(d.lockspaceError, null);
    t.same(
      proxy.requests().map((r) => r.cmd),
      [Cmd.ADD_LOCKSPACE, Cmd.INQ_LOCKSPACE, Cmd.ADD_LOCKSPACE],
      "ADD (-EINPROGRESS), INQ_LOCKSPACE WAIT, ADD (-EEXIST: joined)",
    );
    t.same(
      (await ops.getLockspaces({ socketPath: twin.socketPath })).map((l) => [l.hostId, l.flags]),
      [[4n, 0]],
      "joined once, as host 4",
    );
  });

  t.test("29: a lease on a path with a space: INQUIRE fails (-81), so the pid looks unregistered and pause keeps the lease", async (t) => {
    const path = sparseFile(dir, "a b.lease", MiB);
    await ops.writeResource(target, {
      lockspace: "__LIBVIRT__DISKS__",
      resource: "spacey",
      disks: [{ path, offset: 0n }],
      maxHosts: 0,
      numHosts: 0,
      clear: false,
      flags: 0,
    });
    const { dom } = await exec(t, { params: { uuid: UUID, name: "spacey", pid: 0 }, leases: [{ key: "spacey", lockspace: "__LIBVIRT__DISKS__", path }] });
    await processResume(driver, dom, null);
    t.equal((await ops.inquireRaw(target, { pid: dom.params.pid })).result, -81, "the daemon's quirk: INQUIRE fails with -ELIBSCN");
    // libvirt's probe (INQUIRE by pid) fails, so the manager takes the pid as not registered (quirk Q3).
    t.equal(await processInquire(driver, dom), null, "inquire: no state");
    t.equal(await processPause(driver, dom), null, "pause: nothing released, no error");
    t.same(
      (await ops.status(target)).resources.filter((r) => r.pid === dom.params.pid).map((r) => r.resource),
      ["spacey"],
      "still held while 'paused'",
    );
    const strict = await SanlockLockDriver.init({ configFile, socketPath, strictRegistration: true });
    await t.rejects(processPause(strict, dom), { code: LockManagerErrorCode.REGISTER, errno: 81 }, "strictRegistration reports the probe's failure");
  });

  t.test("36 (sanlock-ts form): lockmgr cleanup removes the lease files nobody holds", async (t) => {
    const held = join(dir, "held.img");
    await exec(t, { params: { uuid: UUID, name: "held", pid: 0 }, disks: [{ path: held, type: "file" }] }, false);
    const before = readdirSync(leaseDir).sort();
    const run = spawnSync(process.execPath, [OUR_CLI, "lockmgr", "cleanup", "--config", configFile], {
      env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir },
      encoding: "utf8",
    });
    t.equal(run.status, 0, run.stderr);
    const expected = before
      .filter((name) => name !== "__LIBVIRT__DISKS__")
      .map((name) => `Cleanup: __LIBVIRT__DISKS__:${name}:${leaseDir}/${name}:0 ${name === diskLeaseName(held) ? "FAIL" : "PASS"}`);
    t.same(run.stdout.trim().split("\n"), expected);
    t.same(readdirSync(leaseDir).sort(), ["__LIBVIRT__DISKS__", diskLeaseName(held)].sort(), "only the held lease's file and the lockspace remain");
  });

  t.test("the README's VM-manager example runs as shown", async (t) => {
    const example = readFileSync(join(REPO_ROOT, "packages/client/examples/vm-manager.ts"), "utf8");
    t.ok(readFileSync(join(REPO_ROOT, "README.md"), "utf8").includes(`\`\`\`ts\n${example}\`\`\`\n`), "README.md shows the example file word for word");
    const wrapper = join(dir, "sanlock-ts");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${OUR_CLI} "$@"\n`, { mode: 0o755 });
    const env = { LOCKMGR_CONFIG: configFile, VM_DISK: join(dir, "vm1.img"), SANLOCK_TS: wrapper, SANLOCK_RUN_DIR: daemon.runDir };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const printed: string[] = [];
    const log = console.log;
    Object.assign(process.env, env);
    console.log = (...args: unknown[]) => void printed.push(args.join(" "));
    try {
      await import(`${join(REPO_ROOT, "packages/client/examples/vm-manager.ts")}?run=1`);
    } finally {
      console.log = log;
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    t.equal(printed[0], "vm1 runs with its disk lease");
    t.match(printed[1], new RegExp(`^paused, state __LIBVIRT__DISKS__:${diskLeaseName(join(dir, "vm1.img"))}:.*:0:1$`));
    t.equal(printed[2], "resumed");
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
    // In this process: the command's own entry (packages/cli/src/lockmgr/run.ts), as `sanlock-ts lockmgr` runs it.
    const { runLockmgr } = await import("../packages/cli/src/lockmgr/run.js");
    const errors: string[] = [];
    const output = { line: () => undefined, error: (text: string) => void errors.push(text) };
    const cases: [string, string[]][] = [
      ["wrong argc", ["killpath", "-", UUID, "pause"]],
      ["unsupported action", ["killpath", "-", UUID, "restart", "1234"]],
      ["bad pid", ["killpath", "-", UUID, "pause", "x"]],
      ["exec without -- PROGRAM", ["exec", "--name", "x", "--uuid", UUID]],
      ["no action", []],
    ];
    for (const [what, args] of cases) t.equal(await runLockmgr(args, output), 1, what);
    t.ok(errors.some((e) => e.includes("unsupported failure action 'restart'")));
    t.ok(errors.some((e) => e.includes("missing -- PROGRAM")));
  });

  // Last: it makes a lockspace of this daemon fail.
  t.test("33: when its lockspace fails, the daemon runs the poweroff helper with the workload's pid", { skip: stallSkip }, async (t) => {
    if (stallFs === null) return;
    const lsPath = stallFs.path("failing-ls");
    const ls = { lockspace: "LMFAIL", hostId: 1n, path: lsPath, offset: 0n };
    await ops.writeLockspace(target, { ...ls, maxHosts: 0, ioTimeout: IO_TIMEOUT, flags: 0 });
    await ops.addLockspace({ socketPath }, { ...ls, ioTimeout: IO_TIMEOUT, wait: true });
    const leasePath = sparseFile(dir, "failing.lease", MiB);
    await ops.writeResource(target, {
      lockspace: "LMFAIL",
      resource: "vmfail",
      disks: [{ path: leasePath, offset: 0n }],
      maxHosts: 0,
      numHosts: 0,
      clear: false,
      flags: 0,
    });
    // A helper that records how the daemon called it, then runs sanlock-ts's.
    const calls = join(dir, "killpath-calls");
    const helper = join(dir, "killpath-helper");
    writeFileSync(helper, `#!/bin/sh\necho "$@" >> ${calls}\nexec ${process.execPath} ${OUR_CLI} "$@"\n`, { mode: 0o755 });
    const dom: DomainDescription = {
      params: { uuid: UUID, name: "failing", pid: 0 },
      leases: [{ key: "vmfail", lockspace: "LMFAIL", path: leasePath }],
      onLockFailure: "poweroff",
    };
    const argv = supervisorCommand(dom, ["/bin/sleep", "600"], { cli: [process.execPath, OUR_CLI], configFile, paused: false, killpathHelper: helper });
    const w = startWorkload(t, argv, daemon.runDir);
    await waitRegistered(driver, w.pid, { timeoutMs: WAIT_MS, exited: w.exited });
    for (let i = 0; i < 300 && !(await ops.status(target)).resources.some((r) => r.pid === w.pid); i++) await sleep(100);
    stallFs.stall();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("still running"), 120_000);
    });
    const outcome = await Promise.race([w.exited.then(() => "exited"), limit]);
    clearTimeout(timer);
    t.equal(outcome, "exited", "the workload is gone");
    t.equal(w.child.signalCode, "SIGKILL");
    t.same(readFileSync(calls, "utf8").trim().split("\n"), [`lockmgr killpath - ${UUID} poweroff ${w.pid}`], "run once, with URI UUID ACTION and the pid");
  });
});
