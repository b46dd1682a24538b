/**
 * Spec scenario 15 (docs/sam.md §4.3): a hung lease holder's lease is free for another host within
 * about two intervals, not after the ~70-s host-death path. Host 1 (sanlock-ts daemon) runs a SAM
 * API worker (QUIT, interval 1000 ms, a warn handler its blocked event loop never runs) holding RES
 * exclusively; it hangs after its last heartbeat. Host 2 (Debian's sanlock) tries to acquire RES
 * every 200 ms. Host 2 succeeds not before the SIGKILL two intervals after the last heartbeat, and
 * long before host_dead_seconds; by then the worker is reaped and host 1 lists no RES; the leader
 * names host 2 alone.
 */
import t from "tap";
import { SanlockClient } from "../packages/client/src/index.js";
import { daemonSkipReason, processAlive, runSamScript, sleep, sparseFile, startDaemon, tempLeaseDir } from "./support/index.js";

const MiB = 1 << 20;
const LS = "SAMTAKE";
const RES = "work";
const INTERVAL_MS = 1000;
/** Far below host_dead_seconds (68 s at io_timeout 1): the takeover must not be the host-death path. */
const TAKEOVER_LIMIT_MS = 15_000;
const now = (): number => Number(process.hrtime.bigint() / 1_000_000n); // CLOCK_MONOTONIC, as the script's `t`

t.test("a hung holder's lease is taken by the other host within about two intervals", { skip: daemonSkipReason(["sanlock-ts", "sanlock"]) }, async (t) => {
  const dir = tempLeaseDir(t, "sam-takeover-");
  const lease = sparseFile(dir, "leases", 2 * MiB);
  const [host1, host2] = await Promise.all([
    startDaemon(t, { kind: "sanlock-ts", label: "host 1 (sanlock-ts)", dir }),
    startDaemon(t, { kind: "sanlock", label: "host 2 (sanlock)", dir }),
  ]);
  const c1 = new SanlockClient({ runDir: host1.runDir, timeoutMs: 60_000 });
  const c2 = new SanlockClient({ runDir: host2.runDir, timeoutMs: 60_000 });
  await c1.writeLockspace(LS, lease, { iotimeout: 1 });
  await c1.writeResource(LS, RES, [{ path: lease, offset: MiB }]);
  await Promise.all([c1.addLockspace(LS, 1, lease, { iotimeout: 1 }), c2.addLockspace(LS, 2, lease, { iotimeout: 1 })]);
  const disks = [{ path: lease, offset: MiB }];

  const body = `
await w.acquire(process.env.T_LS, process.env.T_RES, [{ path: process.env.T_LEASE, offset: ${MiB} }]);
await w.start();
for (let i = 0; i < 5; i++) { w.heartbeat(); await sleep(200); }
w.onWarn(() => say({ handler: true }));
w.heartbeat();
say({ lastHb: true });
block(60000);`;
  const run = runSamScript(
    t,
    body,
    { intervalMs: INTERVAL_MS, policy: "quit", sanlock: { runDir: host1.runDir }, status: false },
    { T_LS: LS, T_RES: RES, T_LEASE: lease },
  );
  const lastHb = await run.waitFor("the last heartbeat", (l) => l.lastHb === true, 30_000);

  // Host 2 tries all along, on one registered connection.
  const registration = await c2.register();
  t.teardown(() => registration.close());
  let acquiredAt: number | undefined;
  let refusals = 0;
  while (acquiredAt === undefined && now() - lastHb.t < 60_000) {
    try {
      await c2.acquire(LS, RES, disks, { registration });
      acquiredAt = now();
    } catch {
      refusals++;
      await sleep(200);
    }
  }
  t.ok(acquiredAt !== undefined, "host 2 acquired RES");
  const waited = (acquiredAt ?? 0) - lastHb.t;
  t.ok(refusals > 0, `refused while host 1's worker held it (${refusals} times)`);
  t.ok(waited >= 2 * INTERVAL_MS - 100, `not before the SIGKILL two intervals after the last heartbeat (${waited} ms)`);
  t.ok(waited < TAKEOVER_LIMIT_MS, `long before the host-death path (${waited} ms)`);
  t.notOk(processAlive(lastHb.pid), "the worker is gone by then");
  t.same(
    (await c1.status()).resources.filter((r) => r.resource === RES),
    [],
    "host 1 lists no RES",
  );
  const owners = await c2.readResourceOwners(LS, RES, disks);
  t.same(
    owners.map((o) => o.hostId),
    [2n],
    "the leader names host 2 alone",
  );
  t.match(run.events("killed")[0]?.ev, { instanceId: 1, signal: "SIGKILL", reason: "health" }, "the supervisor's SIGKILL");
  t.equal(
    run.lines.find((l) => l.handler === true),
    undefined,
    "the blocked worker never ran its warn handler",
  );
  t.same(await run.exited, { code: 137, signal: null }, "QUIT: 128 + SIGKILL");
});
