/**
 * The done-when of the lock-manager issue, against the real thing (docs/lockmanager.md §10,
 * scenarios 12, 18, 20, 35, 36 and the state hand-over of 26): host 1 is Debian's libvirtd 9.0
 * with its sanlock plugin on the real sanlock 3.8.5 daemon; host 2 is the TypeScript lock
 * manager on a sanlock-ts daemon. Both use one disk_lease_dir and one disk path. One libvirtd
 * for the whole file.
 */
import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DomainDescription,
  LockManagerErrorCode,
  SanlockLockDriver,
  diskLeaseFilePath,
  diskLeaseName,
  processInquire,
  processPause,
  processResume,
  supervisorCommand,
  waitRegistered,
} from "../packages/client/src/lockmanager/index.js";
import * as ops from "../packages/client/src/operations.js";
import { daemonSkipReason, OUR_CLI, sleep, sparseFile, startDaemon, tempLeaseDir, until } from "./support/index.js";
import { guestXml, libvirtSkipReason, recordingProxy, startPrivateLibvirtd, traceRequests } from "./support/libvirt.js";

const MiB = 1 << 20;
const IO_TIMEOUT = 1;
const WAIT_MS = 60_000;
const GUEST = "lmguest";
const GUEST_UUID = "8e2f4a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
const TS_UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
const DISKS = "__LIBVIRT__DISKS__";

const skip = daemonSkipReason(["sanlock", "sanlock-ts"]) || libvirtSkipReason();

t.test("a libvirt host and a TypeScript lock-manager host share one disk_lease_dir", { skip }, async (t) => {
  const dir = tempLeaseDir(t, "lockmgr-libvirt-");
  const leaseDir = join(dir, "leases");
  mkdirSync(leaseDir);
  const real = await startDaemon(t, { kind: "sanlock", label: "host 1 (sanlock + libvirt)", dir });
  const ours = await startDaemon(t, { kind: "sanlock-ts", label: "host 2 (sanlock-ts)", dir });
  const realTarget = { socketPath: real.socketPath, timeoutMs: WAIT_MS };
  const ourTarget = { socketPath: ours.socketPath, timeoutMs: WAIT_MS };
  const tsConfigDir = join(dir, "ts-etc");
  mkdirSync(tsConfigDir);
  const configFile = join(tsConfigDir, "qemu-sanlock.conf");
  writeFileSync(configFile, `auto_disk_leases = 1\ndisk_lease_dir = "${leaseDir}"\nhost_id = 2\nio_timeout = ${IO_TIMEOUT}\n`);

  const driver = await SanlockLockDriver.init({ configFile, socketPath: ours.socketPath });
  t.equal(driver.lockspaceError, null, "host 2 created and joined __LIBVIRT__DISKS__");
  const libvirt = await startPrivateLibvirtd(t, { dir, sanlockRunDir: real.runDir, hostId: 1, diskLeaseDir: leaseDir, ioTimeout: IO_TIMEOUT });
  await until(
    "libvirt's plugin joins __LIBVIRT__DISKS__ as host 1",
    async () => ((await ops.getLockspaces(realTarget)).some((l) => l.lockspace === DISKS && l.hostId === 1n && l.flags === 0) ? true : undefined),
    WAIT_MS,
    200,
  );

  const disk = sparseFile(dir, "guest.img", MiB);
  const sharedDisk = sparseFile(dir, "shared.img", MiB);
  const xmlPath = join(dir, "guest.xml");
  writeFileSync(xmlPath, guestXml(GUEST, GUEST_UUID, [{ path: disk }, { path: sharedDisk, shareable: true }]));
  const leaseOf = (path: string) => ({
    lockspace: DISKS,
    resource: diskLeaseName(path),
    disks: [{ path: diskLeaseFilePath(leaseDir, path), offset: 0n }],
    flags: 0,
  });
  const holders = async (path: string): Promise<bigint[]> => (await ops.readResourceOwners(ourTarget, leaseOf(path))).hosts.map((h) => h.hostId);

  const startWorkload = async (dom: DomainDescription) => {
    const argv = supervisorCommand(dom, ["/bin/sleep", "600"], { cli: [process.execPath, OUR_CLI], configFile, paused: true });
    const child = spawn(argv[0] as string, argv.slice(1), { env: { ...process.env, SANLOCK_RUN_DIR: ours.runDir }, stdio: "ignore" });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    t.teardown(() => {
      child.kill("SIGKILL");
      return exited;
    });
    await waitRegistered(driver, child.pid as number, { timeoutMs: WAIT_MS, exited });
    return { dom: { ...dom, params: { ...dom.params, pid: child.pid as number } }, kill: () => (child.kill("SIGKILL"), exited) };
  };

  let libvirtState = "";

  t.test("18, 20, 35: while libvirt's guest runs, host 2 cannot take its disk, but shares the shareable one", async (t) => {
    const trace = await traceRequests(t, libvirt.pid, join(dir, "libvirtd.strace"));
    const created = await libvirt.virsh("create", xmlPath);
    const oracle = await trace.stop();
    t.equal(created.status, 0, created.status === 0 ? "libvirt starts its guest" : `virsh create: ${created.stderr} ${libvirt.log()}`);
    const qemuPid = await libvirt.guestPid(GUEST);
    const status = await ops.status(realTarget);
    t.same(
      status.resources.map((r) => [r.resource, r.pid, r.shared, r.disks[0]?.path]).sort(),
      [
        [diskLeaseName(disk), qemuPid, false, diskLeaseFilePath(leaseDir, disk)],
        [diskLeaseName(sharedDisk), qemuPid, true, diskLeaseFilePath(leaseDir, sharedDisk)],
      ].sort(),
      "the plugin's lease names and files are the ones the TypeScript manager computes",
    );
    t.same(
      status.clients.filter((c) => c.pid === qemuPid).map((c) => c.name),
      [GUEST],
      "owner name = domain name, as ours sends",
    );
    libvirtState = (await ops.inquireRaw(realTarget, { pid: qemuPid })).state; // what the plugin's inquire returns, verbatim

    const w = await startWorkload({ params: { uuid: TS_UUID, name: "tsguest", pid: 0 }, disks: [{ path: disk, type: "file" }] });
    await t.rejects(processResume(driver, w.dom, null), {
      code: LockManagerErrorCode.ACQUIRE,
      virError: "RESOURCE_BUSY",
      message: "Failed to acquire lock: Lease is held by another host",
    });
    t.same(await holders(disk), [1n], "host 1 alone holds the disk");

    t.test("14: the requests are byte for byte libvirt's", async (t) => {
      const byCmd = (cmd: number) => oracle.filter((r) => r.cmd === cmd);
      // QEMU's child (before its exec) registered and restricted itself: the real daemon's log says so.
      const log = Buffer.from(await ops.logDump(realTarget)).toString("latin1");
      t.match(log, new RegExp(`cmd_register ci \\d+ fd \\d+ pid ${qemuPid}\\b`), "QEMU's pid registered itself");
      t.match(log, new RegExp(`cmd_restrict ci \\d+ fd \\d+ pid ${qemuPid} flags 1\\b`), "and set RESTRICT_ALL");
      const [probe, acquire] = [byCmd(9).at(-1), byCmd(7).at(-1)];
      t.same([probe?.bytes.readInt32LE(28), acquire?.bytes.readInt32LE(28)], [qemuPid, qemuPid], "libvirtd: INQUIRE probe and ACQUIRE by pid");
      // The same domain (name, disks) through the TypeScript manager, recorded by a proxy in front of host 2's daemon.
      const proxy = await recordingProxy(t, join(dir, "proxy.sock"), ours.socketPath);
      const viaProxy = await SanlockLockDriver.init({ configFile, socketPath: proxy.socketPath, setupLockspace: false });
      const same: DomainDescription = {
        params: { uuid: GUEST_UUID, name: GUEST, pid: w.dom.params.pid },
        disks: [
          { path: disk, type: "file" },
          { path: sharedDisk, type: "file", shared: true },
        ],
      };
      await t.rejects(processResume(viaProxy, same, null), { code: LockManagerErrorCode.ACQUIRE });
      const ours2 = proxy.requests();
      t.same(
        ours2.map((r) => r.cmd),
        [9, 7],
        "INQUIRE probe, then ACQUIRE",
      );
      const masked = (b: Buffer | undefined) => {
        const copy = Buffer.from(b ?? Buffer.alloc(0));
        if (copy.length >= 32) copy.writeInt32LE(0, 28); // data2 = the pid, which differs
        return copy.toString("hex");
      };
      t.equal(masked(ours2[0]?.bytes), masked(probe?.bytes), "INQUIRE probe: identical but for the pid");
      t.equal(masked(ours2[1]?.bytes), masked(acquire?.bytes), "ACQUIRE (header, resources, disks, options with owner_name): identical but for the pid");
    });

    const s = await startWorkload({ params: { uuid: TS_UUID, name: "tsshared", pid: 0 }, disks: [{ path: sharedDisk, type: "file", shared: true }] });
    await processResume(driver, s.dom, null);
    t.match(await processInquire(driver, s.dom), new RegExp(`^${DISKS}:${diskLeaseName(sharedDisk)}:.*:SH$`), "host 2 shares the shareable disk");
    t.same((await holders(sharedDisk)).sort(), [1n, 2n], "both hosts hold the shared lease");
    await w.kill();
    await s.kill();
  });

  t.test("36: virt-sanlock-cleanup with sanlock-ts as `sanlock` removes only unused lease files", async (t) => {
    const unused = join(dir, "stopped-domain.img");
    const m = await driver.newManager("domain", { uuid: TS_UUID, name: "stopped", pid: 1 }, { started: true });
    await m.addResource("disk", unused); // creates its lease file; nobody holds it
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "sanlock"), `#!/bin/sh\nexec ${process.execPath} ${OUR_CLI} "$@"\n`);
    chmodSync(join(bin, "sanlock"), 0o755);
    // The script reads /etc/libvirt/qemu-sanlock.conf: give it host 2's in a mount namespace of its own.
    const run = spawnSync(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", `mount --bind ${tsConfigDir} /etc/libvirt && exec /usr/sbin/virt-sanlock-cleanup`],
      {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, SANLOCK_RUN_DIR: ours.runDir },
        encoding: "utf8",
        timeout: WAIT_MS,
      },
    );
    t.equal(run.status, 0, run.stderr);
    // Each file: "Cleanup: RESOURCE ", the `sanlock client command` lines (stdout, as the real one's), then PASS or FAIL.
    const verdicts = run.stdout
      .split("Cleanup: ")
      .filter((part) => part !== "")
      .map((part) => `${part.slice(0, part.indexOf(" "))} ${part.trim().split("\n").pop() ?? ""}`)
      .sort();
    const line = (path: string, verdict: string) => `${DISKS}:${diskLeaseName(path)}:${leaseDir}/${diskLeaseName(path)}:0 ${verdict}`;
    t.same(verdicts, [line(unused, "PASS"), line(disk, "FAIL"), line(sharedDisk, "FAIL")].sort());
    t.same(readdirSync(leaseDir).sort(), [DISKS, diskLeaseName(disk), diskLeaseName(sharedDisk)].sort(), "held files and the lockspace stay");
  });

  t.test("26, 35: libvirt's state is accepted by host 2 once the guest is gone; then host 2 keeps libvirt's guest from starting", async (t) => {
    t.equal((await libvirt.virsh("destroy", GUEST)).status, 0);
    t.match(libvirtState, new RegExp(`^${DISKS}:${diskLeaseName(disk)}:\\S+:0:1( |$)`), "libvirt's state names the disk lease at lver 1");
    const strict = await SanlockLockDriver.init({ configFile, socketPath: ours.socketPath, stateVersionCheck: "lver" });
    const w = await startWorkload({ params: { uuid: TS_UUID, name: "tsguest", pid: 0 }, disks: [{ path: disk, type: "file" }] });
    await processResume(strict, w.dom, libvirtState); // RES_LVER 1 from libvirt's state: nobody took it since
    t.same(await holders(disk), [2n], "host 2 alone holds the disk");

    // A second guest: the held disk and a new one, whose lease file the plugin creates before its acquire fails.
    const fresh = sparseFile(dir, "fresh.img", MiB);
    const xml2 = join(dir, "guest2.xml");
    writeFileSync(xml2, guestXml(`${GUEST}2`, GUEST_UUID.replace(/^8/, "9"), [{ path: disk }, { path: fresh }]));
    const refused = await libvirt.virsh("create", xml2);
    t.not(refused.status, 0, "libvirt's guest does not start");
    t.match(refused.stderr, /Failed to acquire lock: Lease is held by another host/);
    t.same(await holders(disk), [2n], "never two holders");
    t.same(await holders(fresh), [], "all or nothing: the new disk's lease is not held either");
    const reference = sparseFile(dir, "reference.lease", MiB);
    const init = spawnSync("sanlock", ["direct", "init", "-r", `${DISKS}:${diskLeaseName(fresh)}:${reference}:0`], { encoding: "utf8" });
    t.equal(init.status, 0, `sanlock direct init -r of the reference: ${init.stdout}${init.stderr}`);
    const created = readFileSync(diskLeaseFilePath(leaseDir, fresh));
    const expected = readFileSync(reference);
    // docs/ondisk.md (request record): sanlock's paxos_lease_init copies the request record's
    // 24-byte struct, bytes 20..23 its padding, from an uninitialised stack copy; inside libvirtd
    // they were once a pointer's bytes (…937f). Every other byte must match.
    for (const bytes of [created, expected]) bytes.fill(0, REQUEST_RECORD_OFFSET + 20, REQUEST_RECORD_OFFSET + 24);
    t.equal(firstDifference(created, expected), "", "12: the plugin's new lease file = sanlock direct init -r, byte for byte (request padding aside)");

    // Host 2's state, as libvirt's acquire would read it: libsanlock's sanlock_state_to_args.
    const ourState = await processInquire(driver, w.dom);
    const parsed = spawnSync("sanlock", ["client", "inquire", "-p", String(w.dom.params.pid), "-D"], {
      env: { ...process.env, SANLOCK_RUN_DIR: ours.runDir },
      encoding: "utf8",
    });
    t.match(parsed.stdout, /state_to_args done 0 res_count 1/, "libsanlock parses host 2's state");
    t.ok(parsed.stdout.includes(`"${ourState}"`), "the state is the daemon's INQUIRE payload, verbatim");

    const state = await processPause(driver, w.dom);
    t.equal(state, ourState, "pause hands over the same state");
    const started = await libvirt.virsh("create", xmlPath);
    t.equal(started.status, 0, `after host 2 paused, libvirt's guest starts: ${started.stderr}`);
    t.same(await holders(disk), [1n]);
    await t.rejects(processResume(driver, w.dom, state), { code: LockManagerErrorCode.ACQUIRE, virError: "RESOURCE_BUSY" }, "and host 2 cannot resume");
    t.ok(existsSync(diskLeaseFilePath(leaseDir, disk)));
  });

  t.test("29 (reference): libvirt's own pause of a guest with a <lease> on a path with a space keeps the lease", async (t) => {
    const path = sparseFile(dir, "a b.lease", MiB);
    await ops.writeResource(realTarget, {
      lockspace: DISKS,
      resource: "spacey",
      disks: [{ path, offset: 0n }],
      maxHosts: 0,
      numHosts: 0,
      clear: false,
      flags: 0,
    });
    const xml = join(dir, "guest3.xml");
    writeFileSync(xml, guestXml(`${GUEST}3`, GUEST_UUID.replace(/^8/, "a"), [], [{ lockspace: DISKS, key: "spacey", path }]));
    const created = await libvirt.virsh("create", xml);
    t.equal(created.status, 0, created.stderr);
    const qemuPid = await libvirt.guestPid(`${GUEST}3`);
    t.equal((await ops.inquireRaw(realTarget, { pid: qemuPid })).result, -81, "sanlock 3.8.5: INQUIRE fails with -ELIBSCN");
    t.equal((await libvirt.virsh("suspend", `${GUEST}3`)).status, 0, "libvirt pauses the guest without an error");
    const held = (await ops.status(realTarget)).resources.filter((r) => r.pid === qemuPid).map((r) => r.resource);
    t.same(held, ["spacey"], "and the lease stays held, as the TypeScript manager's parity mode does (lockmanager-daemon.test.ts)");
    await libvirt.virsh("destroy", `${GUEST}3`);
  });
});

/** The request record: sector 1 of a resource lease with 512-byte sectors, as libvirt's leases are. */
const REQUEST_RECORD_OFFSET = 512;

/** "" when equal; else the sizes and the first differing 512-byte sector of each, in hex (the test's diagnosis). */
function firstDifference(a: Buffer, b: Buffer): string {
  if (a.equals(b)) return "";
  let i = 0;
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++;
  const sector = Math.floor(i / 512) * 512;
  const hex = (x: Buffer) =>
    x
      .subarray(sector, sector + 512)
      .toString("hex")
      .replace(/(00)+$/, "…");
  return `sizes ${a.length}/${b.length}, first difference at byte ${i}; sector ${sector}: ${hex(a)} vs ${hex(b)}`;
}
