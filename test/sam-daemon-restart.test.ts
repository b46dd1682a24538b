/**
 * SAM API scenarios with a sanlock-ts daemon (docs/sam.md §6, §7, §8.1) that
 * test/sam-supervise.test.ts leaves out:
 *
 * 1. Daemon gone, restart policy with quorum (spec scenario 19): instance 1, registered, dies with
 *    the daemon; instance 2 waits for quorum ("waiting for quorum") until a daemon runs again on
 *    the same run dir and the lockspace is joined, and gets the data instance 1 stored.
 * 2. mark_failed with continuity hold (spec scenario 12): the persistent lease is not left as an
 *    orphan: the supervisor releases it before it exits 137.
 * 3. Continuity hold with a state file: supervisor A is SIGKILLed, its instance dies and the
 *    daemon keeps the persistent lease as an orphan; supervisor B on the same state file knows
 *    the lease, and its instance adopts the orphan (same lver); B's stop request releases it.
 *
 * 2 and 3 run on sanlock-ts and on Debian's sanlock (spec scenario 24 for continuity hold: the
 * orphan flags of docs/sam.md §7 against the real daemon).
 */
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SanlockClient } from "../packages/client/src/index.js";
import {
  type DaemonKind,
  daemonSkipReason,
  OUR_CLI,
  runSamScript,
  sleep,
  sparseFile,
  startDaemon,
  TEST_DAEMON_ARGS,
  tempLeaseDir,
  type TestDaemon,
  until,
} from "./support/index.js";

const MiB = 1 << 20;
const LS = "SAMRST";
const WAIT_MS = 30_000;

/** A second sanlock-ts daemon on `first`'s run dir (startDaemon always makes a new one); killed in teardown. */
async function restartOn(t: { teardown(fn: () => unknown): void }, first: TestDaemon): Promise<void> {
  const child = spawn(process.execPath, [OUR_CLI, "daemon", ...TEST_DAEMON_ARGS], { env: first.env, stdio: "ignore" });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const client = new SanlockClient({ runDir: first.runDir, timeoutMs: 2000 });
  await until("the restarted daemon", async () => ((await client.status().catch(() => undefined)) === undefined ? undefined : true));
}

/** The STATUS resource records of `resource`, [] when none (neither held nor orphaned). */
async function recordsOf(client: SanlockClient, resource: string): Promise<{ pid: number; version: bigint; list: string }[]> {
  return (await client.status()).resources.filter((r) => r.lockspace === LS && r.resource === resource);
}

t.test(
  "daemon SIGKILLed under a registered instance: instance 2 waits for quorum until a daemon runs again, with the stored data",
  { skip: daemonSkipReason("sanlock-ts") },
  async (t) => {
    const dir = tempLeaseDir(t, "sam-restart-");
    const lease = sparseFile(dir, "leases", 4 * MiB);
    const daemon = await startDaemon(t, { kind: "sanlock-ts", dir });
    const first = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 60_000 });
    await first.writeLockspace(LS, lease, { iotimeout: 1 });
    await first.addLockspace(LS, 1, lease, { iotimeout: 1 });
    const statusDir = join(dir, "sam");

    // 1. Instance 1 stores, registers and starts; the daemon is SIGKILLed under it.
    const body1 = `
if (w.instanceId === 1) {
  await w.store(bytes("abc"));
  await w.openRegistration();
  await w.start();
  setInterval(() => w.heartbeat(), 200);
  say({ registered: true });
} else {
  say({ starting: w.instanceId });
  await w.start();
  say({ started: w.instanceId, data: text(w.data) });
  await w.finalize();
  process.exit(0);
}`;
    const gone = runSamScript(t, body1, {
      intervalMs: 2000,
      policy: "restart",
      restartDelayMs: 200,
      quorum: [{ lockspace: LS }],
      sanlock: { runDir: daemon.runDir },
      status: { dir: statusDir },
    });
    await gone.waitFor("instance 1 registered", (l) => l.registered === true, WAIT_MS);
    await daemon.kill9();
    await gone.waitFor("instance 2 waiting", (l) => l.ev?.type === "waiting" && l.ev.instanceId === 2, WAIT_MS);
    // Two killers may race (docs/sam.md §6): the instance's own SIGKILL on its registration's EOF,
    // or the supervisor's warning (SIGTERM) on the lost quorum. Either way it died of a signal.
    t.match(gone.events("exited")[0]?.ev, { instanceId: 1, signal: /^SIG(KILL|TERM)$/ }, "instance 1 died with its daemon");
    const statusFile = join(statusDir, `${gone.pid}.json`);
    await until("state waiting for quorum", () => (JSON.parse(readFileSync(statusFile, "utf8")).state === "waiting for quorum" ? true : undefined));
    await sleep(1500);
    t.equal(gone.events("started").filter((l) => l.ev?.instanceId === 2).length, 0, "instance 2 does not start while no daemon answers");

    // A daemon again on the same run dir; quorum returns once the lockspace is joined (as host 2: a
    // new daemon is a new host name, and host id 1 would wait for its own previous incarnation).
    await restartOn(t, daemon);
    await sleep(1500);
    t.equal(gone.events("started").filter((l) => l.ev?.instanceId === 2).length, 0, "nor while the lockspace is not joined");
    const client = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 60_000 });
    await client.addLockspace(LS, 2, lease, { iotimeout: 1 });
    const started = await gone.waitFor("instance 2 started", (l) => l.started === 2, WAIT_MS);
    t.equal(started.data, "abc", "instance 2 has the data instance 1 stored");
    t.same(await gone.exited, { code: 0, signal: null });
  },
);

/** Parts 2 and 3 on a daemon of `kind` with LS joined as host 1 on `lease` ("failed" at 1 MiB, "kept" at 2 MiB). */
async function holdScenarios(t: Test, kind: DaemonKind): Promise<void> {
  const dir = tempLeaseDir(t, `sam-hold-${kind}-`);
  const lease = sparseFile(dir, "leases", 3 * MiB);
  const daemon = await startDaemon(t, { kind, dir });
  const client = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 60_000 });
  await client.writeLockspace(LS, lease, { iotimeout: 1 });
  await client.writeResource(LS, "failed", [{ path: lease, offset: MiB }]);
  await client.writeResource(LS, "kept", [{ path: lease, offset: 2 * MiB }]);
  await client.addLockspace(LS, 1, lease, { iotimeout: 1 });

  // 2. hold + mark_failed: SIGKILL, no restart, and the persistent lease is released, not orphaned.
  const body2 = `
await w.acquire(process.env.R_LS, "failed", [{ path: process.env.R_LEASE, offset: ${MiB} }]);
await w.start();
w.heartbeat();
say({ holding: true });
await new Promise((r) => setTimeout(r, 500));
await w.markFailed();`;
  const failed = runSamScript(
    t,
    body2,
    { intervalMs: 5000, policy: "restart", continuity: "hold", sanlock: { runDir: daemon.runDir }, status: false },
    { R_LS: LS, R_LEASE: lease },
  );
  const holding = await failed.waitFor("holding", (l) => l.holding === true, WAIT_MS);
  t.match(await recordsOf(client, "failed"), [{ pid: holding.pid }], "the instance holds the lease");
  t.same(await failed.exited, { code: 137, signal: null }, "mark_failed: SIGKILL, exit 137");
  t.equal(failed.events("spawned").length, 1, "no restart");
  const left = await until("the released lease gone from STATUS", async () => ((await recordsOf(client, "failed")).length === 0 ? [] : undefined)).catch(() =>
    recordsOf(client, "failed"),
  );
  t.same(left, [], "no orphan left: the supervisor released it");

  // 3. hold across supervisors through a state file.
  const stateFile = join(dir, "hold-state.json");
  const body3 = `
await w.acquire(process.env.R_LS, "kept", [{ path: process.env.R_LEASE, offset: ${2 * MiB} }]);
await w.start();
setInterval(() => w.heartbeat(), 200);
say({ kept: w.previousLeases.map((p) => String(p.version)) });`;
  const options = { intervalMs: 2000, policy: "restart", continuity: "hold", stateFile, sanlock: { runDir: daemon.runDir }, status: false };
  const env = { R_LS: LS, R_LEASE: lease };
  const a = runSamScript(t, body3, options, env);
  const aHolds = await a.waitFor("A's instance holding", (l) => l.kept !== undefined, WAIT_MS);
  t.same(aHolds.kept, [], "A's instance 1: no previous lease");
  const [heldByA] = await recordsOf(client, "kept");
  t.equal(heldByA?.pid, aHolds.pid, "A's instance holds it");
  await until("the state file with the lease", () => (JSON.parse(readFileSync(stateFile, "utf8")).leases.includes(":kept:") ? true : undefined));
  process.kill(a.pid, "SIGKILL");
  await a.exited;
  await until("A's instance gone", () => (existsSync(`/proc/${aHolds.pid}`) ? undefined : true));
  const orphan = await until("the orphan", async () => {
    const [r] = await recordsOf(client, "kept");
    return r?.list === "orphan" ? r : undefined;
  });
  t.equal(orphan.version, heldByA?.version, "the daemon keeps the persistent lease as an orphan (list=orphan)");

  const b = runSamScript(t, body3, options, env);
  const bHolds = await b.waitFor("B's instance holding", (l) => l.kept !== undefined, WAIT_MS);
  t.same(bHolds.kept, [String(heldByA?.version)], "B's instance 1 knows A's lease from the state file");
  const [heldByB] = await recordsOf(client, "kept");
  t.match(heldByB, { pid: bHolds.pid, list: "held" }, "B's instance adopted the orphan");
  t.equal(heldByB?.version, heldByA?.version, "same lver: adopted, not acquired again");
  process.kill(b.pid, "SIGTERM");
  t.equal((await b.exited).code, 143, "stop request: the instance's SIGTERM status");
  t.same(
    await until("the lease released", async () => ((await recordsOf(client, "kept")).length === 0 ? [] : undefined)),
    [],
    "B released the orphan on its stop request",
  );
}

for (const kind of ["sanlock-ts", "sanlock"] as const) {
  t.test(
    `continuity hold on ${kind}: mark_failed leaves no orphan; a state file lets a new supervisor adopt the orphan`,
    { skip: daemonSkipReason(kind) },
    (t) => holdScenarios(t, kind),
  );
}
