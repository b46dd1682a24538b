/**
 * Lock-manager scenario 33 end to end for the actions `pause` and `default` (docs/lockmanager.md
 * §5; `poweroff` is in test/lockmanager-daemon.test.ts): a sanlock-ts daemon (io_timeout 1, kill
 * grace -g 5) whose lockspace LMFAIL lives on a loop device; two workloads started by
 * `sanlock-ts lockmgr exec` hold one lease each in LMFAIL (lease areas on a healthy file). The
 * device is made read-only: renewals fail, and 8 s after the last one the daemon acts.
 *
 * - pause: the daemon runs the killpath helper once (`lockmgr killpath URI UUID pause PID`), which
 *   stops the workload and releases its lease by pid; the workload is alive (stopped) afterwards
 *   and the daemon never SIGKILLs it. Once the storage is back and the lockspace joined again,
 *   processResume with the state the helper printed takes the lease again (lver + 1).
 * - default: no killpath; the daemon sends SIGTERM (which the workload ignores) about every second
 *   through the grace period, then SIGKILL.
 */
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  type DomainDescription,
  processInquire,
  processResume,
  SanlockLockDriver,
  supervisorCommand,
  waitRegistered,
} from "../packages/client/src/lockmanager/index.js";
import * as ops from "../packages/client/src/operations.js";
import {
  createLoopDevice,
  daemonSkipReason,
  loopDeviceSkipReason,
  OUR_CLI,
  sleep,
  sparseFile,
  startDaemon,
  tempLeaseDir,
  TEST_DAEMON_ARGS,
} from "./support/index.js";

const run = promisify(execFile);
const MiB = 1 << 20;
const UUID_PAUSE = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
const UUID_DEFAULT = "0e3c3d4e-1111-4a2b-9c3d-5e6f7a8b9c0d";
const LS = "LMFAIL";
const GRACE_SECONDS = 5;
/** The lockspace's io_timeout N: renewals fail for 8N = 8 s before the daemon acts. */
const IO_TIMEOUT = 1;
const WAIT_MS = 30_000;

const procState = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2);
  } catch {
    return undefined;
  }
};

t.test("33: lockspace failure with on_lockfailure pause and default", { skip: daemonSkipReason("sanlock-ts") || loopDeviceSkipReason() }, async (t) => {
  const dir = tempLeaseDir(t, "lockmgr-lockfail-");
  const loop = await createLoopDevice(t, { sizeBytes: 2 * MiB });
  await run("losetup", ["--direct-io=on", loop.path]).catch(() => undefined);
  t.teardown(() => run("blockdev", ["--setrw", loop.path]).catch(() => undefined));
  const daemon = await startDaemon(t, { kind: "sanlock-ts", dir, args: [...TEST_DAEMON_ARGS, "-g", String(GRACE_SECONDS)] });
  const target = { socketPath: daemon.socketPath, timeoutMs: WAIT_MS };
  t.teardown(() => {
    if (!t.passing()) t.comment(`daemon: ${daemon.running ? "running" : "exited"}; log: ${daemon.log().slice(-3000)}`);
  });
  const ls = { lockspace: LS, hostId: 1n, path: loop.path, offset: 0n };
  await ops.writeLockspace(target, { ...ls, maxHosts: 0, ioTimeout: IO_TIMEOUT, flags: 0 });
  await ops.addLockspace({ socketPath: daemon.socketPath }, { ...ls, ioTimeout: IO_TIMEOUT, wait: true });
  const leaseFile = sparseFile(dir, "leases", 2 * MiB);
  for (const [i, resource] of ["vmpause", "vmdefault"].entries()) {
    await ops.writeResource(target, {
      lockspace: LS,
      resource,
      disks: [{ path: leaseFile, offset: BigInt(i * MiB) }],
      maxHosts: 0,
      numHosts: 0,
      clear: false,
      flags: 0,
    });
  }
  const configFile = join(dir, "qemu-sanlock.conf");
  writeFileSync(configFile, "auto_disk_leases = 0\nrequire_lease_for_disks = 0\n");
  const driver = await SanlockLockDriver.init({ configFile, socketPath: daemon.socketPath });

  // The killpath helper: records its arguments and its output (the released state), then is sanlock-ts's.
  const calls = join(dir, "killpath-calls");
  const helperOut = join(dir, "killpath-out");
  const helper = join(dir, "killpath-helper");
  writeFileSync(helper, `#!/bin/sh\necho "$@" >> ${calls}\nexec ${process.execPath} ${OUR_CLI} "$@" >> ${helperOut} 2>&1\n`, { mode: 0o755 });
  const terms = join(dir, "sigterms");
  const start = (dom: DomainDescription, program: string[]) => {
    const argv = supervisorCommand(dom, program, { cli: [process.execPath, OUR_CLI], configFile, paused: false, killpathHelper: helper });
    const child = spawn(argv[0] as string, argv.slice(1), { env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir }, stdio: "ignore" });
    let exitedAt = 0;
    const exited = new Promise<void>((resolve) =>
      child.once("exit", () => {
        exitedAt = Date.now();
        resolve();
      }),
    );
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      }
      return exited;
    });
    return { child, exited, exitedAt: () => exitedAt, pid: child.pid as number, dom: { ...dom, params: { ...dom.params, pid: child.pid as number } } };
  };
  const paused = start(
    { params: { uuid: UUID_PAUSE, name: "pausing", pid: 0 }, leases: [{ key: "vmpause", lockspace: LS, path: leaseFile, offset: 0 }], onLockFailure: "pause" },
    ["/bin/sleep", "600"],
  );
  const stubborn = start(
    { params: { uuid: UUID_DEFAULT, name: "stubborn", pid: 0 }, leases: [{ key: "vmdefault", lockspace: LS, path: leaseFile, offset: MiB }] },
    ["/bin/sh", "-c", `trap 'date +%s%3N >> ${terms}' TERM; while :; do sleep 0.1; done`],
  );
  for (const w of [paused, stubborn]) await waitRegistered(driver, w.pid, { timeoutMs: WAIT_MS, exited: w.exited });
  // Pids of the lockspace's listed leases; with `heldOnly`, of held ones only: a lease still being
  // acquired is listed too ("add"), with no token and pid 0.
  const holders = async (heldOnly = false): Promise<number[]> =>
    (await ops.status(target)).resources.filter((r) => r.lockspace === LS && (!heldOnly || r.list === "held")).map((r) => r.pid);
  const heldBy = (): Promise<number[]> => holders(true);
  for (let i = 0; i < 300 && (await heldBy()).length < 2; i++) await sleep(100);
  t.same((await heldBy()).sort(), [paused.pid, stubborn.pid].sort(), "both workloads hold their lease");
  const before = await processInquire(driver, paused.dom);
  t.match(before, /^LMFAIL:vmpause:.*:0:1$/, "the pausing workload's state, lver 1");

  await run("blockdev", ["--setro", loop.path]);
  const failedAt = Date.now();

  // default: SIGTERM through the grace period, then SIGKILL.
  const limit = new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 90_000).unref());
  t.equal(await Promise.race([stubborn.exited.then(() => "exited" as const), limit]), "exited", "the default-action workload is gone");
  t.equal(stubborn.child.signalCode, "SIGKILL", "killed by SIGKILL");
  const termTimes = existsSync(terms) ? readFileSync(terms, "utf8").trim().split("\n").map(Number) : [];
  t.ok(termTimes.length >= 2, `SIGTERM repeated while the workload ignored it (${termTimes.length} times)`);
  const firstTerm = termTimes[0] ?? 0;
  // The daemon counts from last_success (docs/algorithms.md §2.3, §7): SIGTERMs from last_success + 8N,
  // SIGKILL from last_success + 8N + the grace period. last_success is the whole second sampled before
  // the last good renewal's read, and renewals come 2N + 0.5..1.5 s apart, so it can be up to
  // 2N + 1.5 s + 1 s older than the failure (a run measured SIGKILL 9.94 s after it, with grace 5).
  const lastSuccessAgeMaxMs = (2 * IO_TIMEOUT + 2.5) * 1000;
  t.ok(
    firstTerm - failedAt >= 8 * IO_TIMEOUT * 1000 - lastSuccessAgeMaxMs,
    `the first SIGTERM ${firstTerm - failedAt} ms after the storage failed (renewals failed 8 s)`,
  );
  const killedAfter = stubborn.exitedAt() - failedAt;
  t.ok(
    killedAfter >= (8 * IO_TIMEOUT + GRACE_SECONDS) * 1000 - lastSuccessAgeMaxMs,
    `SIGKILL ${killedAfter} ms after the failure: not before last_success + 8 s + the grace period`,
  );
  t.ok(stubborn.exitedAt() >= (termTimes.at(-1) ?? 0), "after the last SIGTERM");

  // pause: the helper ran once, the workload is stopped, alive, and holds nothing.
  t.same(
    readFileSync(calls, "utf8").trim().split("\n"),
    [`lockmgr killpath - ${UUID_PAUSE} pause ${paused.pid}`],
    "the helper ran once, for the pausing workload only",
  );
  t.equal(procState(paused.pid), "T", "the pausing workload is stopped, not killed");
  // The helper runs beside the daemon's own release of the killed workload's lease: poll.
  for (let i = 0; i < 100 && (await holders()).includes(paused.pid); i++) await sleep(100);
  t.notOk((await holders()).includes(paused.pid), "its lease released by pid");
  const released = /released "([^"]*)"/.exec(readFileSync(helperOut, "utf8"))?.[1];
  t.equal(released, before, "the helper printed the state it released");

  // Storage back: join again, resume with the state, continue the workload.
  await run("blockdev", ["--setrw", loop.path]);
  for (let i = 0; i < 100 && (await ops.getLockspaces(target)).some((l) => l.lockspace === LS); i++) await sleep(200);
  await ops.addLockspace({ socketPath: daemon.socketPath }, { ...ls, ioTimeout: IO_TIMEOUT, wait: true });
  await processResume(driver, paused.dom, released ?? null);
  paused.child.kill("SIGCONT");
  t.match(await processInquire(driver, paused.dom), /^LMFAIL:vmpause:.*:0:2$/, "resumed with the state once the storage returned: lver 2");
  t.equal(paused.child.exitCode, null, "the paused workload ran on");
});
