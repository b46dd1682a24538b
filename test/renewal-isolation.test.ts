/**
 * One renewal worker serves every lockspace of a sanlock-ts daemon, and a stalled device still
 * fails only its own lockspace (algorithms.md §1.3, §2.3, §2.4): the daemon (a process started
 * as `sanlock-ts daemon`, io_timeout N = 1) joins four lockspaces on plain files and one on a
 * FUSE file (test/support/stall-fs) whose I/O hangs in the kernel once the test says so. After
 * the stall, each of the four keeps renewing on time — no failed attempt, no gap above 2N + 2 s
 * in its RENEWAL history (wire.md §7.30), a fresh record on disk — while the stalled one stops
 * and, having no holders, leaves at 8N. The daemon runs with its 128-thread libuv pool, so the
 * I/Os stuck on the stalled device (at most 4) leave threads for the others.
 */
import t from "tap";
import { readdirSync } from "node:fs";
import { SanlockClient } from "../packages/client/src/index.js";
import { idRenewalFailSeconds, idRenewalSeconds } from "../packages/core/src/index.js";
import {
  daemonSkipReason,
  monotonicSeconds,
  mountStallFs,
  readDeltaRecord,
  renewalHistory,
  sleep,
  sparseFile,
  stallFsSkipReason,
  startDaemon,
  tempLeaseDir,
} from "./support/index.js";

const IO_TIMEOUT = 1;
const MiB = 1 << 20;
const RENEW_EVERY = idRenewalSeconds(IO_TIMEOUT);
const RECOVERY_AT = idRenewalFailSeconds(IO_TIMEOUT);
/** See renewal-lateness.test.ts: 2N + 0.5..1.5 s on time, plus one second of timer slack. */
const MAX_GAP_SECONDS = RENEW_EVERY + 2;
const WATCH_AFTER_STALL_SECONDS = RECOVERY_AT + 6;
const HEALTHY = ["HA", "HB", "HC", "HD"];
const PROBE_TIMEOUT_MS = 10_000;
const MAX_STALL_SECONDS = 90;
/** Threads the daemon asks libuv for (packages/daemon/src/device/threadpool.ts). */
const DAEMON_THREADPOOL_SIZE = 128;

const skip = daemonSkipReason(["sanlock-ts"]) || stallFsSkipReason();

t.test("four lockspaces keep renewing in the shared worker while a fifth one's device hangs", { skip, timeout: 90_000 }, async (t) => {
  const dir = tempLeaseDir(t, "renewal-isolation-");
  const files = new Map(HEALTHY.map((name) => [name, sparseFile(dir, `${name}-ls`, MiB)]));
  const stallFs = await mountStallFs(t, { files: { "stalled-ls": MiB }, maxStallSeconds: MAX_STALL_SECONDS });
  const daemon = await startDaemon(t, { kind: "sanlock-ts", label: "daemon", dir });
  t.teardown(() => stallFs.unstall()); // before the daemon's kill: a process in a FUSE request cannot die
  const threads = readdirSync(`/proc/${daemon.pid}/task`).length;
  t.ok(threads > DAEMON_THREADPOOL_SIZE, `the daemon runs ${threads} threads (its libuv pool has ${DAEMON_THREADPOOL_SIZE})`);

  const client = new SanlockClient({ runDir: daemon.runDir });
  const stalledPath = stallFs.path("stalled-ls");
  for (const [name, path] of files) await client.writeLockspace(name, path, { iotimeout: IO_TIMEOUT });
  await client.writeLockspace("STALLED", stalledPath, { iotimeout: IO_TIMEOUT });
  await Promise.all([
    ...[...files].map(([name, path]) => client.addLockspace(name, 1, path, { iotimeout: IO_TIMEOUT })),
    client.addLockspace("STALLED", 1, stalledPath, { iotimeout: IO_TIMEOUT }),
  ]);

  stallFs.stall();
  const stalledAt = monotonicSeconds();
  const lastBeforeStall = (await readDeltaRecord(stallFs.backingPath("stalled-ls"), 1)).leader.timestamp;
  await sleep(WATCH_AFTER_STALL_SECONDS * 1000);

  for (const [name, path] of files) {
    const history = await renewalHistory(daemon.runDir, name, PROBE_TIMEOUT_MS);
    t.same(
      history.filter((row) => row.nextTimeouts + row.nextErrors !== 0),
      [],
      `${name}: no renewal attempt failed or timed out`,
    );
    const renewals = history.slice(1); // history[0] is the join; its timestamp precedes its 2N wait (§2.2)
    const during = renewals.filter((row) => row.timestamp >= Math.floor(stalledAt));
    const expected = Math.floor(WATCH_AFTER_STALL_SECONDS / (RENEW_EVERY + 1.5)) - 1;
    t.ok(during.length >= expected, `${name}: ${during.length} renewals since the stall (at least ${expected})`);
    const gaps = renewals.slice(1).map((row, i) => row.timestamp - renewals[i]!.timestamp);
    t.ok(
      gaps.every((gap) => gap <= MAX_GAP_SECONDS),
      `${name}: every gap ≤ ${MAX_GAP_SECONDS} s (${gaps.join(",")})`,
    );
    const onDisk = (await readDeltaRecord(path, 1)).leader.timestamp;
    t.ok(Number(onDisk) >= monotonicSeconds() - MAX_GAP_SECONDS - 1, `${name}: its delta record on disk is fresh (${onDisk})`);
    t.equal(await client.inqLockspace(name, 1, path), true, `${name} is still joined`);
  }
  const lastOnDisk = (await readDeltaRecord(stallFs.backingPath("stalled-ls"), 1)).leader.timestamp;
  t.equal(lastOnDisk, lastBeforeStall, "STALLED's record did not advance after the stall");
  t.not(await client.inqLockspace("STALLED", 1, stalledPath), true, "STALLED is no longer joined after 8N (recovery, no holders)");
});
