/**
 * Lock-manager scenarios 26 and 27 across two hosts (docs/lockmanager.md §4.3, §10): host 1 runs
 * Debian's sanlock daemon, host 2 a sanlock-ts daemon; each has this lock manager with its own
 * host_id on one `disk_lease_dir`. The workloads are `sanlock-ts lockmgr exec` processes (the
 * workload registers itself, as QEMU does), driven by pid as libvirtd drives QEMU.
 *
 * host 1 → host 2: Begin (inquire → cookie), Prepare (destination registered only), Finish before
 * the source released → "Lease is held by another host" (-243, scenario 27); the source pauses
 * (switch-over) and is resumed with its own state (a cancelled migration: lver + 1); migration
 * again: the source releases, the destination's Finish with the cookie's state and the lver check
 * succeeds; the source holds nothing, the leader names host 2.
 * host 2 → host 1: the same migration back; the leader names host 1.
 * Never two holders: after every step at most one of the daemons lists the lease.
 */
import t, { type Test } from "tap";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DomainDescription,
  diskLeaseName,
  formatLockstateCookie,
  LockManagerErrorCode,
  parseLockstateCookie,
  processInquire,
  processPause,
  processResume,
  SanlockLockDriver,
  supervisorCommand,
  waitRegistered,
} from "../packages/client/src/lockmanager/index.js";
import * as ops from "../packages/client/src/operations.js";
import { daemonSkipReason, OUR_CLI, startDaemon, tempLeaseDir, type TestDaemon } from "./support/index.js";

const UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
const WAIT_MS = 30_000;
const DISKS = "__LIBVIRT__DISKS__";

interface Host {
  readonly daemon: TestDaemon;
  readonly configFile: string;
  readonly driver: SanlockLockDriver;
  /** The same, refusing a state whose lease version changed (stateVersionCheck "lver"). */
  readonly strict: SanlockLockDriver;
}

async function host(t: Test, daemon: TestDaemon, dir: string, leaseDir: string, hostId: number): Promise<Host> {
  const configFile = join(dir, `host${hostId}-sanlock.conf`);
  writeFileSync(configFile, `auto_disk_leases = 1\ndisk_lease_dir = "${leaseDir}"\nhost_id = ${hostId}\nio_timeout = 1\n`);
  const driver = await SanlockLockDriver.init({ configFile, socketPath: daemon.socketPath, strictInit: true });
  const strict = await SanlockLockDriver.init({ configFile, socketPath: daemon.socketPath, stateVersionCheck: "lver" });
  t.equal(driver.lockspaceError, null, `host ${hostId} joined ${DISKS}`);
  return { daemon, configFile, driver, strict };
}

/** A workload of `h`: `lockmgr exec --paused` of a sleep, registered with h's daemon. */
async function workload(t: Test, h: Host, dom: DomainDescription): Promise<DomainDescription> {
  const [cmd, ...args] = supervisorCommand(dom, ["/bin/sleep", "600"], { cli: [process.execPath, OUR_CLI], configFile: h.configFile, paused: true }) as [
    string,
    ...string[],
  ];
  const child: ChildProcess = spawn(cmd, args, { env: { ...process.env, SANLOCK_RUN_DIR: h.daemon.runDir }, stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    return exited;
  });
  await waitRegistered(h.driver, child.pid as number, { timeoutMs: WAIT_MS, exited });
  return { ...dom, params: { ...dom.params, pid: child.pid as number } };
}

t.test(
  "26, 27 across hosts: migration both ways between a sanlock host and a sanlock-ts host",
  { skip: daemonSkipReason(["sanlock-ts", "sanlock"]) },
  async (t) => {
    const dir = tempLeaseDir(t, "lockmgr-migrate-");
    const leaseDir = join(dir, "leases");
    mkdirSync(leaseDir);
    const [d1, d2] = await Promise.all([
      startDaemon(t, { kind: "sanlock", label: "host 1 (sanlock)", dir }),
      startDaemon(t, { kind: "sanlock-ts", label: "host 2 (sanlock-ts)", dir }),
    ]);
    const h1 = await host(t, d1, dir, leaseDir, 1);
    const h2 = await host(t, d2, dir, leaseDir, 2);
    const disk = join(dir, "guest.img");
    const name = diskLeaseName(disk);
    const vm: DomainDescription = { params: { uuid: UUID, name: "migrating", pid: 0 }, disks: [{ path: disk, type: "file" }] };
    const leaseSpec = { lockspace: DISKS, resource: name, disks: [{ path: join(leaseDir, name), offset: 0n }], flags: 0 };
    const target = (h: Host) => ({ socketPath: h.daemon.socketPath, timeoutMs: WAIT_MS });
    /** Holders of the disk lease: [host 1's pids, host 2's pids]; never both non-empty. */
    const holders = async (): Promise<[number[], number[]]> => {
      const [s1, s2] = await Promise.all([ops.status(target(h1)), ops.status(target(h2))]);
      const of = (s: ops.DaemonStatus) => s.resources.filter((r) => r.resource === name).map((r) => r.pid);
      return [of(s1), of(s2)];
    };
    const owner = async (): Promise<bigint[]> => (await ops.readResourceOwners(target(h2), leaseSpec)).hosts.map((h) => h.hostId);

    // host 1 → host 2
    const source = await workload(t, h1, vm);
    await processResume(h1.driver, source, null);
    t.same(await holders(), [[source.params.pid], []], "the source on host 1 holds the disk lease");
    const begin = await processInquire(h1.driver, source);
    const cookie = parseLockstateCookie(formatLockstateCookie(begin));
    t.match(cookie.state, new RegExp(`^${DISKS}:${name}:.*:0:1$`), "Begin: the state in the cookie, lver 1");
    const dest = await workload(t, h2, vm); // Prepare: registered only
    t.same(await holders(), [[source.params.pid], []], "Prepare acquires nothing");
    await t.rejects(
      processResume(h2.driver, dest, cookie.state),
      { code: LockManagerErrorCode.ACQUIRE, virError: "RESOURCE_BUSY", sanlockResult: -243, message: "Failed to acquire lock: Lease is held by another host" },
      "27: Finish before the source released: held by another host",
    );
    const switchOver = await processPause(h1.driver, source);
    t.equal(switchOver, begin, "the switch-over state is the Begin state");
    t.same(await holders(), [[], []], "released at the switch-over");
    await processResume(h1.driver, source, switchOver); // 27: Confirm(cancel): the source runs on
    t.match(await processInquire(h1.driver, source), /:0:2$/, "27: the cancelled migration re-acquires on the source, lver 2");
    t.same(await holders(), [[source.params.pid], []]);

    const begin2 = await processInquire(h1.driver, source);
    const cookie2 = parseLockstateCookie(formatLockstateCookie(begin2));
    await processPause(h1.driver, source);
    await processResume(h2.strict, dest, cookie2.state); // Finish, with the lver check
    t.equal(await processInquire(h1.driver, source), null, "the source holds nothing");
    t.match(await processInquire(h2.driver, dest), /:0:3$/, "the destination on host 2 holds it, lver 3");
    t.same(await holders(), [[], [dest.params.pid]], "only host 2 lists it");
    t.same(await owner(), [2n], "the leader names host 2");

    // host 2 → host 1
    const back = await workload(t, h1, vm);
    const begin3 = await processInquire(h2.driver, dest);
    const cookie3 = parseLockstateCookie(formatLockstateCookie(begin3));
    await t.rejects(
      processResume(h1.driver, back, cookie3.state),
      { code: LockManagerErrorCode.ACQUIRE, sanlockResult: -243 },
      "27 on the real daemon: held by host 2",
    );
    await processPause(h2.driver, dest);
    await processResume(h1.strict, back, cookie3.state);
    t.equal(await processInquire(h2.driver, dest), null, "host 2's workload holds nothing");
    t.match(await processInquire(h1.driver, back), /:0:4$/, "back on host 1, lver 4");
    t.same(await holders(), [[back.params.pid], []], "only host 1 lists it");
    t.same(await owner(), [1n], "the leader names host 1");
  },
);
