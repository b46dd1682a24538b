/**
 * A mixed cluster: a sanlock-ts daemon and the real sanlock 3.8.5 daemon as hosts 1 and 2 of
 * one lockspace (io_timeout 1), on the same lease files, run twice with the roles swapped
 * (both runs at once, each on its own files):
 * - clients on both hosts contend for one exclusive resource: one owner, the other refused;
 * - both take a shared resource together; an exclusive acquire of it is refused while the
 *   other host holds it shared;
 * - host 1's daemon and its clients are killed with SIGKILL; host 2's client takes the
 *   exclusive lease no earlier than host_dead_seconds (8·1 + 60 = 68 s) after host 1's last
 *   renewal on disk and not much later; the two exclusive holds never overlap; the same for
 *   an exclusive acquire of the lease host 1 held shared.
 * The real sanlock runs with -w 0 (no watchdog) and still waits host_dead_seconds
 * (algorithms.md §4.4: the wait is the other hosts' rule, not the watchdog's).
 */
import t, { type Test } from "tap";
import { SanlockClient } from "../packages/client/src/index.js";
import { hostDeadSeconds } from "../packages/core/src/index.js";
import {
  type DaemonKind,
  daemonSkipReason,
  monotonicSeconds,
  readDeltaRecord,
  readResourceLeader,
  sleep,
  sparseFile,
  startDaemon,
  startLeaseHolder,
  tempLeaseDir,
} from "./support/index.js";

const LS = "MIXED";
const IO_TIMEOUT = 1;
const MiB = 1 << 20;
const TAKEOVER_SLACK_SECONDS = 12;
/** "Lease is held by another host" (algorithms.md §4.4 step 5, §11). */
const SANLK_ACQUIRE_IDLIVE = -243;
const EAGAIN = 11;
const HOST_DEAD = hostDeadSeconds(IO_TIMEOUT);

async function mixedCluster(t: Test, kind1: DaemonKind, kind2: DaemonKind): Promise<void> {
  const dir = tempLeaseDir(t, "mixed-cluster-");
  const lsPath = sparseFile(dir, "lockspace", MiB);
  const resPath = sparseFile(dir, "resources", 2 * MiB);
  const exclusive = { lockspace: LS, resource: "EX", disks: [{ path: resPath, offset: 0 }] };
  const shared = { lockspace: LS, resource: "SH", disks: [{ path: resPath, offset: MiB }] };
  const host1 = await startDaemon(t, { kind: kind1, label: `host 1 (${kind1})`, dir });
  const host2 = await startDaemon(t, { kind: kind2, label: `host 2 (${kind2})`, dir });
  const client1 = new SanlockClient({ runDir: host1.runDir });
  const client2 = new SanlockClient({ runDir: host2.runDir });

  await client1.writeLockspace(LS, lsPath, { iotimeout: IO_TIMEOUT });
  await client1.writeResource(LS, "EX", exclusive.disks);
  await client2.writeResource(LS, "SH", shared.disks);
  await Promise.all([client1.addLockspace(LS, 1, lsPath, { iotimeout: IO_TIMEOUT }), client2.addLockspace(LS, 2, lsPath, { iotimeout: IO_TIMEOUT })]);

  // Exclusive: host 1 first, host 2 refused.
  const ex1 = startLeaseHolder(t, host1, { label: "EX holder on host 1", ...exclusive });
  await ex1.waitFor("acquired", 20_000);
  const ex2 = startLeaseHolder(t, host2, { label: "EX contender on host 2", ...exclusive });
  await ex2.waitFor("gave-up", 30_000);
  t.notOk(
    ex2.events.some((e) => e.event === "acquired"),
    "host 2 is refused the exclusive lease host 1 holds",
  );
  t.equal(ex2.events.find((e) => e.event === "refused")?.errno, SANLK_ACQUIRE_IDLIVE, "with SANLK_ACQUIRE_IDLIVE");
  t.equal((await readResourceLeader(resPath, 0)).ownerId, 1, "the EX leader names host 1");

  // Shared: both hosts together; an exclusive acquire is refused.
  const sh1 = startLeaseHolder(t, host1, { label: "SH holder on host 1", ...shared, shared: true });
  await sh1.waitFor("acquired", 20_000);
  const sh2 = startLeaseHolder(t, host2, { label: "SH holder on host 2", ...shared, shared: true });
  await sh2.waitFor("acquired", 30_000);
  const owners = await client2.readResourceOwners(LS, "SH", shared.disks);
  t.same(owners.map((o) => Number(o.hostId)).sort(), [1, 2], "both hosts own the shared lease");
  sh2.release();
  await sh2.waitFor("released", 10_000);
  // With no local holder on host 2 (that would be EEXIST, §5.6), host 1's shared hold refuses it.
  const shEx = startLeaseHolder(t, host2, { label: "EX contender for SH on host 2", ...shared });
  await shEx.waitFor("gave-up", 30_000);
  t.notOk(
    shEx.events.some((e) => e.event === "acquired"),
    "an exclusive acquire of a lease another host holds shared is refused",
  );
  t.equal(shEx.events.find((e) => e.event === "refused")?.errno, EAGAIN, "with EAGAIN: a live host holds it shared (§5.4)");

  // Host 1 fails hard: daemon and its clients.
  await sleep(3000);
  await Promise.all([host1.kill9(), ex1.kill9(), sh1.kill9()]);
  const killedAt = monotonicSeconds();
  const last = await readDeltaRecord(lsPath, 1);
  t.ok(last.leader.timestamp > 0n, "host 1's host_id is still held on disk after kill -9");

  const taker = startLeaseHolder(t, host2, { label: "EX taker on host 2", ...exclusive, retrySeconds: HOST_DEAD + 30 });
  const shTaker = startLeaseHolder(t, host2, { label: "EX taker of SH on host 2", ...shared, retrySeconds: HOST_DEAD + 30 });
  const acquired = await taker.waitFor("acquired", (HOST_DEAD + 40) * 1000);
  const shAcquired = await shTaker.waitFor("acquired", (HOST_DEAD + 40) * 1000);
  const shWaited = shAcquired.at - Number(last.leader.timestamp);
  t.ok(
    shWaited >= HOST_DEAD && shWaited <= HOST_DEAD + TAKEOVER_SLACK_SECONDS,
    `host 2 took the lease host 1 held shared ${shWaited.toFixed(1)} s after host 1's last renewal (${HOST_DEAD}..${HOST_DEAD + TAKEOVER_SLACK_SECONDS} s)`,
  );
  t.ok(acquired.at > killedAt, "the exclusive holds never overlap: host 2 acquired after host 1's holder was dead");
  const waited = acquired.at - Number(last.leader.timestamp);
  t.ok(waited >= HOST_DEAD, `host 2 acquired ${waited.toFixed(1)} s after host 1's last renewal, not before ${HOST_DEAD} s`);
  t.ok(waited <= HOST_DEAD + TAKEOVER_SLACK_SECONDS, `and not much later (at most ${HOST_DEAD + TAKEOVER_SLACK_SECONDS} s)`);
  t.equal((await readDeltaRecord(lsPath, 1)).leader.timestamp, last.leader.timestamp, "host 1 never wrote its delta record again");
  t.equal((await readResourceLeader(resPath, 0)).ownerId, 2, "the EX leader names host 2");
  t.ok(host2.running, "host 2's daemon is still running");
}

t.jobs = 2;

t.test(
  "sanlock-ts host 1 fails, real sanlock host 2 takes over",
  {
    skip: daemonSkipReason(["sanlock-ts", "sanlock"]),
    timeout: 150_000,
  },
  (t) => mixedCluster(t, "sanlock-ts", "sanlock"),
);

t.test(
  "real sanlock host 1 fails, sanlock-ts host 2 takes over",
  {
    skip: daemonSkipReason(["sanlock-ts", "sanlock"]),
    timeout: 150_000,
  },
  (t) => mixedCluster(t, "sanlock", "sanlock-ts"),
);
