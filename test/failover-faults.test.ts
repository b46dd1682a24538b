/**
 * Failover under faults, for real: two sanlock-ts daemons (hosts 1 and 2) as processes on one
 * lockspace with io_timeout N = 1, host 1's client holding an exclusive resource lease. Three
 * independent scenarios, run at the same time (each on its own files):
 *
 * 1. kill -9 of host 1's daemon and client: host 2's client gets the lease not before
 *    host_dead_seconds (8N + 60 = 68 s) after host 1's last renewal, and not much later
 *    (algorithms.md §4.4, §7.6).
 * 2. SIGSTOP of host 1's daemon for longer than its lease, then SIGCONT. Host 1 runs with the
 *    daemon's test watchdog (the reset model), which stands for the hardware watchdog that
 *    would have reset the frozen machine (§7.5). The model lives in the daemon's process and
 *    can act only once it runs again; what must hold is that it acts before anything else:
 *    host 1's daemon and client are killed and host 1 never writes to the leases again.
 * 3. Host 1's storage fails: it reaches the leases through a loop device that is made
 *    read-only (BLKROSET), so every write — its delta renewals — fails with EPERM; host 2 uses
 *    the file behind it. At last_success + 8N host 1 enters recovery (§7.2): its client gets
 *    SIGTERM, a client that ignores SIGTERM gets SIGKILL after the grace period (-g 5, §7.3);
 *    host 1 then leaves the lockspace and keeps running; host 2 takes over at +68 s.
 *    (Device-mapper's error target would need the dm kernel module; this needs only
 *    util-linux.)
 *
 * Times are CLOCK_MONOTONIC seconds: a delta record's timestamp is its writer's monotonic
 * clock (ondisk.md §4), and the client processes stamp their events with the same clock.
 */
import { execFile } from "node:child_process";
import { dirname } from "node:path";
import { promisify } from "node:util";
import t, { type Test } from "tap";
import { SanlockClient } from "../packages/client/src/index.js";
import { hostDeadSeconds, idRenewalFailSeconds } from "../packages/core/src/index.js";
import {
  bytesEqual,
  createLoopDevice,
  daemonSkipReason,
  loopDeviceSkipReason,
  monotonicSeconds,
  readArea,
  readDeltaRecord,
  readResourceLeader,
  sleep,
  sparseFile,
  startDaemon,
  startLeaseHolder,
  tempLeaseDir,
  TEST_DAEMON_ARGS,
  type TestDaemon,
} from "./support/index.js";

const run = promisify(execFile);
const IO_TIMEOUT = 1;
const MiB = 1 << 20;
/** Files get 512-byte sectors; host H's dblock is sector H + 1 of a resource area (ondisk.md §6). */
const SECTOR = 512;
const HOST_DEAD = hostDeadSeconds(IO_TIMEOUT);
const RECOVERY_AT = idRenewalFailSeconds(IO_TIMEOUT);
/** Observer lag on top of host_dead_seconds: renewal interval 2N, the 1-s acquire loop, retries, rounding, load. */
const TAKEOVER_SLACK_SECONDS = 12;
/** The daemon checks for recovery and signals once per second (§7.2, §7.3), plus scheduling under load. */
const SIGNAL_SLACK_SECONDS = 6;
/** "Lease is held by another host" (algorithms.md §4.4 step 5, §11). */
const SANLK_ACQUIRE_IDLIVE = -243;

interface DaemonVariant {
  readonly args: readonly string[];
  readonly resetModelWatchdog?: boolean;
}

/** A sanlock-ts daemon with -w 1 and the reset-model watchdog (the daemon's test backend, §7.5). */
const RESET_MODEL: DaemonVariant = {
  args: TEST_DAEMON_ARGS.map((arg, i, all) => (all[i - 1] === "-w" ? "1" : arg)),
  resetModelWatchdog: true,
};
const KILL_GRACE_SECONDS = 5;
/** After SIGCONT: time for the overdue reset to happen and for any stray write to land. */
const AFTER_RESUME_MS = 6000;

interface Cluster {
  readonly lockspace: string;
  readonly ioTimeout: number;
  readonly host1: TestDaemon;
  readonly host2: TestDaemon;
  /** Each host's path to the lockspace and to the resource file (the same file, or a device over it). */
  readonly paths1: { lockspace: string; resources: string };
  readonly paths2: { lockspace: string; resources: string };
}

/** Resource `name` at `offset` as host 1 or 2 addresses it. */
function lease(c: Cluster, host: 1 | 2, name: string, offset = 0) {
  const paths = host === 1 ? c.paths1 : c.paths2;
  return { lockspace: c.lockspace, resource: name, disks: [{ path: paths.resources, offset }] };
}

/** Formats the lockspace and `resources` (at `firstOffset`, one per MiB) through host 2, and joins both hosts. */
async function formCluster(c: Cluster, resources: readonly string[], firstOffset = 0): Promise<Cluster> {
  const ls = c.lockspace;
  const client1 = new SanlockClient({ runDir: c.host1.runDir });
  const client2 = new SanlockClient({ runDir: c.host2.runDir });
  await client2.writeLockspace(ls, c.paths2.lockspace, { iotimeout: c.ioTimeout });
  for (const [i, name] of resources.entries()) await client2.writeResource(ls, name, lease(c, 2, name, firstOffset + i * MiB).disks);
  await Promise.all([
    client1.addLockspace(ls, 1, c.paths1.lockspace, { iotimeout: c.ioTimeout }),
    client2.addLockspace(ls, 2, c.paths2.lockspace, { iotimeout: c.ioTimeout }),
  ]);
  return c;
}

/** Two hosts on plain files in a fresh directory. */
async function fileCluster(t: Test, ls: string, resources: readonly string[], options: { ioTimeout?: number; host1?: DaemonVariant } = {}): Promise<Cluster> {
  const dir = tempLeaseDir(t, "failover-");
  const paths = { lockspace: sparseFile(dir, "lockspace", MiB), resources: sparseFile(dir, "resources", resources.length * MiB) };
  const host1 = await startDaemon(t, { kind: "sanlock-ts", label: `${ls} host 1`, dir, ...options.host1 });
  const host2 = await startDaemon(t, { kind: "sanlock-ts", label: `${ls} host 2`, dir });
  const ioTimeout = options.ioTimeout ?? IO_TIMEOUT;
  return formCluster({ lockspace: ls, ioTimeout, host1, host2, paths1: paths, paths2: paths }, resources);
}

/** Seconds from host 1's last renewal on disk to `at`. */
function since(last: bigint, at: number): number {
  return at - Number(last);
}

async function killHard(t: Test): Promise<void> {
  const c = await fileCluster(t, "FAILKILL", ["vm1"]);
  const holder1 = startLeaseHolder(t, c.host1, { label: "holder on host 1", ...lease(c, 1, "vm1") });
  await holder1.waitFor("acquired", 20_000);
  t.equal((await readResourceLeader(c.paths1.resources)).ownerId, 1, "the resource leader names host 1 as owner");

  const refused = startLeaseHolder(t, c.host2, { label: "contender on host 2", ...lease(c, 2, "vm1") });
  await refused.waitFor("gave-up", 30_000);
  t.notOk(
    refused.events.some((e) => e.event === "acquired"),
    "host 2's client is refused while host 1 is alive",
  );
  const refusal = refused.events.find((e) => e.event === "refused");
  t.equal(refusal?.errno, SANLK_ACQUIRE_IDLIVE, `refused with SANLK_ACQUIRE_IDLIVE: ${refusal?.message}`);

  // Let host 2 see host 1 renew at least once more, then take host 1 down hard.
  await sleep(3000);
  await Promise.all([c.host1.kill9(), holder1.kill9()]);
  const last = (await readDeltaRecord(c.paths1.lockspace, 1)).leader.timestamp;
  t.ok(last > 0n, "host 1 still owns its host_id on disk (no delta release after kill -9)");

  const taker = startLeaseHolder(t, c.host2, { label: "taker on host 2", ...lease(c, 2, "vm1"), retrySeconds: HOST_DEAD + 30 });
  const acquired = await taker.waitFor("acquired", (HOST_DEAD + 40) * 1000);
  t.equal((await readDeltaRecord(c.paths1.lockspace, 1)).leader.timestamp, last, "host 1's delta record never changed after the kill");
  const waited = since(last, acquired.at);
  t.ok(waited >= HOST_DEAD, `host 2 acquired ${waited.toFixed(1)} s after host 1's last renewal, not before host_dead_seconds (${HOST_DEAD} s)`);
  t.ok(waited <= HOST_DEAD + TAKEOVER_SLACK_SECONDS, `and not much later (at most ${HOST_DEAD + TAKEOVER_SLACK_SECONDS} s)`);
  t.equal((await readResourceLeader(c.paths1.resources)).ownerId, 2, "the resource leader now names host 2");
  t.ok(c.host2.running, "host 2's daemon is still running");
}

async function stopBeyondLease(t: Test): Promise<void> {
  // io_timeout 2, not 1: with 8N <= 10 wdmd's "close early" point (expire - 10) is already past
  // right after each renewal (§7.5.4), so a watchdog would fire 60 s after any join whatever
  // the host does, and this test could not tell a frozen host from a healthy one.
  const ioTimeout = 2;
  const hostDead = hostDeadSeconds(ioTimeout);
  const c = await fileCluster(t, "FAILSTOP", ["vm1"], { ioTimeout, host1: RESET_MODEL });
  t.teardown(() => c.host1.resume());
  // Host 3, with the same watchdog model and never stopped, shows that the model leaves a healthy host alone.
  const host3 = await startDaemon(t, { kind: "sanlock-ts", label: "FAILSTOP host 3", dir: dirname(c.paths1.lockspace), ...RESET_MODEL });
  const host3Joined = new SanlockClient({ runDir: host3.runDir }).addLockspace(c.lockspace, 3, c.paths1.lockspace, { iotimeout: ioTimeout });
  const holder1 = startLeaseHolder(t, c.host1, { label: "holder on host 1", ...lease(c, 1, "vm1") });
  await Promise.all([holder1.waitFor("acquired", 20_000), host3Joined]);
  // One more renewal of host 1 seen by host 2 (renewals are 2N apart).
  await sleep((2 * ioTimeout + 1) * 1000);

  c.host1.pause();
  const stoppedAt = monotonicSeconds();
  // A write already inside the kernel when the stop came still completes; let it land.
  await sleep(1000);
  const frozen = await readDeltaRecord(c.paths1.lockspace, 1);
  const frozenDblock = await readArea(c.paths1.resources, 2 * SECTOR, SECTOR);
  const last = frozen.leader.timestamp;
  t.ok(Number(last) <= stoppedAt, "host 1's last renewal is from before the stop");

  const taker = startLeaseHolder(t, c.host2, { label: "taker on host 2", ...lease(c, 2, "vm1"), retrySeconds: hostDead + 30 });
  const acquired = await taker.waitFor("acquired", (hostDead + 40) * 1000);
  const waited = since(last, acquired.at);
  t.ok(waited >= hostDead, `host 2 acquired ${waited.toFixed(1)} s after host 1's last renewal, not before ${hostDead} s`);
  t.ok(waited <= hostDead + TAKEOVER_SLACK_SECONDS, `and not much later (at most ${hostDead + TAKEOVER_SLACK_SECONDS} s)`);
  t.ok(bytesEqual((await readDeltaRecord(c.paths1.lockspace, 1)).sector, frozen.sector), "host 1's delta record did not change while it was stopped");

  c.host1.resume();
  await sleep(AFTER_RESUME_MS);
  t.notOk(c.host1.running, "the watchdog model reset host 1: its daemon is gone after SIGCONT");
  t.notOk(holder1.running, "and so is its client");
  t.ok(bytesEqual((await readDeltaRecord(c.paths1.lockspace, 1)).sector, frozen.sector), "host 1 never wrote its delta record again");
  t.ok(bytesEqual(await readArea(c.paths1.resources, 2 * SECTOR, SECTOR), frozenDblock), "host 1 never wrote its dblock again");
  t.equal((await readResourceLeader(c.paths1.resources)).ownerId, 2, "host 2 still owns the resource");
  t.ok(taker.running && c.host2.running, "host 2's client and daemon are unaffected");
  t.ok(host3.running, "host 3, renewing all along under the same watchdog model, was not reset");
  if (c.host1.running) t.comment(`host 1 still runs after SIGCONT; its log ends: ${c.host1.log().slice(-1500)}`);
}

async function deviceFails(t: Test): Promise<void> {
  const dir = tempLeaseDir(t, "failover-io-");
  const loop = await createLoopDevice(t, { sizeBytes: 3 * MiB });
  // Host 1 bypasses the page cache of the file too, so both hosts see the same bytes.
  await run("losetup", ["--direct-io=on", loop.path]).catch(() => undefined);
  t.teardown(() => run("blockdev", ["--setrw", loop.path]).catch(() => undefined));
  const host1 = await startDaemon(t, {
    kind: "sanlock-ts",
    label: "FAILIO host 1",
    dir,
    args: [...TEST_DAEMON_ARGS, "-g", String(KILL_GRACE_SECONDS)],
  });
  const host2 = await startDaemon(t, { kind: "sanlock-ts", label: "FAILIO host 2", dir });
  const file = loop.backingFile;
  // One device for everything: the lockspace in the first MiB, resources "polite" and "stubborn" after it.
  const c = await formCluster(
    {
      lockspace: "FAILIO",
      ioTimeout: IO_TIMEOUT,
      host1,
      host2,
      paths1: { lockspace: loop.path, resources: loop.path },
      paths2: { lockspace: file, resources: file },
    },
    ["polite", "stubborn"],
    MiB,
  );
  const client1 = new SanlockClient({ runDir: host1.runDir });

  const polite = startLeaseHolder(t, host1, { label: "holder on host 1", ...lease(c, 1, "polite", MiB) });
  const stubborn = startLeaseHolder(t, host1, { label: "SIGTERM-ignoring holder on host 1", ...lease(c, 1, "stubborn", 2 * MiB), ignoreSigterm: true });
  await Promise.all([polite.waitFor("acquired", 20_000), stubborn.waitFor("acquired", 20_000)]);
  await sleep(3000);

  await run("blockdev", ["--setro", loop.path]);
  const failedFrom = monotonicSeconds();
  const taker = startLeaseHolder(t, host2, { label: "taker on host 2", ...lease(c, 2, "polite", MiB), retrySeconds: HOST_DEAD + 30 });

  const sigterm = await polite.waitFor("sigterm", (RECOVERY_AT + 15) * 1000);
  const stubbornExit = await Promise.race([stubborn.exited, sleep((RECOVERY_AT + KILL_GRACE_SECONDS + 20) * 1000).then(() => undefined)]);
  const stubbornGoneAt = monotonicSeconds();
  const last = (await readDeltaRecord(file, 1)).leader.timestamp;
  t.ok(last > 0n && Number(last) <= failedFrom + 1, `host 1's last renewal on disk (${last}) is from before the device failed (${failedFrom.toFixed(1)})`);

  t.ok(since(last, sigterm.at) >= RECOVERY_AT, `SIGTERM came ${since(last, sigterm.at).toFixed(1)} s after the last renewal, not before 8N = ${RECOVERY_AT} s`);
  t.ok(since(last, sigterm.at) <= RECOVERY_AT + SIGNAL_SLACK_SECONDS, "and promptly after it");
  t.equal(stubbornExit?.signal, "SIGKILL", "the holder that ignores SIGTERM was killed with SIGKILL");
  t.ok(
    since(last, stubbornGoneAt) >= RECOVERY_AT + KILL_GRACE_SECONDS,
    `SIGKILL came ${since(last, stubbornGoneAt).toFixed(1)} s after the last renewal, not before 8N + grace = ${RECOVERY_AT + KILL_GRACE_SECONDS} s`,
  );

  // With its holders gone, host 1 leaves the lockspace (§7.4) but keeps running.
  let left = false;
  for (let i = 0; i < 20 && !left; i++) {
    left = !(await client1.getLockspaces()).some((ls) => ls.lockspace === "FAILIO");
    if (!left) await sleep(500);
  }
  t.ok(left, "host 1 left the lockspace once no process held a lease in it");
  t.ok(host1.running, "host 1's daemon keeps running");

  const acquired = await taker.waitFor("acquired", (HOST_DEAD + 40) * 1000);
  const waited = since(last, acquired.at);
  t.ok(waited >= HOST_DEAD, `host 2 acquired ${waited.toFixed(1)} s after host 1's last renewal, not before ${HOST_DEAD} s`);
  t.ok(waited <= HOST_DEAD + TAKEOVER_SLACK_SECONDS, `and not much later (at most ${HOST_DEAD + TAKEOVER_SLACK_SECONDS} s)`);
  t.equal((await readDeltaRecord(file, 1)).leader.timestamp, last, "host 1's delta record is unchanged (no write got through)");
}

// The scenarios are independent (own files, own daemons) and each waits ~70 s: run them together.
t.jobs = 3;
const skip = daemonSkipReason(["sanlock-ts"]);
t.test("kill -9 of the holder's daemon and client: the other host takes over after host_dead_seconds", { skip, timeout: 150_000 }, killHard);
t.test("SIGSTOP of the holder's daemon beyond its lease: host 2 takes over, host 1 never writes again", { skip, timeout: 170_000 }, stopBeyondLease);
t.test("host 1's device fails: kill sequence on host 1, then host 2 takes over", { skip: skip || loopDeviceSkipReason(), timeout: 150_000 }, deviceFails);
