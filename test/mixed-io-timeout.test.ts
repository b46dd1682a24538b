/**
 * Hosts with different io_timeouts in one lockspace: a resource owner whose daemon died is
 * dead only host_dead_seconds of the OWNER's io_timeout (8·3 + 60 = 84 s) after its last
 * renewal, however short the io_timeout of the host that takes the lease over (algorithms.md
 * §4.4 step 6: the owner's watchdog, paced by its own io_timeout, must have fired first).
 * A taker that waited by its own io_timeout 1 (8·1 + 60 = 68 s) could hold the lease while
 * the owner's processes still run. Two cases, at the same time, each on its own files:
 * 1. A real sanlock 3.8.5 host (io_timeout 3) holds an exclusive resource; its daemon is
 *    killed with SIGKILL, its client process lives on (-w 0: no watchdog ends it). Only then
 *    a sanlock-ts host (io_timeout 1) joins and acquires at once, before its first renewal
 *    has seen the owner (no liveness snapshot yet: the wait must come from the owner's delta
 *    record). It must not get the lease before 84 s after the owner's last renewal.
 * 2. The reverse: a sanlock-ts owner (io_timeout 3) is killed; a real sanlock host
 *    (io_timeout 1) joins and acquires once its first renewal has seen the owner (get_hosts
 *    answers). Real sanlock 3.8.5 falls back to its own io_timeout while its host_status has
 *    none for the owner (lockspace.c host_info); waiting for get_hosts keeps the test out of
 *    that window, which is sanlock's own behaviour and not what this test is about.
 * Times are CLOCK_MONOTONIC seconds, the clock of delta-record timestamps (ondisk.md §4).
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
  type TestDaemon,
} from "./support/index.js";

const LS = "IOMIX";
const OWNER_IO = 3;
const TAKER_IO = 1;
/** 84 s: the owner's host_dead_seconds. */
const HOST_DEAD = hostDeadSeconds(OWNER_IO);
/** Join, the taker's renewal interval and 1-s owner polls, retries, load. */
const TAKEOVER_SLACK_SECONDS = 15;
const MiB = 1 << 20;
const POLL_MS = 100;
const EAGAIN = 11;

interface Side {
  readonly kind: DaemonKind;
  readonly hostId: number;
}

interface Scenario {
  readonly owner: Side;
  readonly taker: Side;
  /** Acquire only once get_hosts shows that the taker's first renewal has seen the owner. */
  readonly afterFirstRenewal: boolean;
}

interface Files {
  readonly dir: string;
  readonly lockspace: string;
  readonly lease: { lockspace: string; resource: string; disks: { path: string; offset: number }[] };
}

function leaseFiles(t: Test): Files {
  const dir = tempLeaseDir(t, "mixed-io-");
  const lockspace = sparseFile(dir, "lockspace", MiB);
  const resources = sparseFile(dir, "resources", MiB);
  return { dir, lockspace, lease: { lockspace: LS, resource: "vm1", disks: [{ path: resources, offset: 0 }] } };
}

function label(side: Side): string {
  return `host ${side.hostId} (${side.kind})`;
}

/**
 * Waits for the owner's next renewal, kills its daemon right after it and returns the last
 * renewal time: the later of the record's timestamp and when this poll saw it (or the kill,
 * if a renewal slipped in between the last poll and the kill).
 */
async function killAfterRenewal(t: Test, daemon: TestDaemon, files: Files, hostId: number): Promise<number> {
  const first = (await readDeltaRecord(files.lockspace, hostId)).leader.timestamp;
  let seen = first;
  while (seen === first) {
    await sleep(POLL_MS);
    seen = (await readDeltaRecord(files.lockspace, hostId)).leader.timestamp;
  }
  const seenAt = monotonicSeconds();
  await daemon.kill9();
  const killedAt = monotonicSeconds();
  const last = (await readDeltaRecord(files.lockspace, hostId)).leader.timestamp;
  t.ok(Number(last) <= killedAt, `the owner's last renewal (${last}) is from before the kill (${killedAt.toFixed(1)})`);
  return Math.max(Number(last), last === seen ? seenAt : killedAt);
}

/** get_hosts fails with EAGAIN until the first renewal after the join has read the other hosts. */
async function waitUntilSeen(client: SanlockClient, hostId: number): Promise<void> {
  const deadline = monotonicSeconds() + 30;
  for (;;) {
    const hosts = await client.getHosts(LS).catch((err: { errno?: number }) => {
      if (err.errno !== EAGAIN && err.errno !== -EAGAIN) throw err;
      return [];
    });
    if (hosts.some((h) => Number(h.hostId) === hostId)) return;
    if (monotonicSeconds() > deadline) throw new Error(`get_hosts did not list host ${hostId} within 30 s`);
    await sleep(POLL_MS);
  }
}

async function ownerTakenOver(t: Test, s: Scenario): Promise<void> {
  const files = leaseFiles(t);
  const ownerDaemon = await startDaemon(t, { kind: s.owner.kind, label: label(s.owner), dir: files.dir });
  const takerDaemon = await startDaemon(t, { kind: s.taker.kind, label: label(s.taker), dir: files.dir });
  const ownerClient = new SanlockClient({ runDir: ownerDaemon.runDir });
  const takerClient = new SanlockClient({ runDir: takerDaemon.runDir });

  // Formatted with the taker's io_timeout: a join into a fresh record waits 2·(its io_timeout).
  await ownerClient.writeLockspace(LS, files.lockspace, { iotimeout: TAKER_IO });
  await ownerClient.writeResource(LS, files.lease.resource, files.lease.disks);
  await ownerClient.addLockspace(LS, s.owner.hostId, files.lockspace, { iotimeout: OWNER_IO });
  const holder = startLeaseHolder(t, ownerDaemon, { label: `holder on ${label(s.owner)}`, ...files.lease });
  await holder.waitFor("acquired", 30_000);
  t.equal((await readDeltaRecord(files.lockspace, s.owner.hostId)).leader.ioTimeout, OWNER_IO, `the owner's delta record carries io_timeout ${OWNER_IO}`);

  const lastRenewal = await killAfterRenewal(t, ownerDaemon, files, s.owner.hostId);
  const lastTimestamp = (await readDeltaRecord(files.lockspace, s.owner.hostId)).leader.timestamp;
  t.ok(holder.running, "the owner's client process lives on after its daemon's kill -9");

  await takerClient.addLockspace(LS, s.taker.hostId, files.lockspace, { iotimeout: TAKER_IO });
  t.comment(`${label(s.taker)} joined ${(monotonicSeconds() - lastRenewal).toFixed(1)} s after the owner's last renewal`);
  if (s.afterFirstRenewal) await waitUntilSeen(takerClient, s.owner.hostId);
  const taker = startLeaseHolder(t, takerDaemon, { label: `taker on ${label(s.taker)}`, ...files.lease, retrySeconds: HOST_DEAD + 30 });
  const acquired = await taker.waitFor("acquired", (HOST_DEAD + 45) * 1000);

  const waited = acquired.at - lastRenewal;
  t.comment(`${label(s.taker)} (io_timeout ${TAKER_IO}) acquired ${waited.toFixed(1)} s after the last renewal of ${label(s.owner)} (io_timeout ${OWNER_IO})`);
  t.ok(waited >= HOST_DEAD, `not before the owner's host_dead_seconds (${waited.toFixed(1)} >= ${HOST_DEAD} s)`);
  t.ok(waited <= HOST_DEAD + TAKEOVER_SLACK_SECONDS, `and not much later (${waited.toFixed(1)} <= ${HOST_DEAD + TAKEOVER_SLACK_SECONDS} s)`);
  t.equal((await readDeltaRecord(files.lockspace, s.owner.hostId)).leader.timestamp, lastTimestamp, "the owner never renewed after the kill");
  t.equal((await readResourceLeader(files.lease.disks[0]!.path)).ownerId, s.taker.hostId, "the resource leader names the taker");
}

t.jobs = 2;

t.test(
  "real sanlock owner (io_timeout 3) dies; sanlock-ts (io_timeout 1) acquires right after its join",
  {
    skip: daemonSkipReason(["sanlock-ts", "sanlock"]),
    timeout: 200_000,
  },
  (t) =>
    ownerTakenOver(t, {
      owner: { kind: "sanlock", hostId: 2 },
      taker: { kind: "sanlock-ts", hostId: 1 },
      afterFirstRenewal: false,
    }),
);

t.test(
  "sanlock-ts owner (io_timeout 3) dies; real sanlock (io_timeout 1) acquires after its first renewal",
  {
    skip: daemonSkipReason(["sanlock-ts", "sanlock"]),
    timeout: 200_000,
  },
  (t) =>
    ownerTakenOver(t, {
      owner: { kind: "sanlock-ts", hostId: 1 },
      taker: { kind: "sanlock", hostId: 2 },
      afterFirstRenewal: true,
    }),
);
