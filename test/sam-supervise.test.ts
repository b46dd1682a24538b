/**
 * `sanlock-ts supervise` on two hosts sharing a lease file (docs/sam.md §9, §10): host 1 runs the sanlock-ts daemon, host 2 Debian's
 * sanlock 3.8.5, both joined to one lockspace. The supervised program is a shell loop sending
 * heartbeats on fd 3; `kill -STOP` hangs it.
 *
 * 1. A program that stops sending heartbeats is warned one interval after its last heartbeat,
 *    SIGKILLed one interval later, its lease released, and instance 2 acquires it again (lver + 1).
 * 2. A standby `supervise` on host 2 (real sanlock) keeps failing its acquire while host 1 holds
 *    the lease; when host 1's program keeps hanging, host 1 gives up (restart limit) and the
 *    standby's instance takes the lease.
 * 3. SIGKILL of the standby's supervisor ends its program (PDEATHSIG); the daemon frees the lease;
 *    `supervise --list` shows the entry as stale.
 * 4. Continuity lver (API): another host took the lease between two instances → SamLeaseChangedError.
 * 5. Continuity hold (CLI): the orphan is adopted across a restart, host 2 never gets the lease;
 *    released on a stop request, or by `supervise --release-orphans` after a SIGKILLed supervisor.
 * 6. The API's QUORUM (docs/sam.md §6), started before the joins: start() waits while the
 *    lockspace is not joined (published "waiting for quorum"), an aborted start() rejects, and
 *    start() resolves once host 1 has joined; when the lockspace is removed at the end, the
 *    instance dies (killed by the supervisor or the daemon) and instance 2 waits for quorum again.
 * 7. Daemon gone (docs/sam.md §4.2 rule 4): an API instance whose daemon is SIGKILLed kills itself.
 */
import t, { type Test } from "tap";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SanlockClient } from "../packages/client/src/index.js";
import {
  collectJsonLines,
  daemonSkipReason,
  OUR_CLI,
  processAlive,
  runSamScript,
  type SamLine,
  type SamRun,
  sleep,
  sparseFile,
  startDaemon,
  tempLeaseDir,
  type TestDaemon,
  until,
} from "./support/index.js";

const MiB = 1 << 20;
const LS = "SAMLS";
const RES = "SAMRES";
const WAIT_MS = 30_000;
const PROGRAM = ["sh", "-c", "while :; do echo HB >&3; sleep 0.2; done"];

interface Event {
  readonly type: string;
  readonly instanceId?: number;
  readonly pid?: number;
  readonly at: number;
  readonly [key: string]: unknown;
}

interface Supervise {
  readonly pid: number;
  readonly events: Event[];
  readonly exited: Promise<number | null>;
  waitFor(what: string, match: (e: Event) => boolean, ms?: number): Promise<Event>;
  stderr(): string;
}

function supervise(t: Test, daemon: TestDaemon, args: string[]): Supervise {
  // Not tap's NODE_OPTIONS (as runSamScript): its preloads catch SIGTERM in the holder, and a
  // SIGTERM caught by Node just before the holder's exec is lost with it, so PROGRAM ran on until
  // the stop grace SIGKILLed it: the likely cause of one CI run without 143 here.
  const child = spawn(
    "/usr/bin/env",
    ["-u", "NODE_OPTIONS", process.execPath, OUR_CLI, "supervise", "--json", "--status-dir", `${daemon.runDir}/sam`, ...args, "--", ...PROGRAM],
    {
      env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const output = collectJsonLines<Event>(child.stderr);
  const events = output.items;
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const e of events) if (e.type === "spawned" && e.pid !== undefined) killGroup(e.pid);
  });
  if (child.pid === undefined) throw new Error("supervise did not start");
  const waitFor = async (what: string, match: (e: Event) => boolean, ms = WAIT_MS): Promise<Event> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = events.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${output.text().slice(-3000)}`);
      await sleep(50);
    }
  };
  return { pid: child.pid, events, exited, waitFor, stderr: output.text };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** The pid holding RES on `daemon`, or undefined. */
async function holderOf(daemon: TestDaemon): Promise<number | undefined> {
  const st = await new SanlockClient({ runDir: daemon.runDir, timeoutMs: 10_000 }).status();
  return st.resources.find((r) => r.lockspace === LS && r.resource === RES)?.pid;
}

t.test(
  "supervise: hang → kill → lease released → restart; standby on the other host; supervisor killed",
  { skip: daemonSkipReason(["sanlock-ts", "sanlock"]) },
  async (t) => {
    const dir = tempLeaseDir(t, "sam-supervise-");
    const lease = sparseFile(dir, "leases", 5 * MiB);
    const [host1, host2] = await Promise.all([
      startDaemon(t, { kind: "sanlock-ts", label: "host 1 (sanlock-ts)", dir }),
      startDaemon(t, { kind: "sanlock", label: "host 2 (sanlock)", dir }),
    ]);
    const quorum = startQuorumScript(t, host1, lease);
    const daemonGone = daemonGoneScenario(t, dir);
    const c1 = new SanlockClient({ runDir: host1.runDir, timeoutMs: 60_000 });
    const c2 = new SanlockClient({ runDir: host2.runDir, timeoutMs: 60_000 });
    await c1.writeLockspace(LS, lease, { iotimeout: 1 });
    await c1.writeResource(LS, RES, [{ path: lease, offset: MiB }]);
    await c1.writeResource(LS, QRES, [{ path: lease, offset: 2 * MiB }]);
    await quorum.run.waitFor("the aborted start", (l) => l.aborted !== undefined);
    t.equal(quorum.run.lines.find((l) => l.aborted !== undefined)?.aborted, "ERR_SAM_ABORTED", "start({ signal }) aborted while waiting for quorum");
    await until("state waiting for quorum", async () => (quorum.state() === "waiting for quorum" ? true : undefined));
    t.equal(quorum.run.events("started").length, 0, "start() pending while the lockspace is not joined");
    await Promise.all([c1.addLockspace(LS, 1, lease, { iotimeout: 1 }), c2.addLockspace(LS, 2, lease, { iotimeout: 1 })]);
    await c1.writeResource(LS, LRES, [{ path: lease, offset: 3 * MiB }]);
    const lver = lverScenario(t, host1, c2, lease, dir);
    await c1.writeResource(LS, HRES, [{ path: lease, offset: 4 * MiB }]);
    const hold = holdScenario(t, host1, c2, lease);
    const r = `${LS}:${RES}:${lease}:${MiB}`;

    // 1. Hang → warning → SIGKILL → lease released → instance 2 takes it again.
    const main = supervise(t, host1, ["-r", r, "-i", "1000", "--restart-limit", "1/600", "--name", "main"]);
    const started1 = await main.waitFor("instance 1 started", (e) => e.type === "started" && e.instanceId === 1);
    const pid1 = (main.events.find((e) => e.type === "spawned" && e.instanceId === 1) as Event).pid as number;
    t.equal(await until("RES held", () => holderOf(host1)), pid1, "the program itself (the instance pid) holds RES on host 1");
    const lver1 = main.events.find((e) => e.type === "leases" && e.instanceId === 1)?.leases as string;
    t.match(lver1, new RegExp(`^${LS}:${RES}:.*:${MiB}:(\\d+)$`), "instance 1 reported its lease");
    t.ok(started1.at > 0);
    process.kill(pid1, "SIGSTOP");
    const stoppedAt = Date.now();
    const warned = await main.waitFor("warning", (e) => e.type === "warned");
    const killed = await main.waitFor("SIGKILL", (e) => e.type === "killed");
    t.match(warned, { instanceId: 1, signal: "SIGTERM", reason: "health" });
    t.match(killed, { instanceId: 1, signal: "SIGKILL", reason: "health" });
    t.ok(killed.at - stoppedAt < 2 * 1000 + 1500, `SIGKILL within about two intervals of the hang (${killed.at - stoppedAt} ms)`);
    const started2 = await main.waitFor("instance 2 started", (e) => e.type === "started" && e.instanceId === 2);
    const exited1 = main.events.find((e) => e.type === "exited" && e.instanceId === 1) as Event;
    const spawned2 = main.events.find((e) => e.type === "spawned" && e.instanceId === 2) as Event;
    t.ok(exited1.at <= spawned2.at, "instance 2 spawned only after instance 1 was reaped");
    t.equal(await until("RES held by instance 2", async () => ((await holderOf(host1)) === spawned2.pid ? spawned2.pid : undefined)), spawned2.pid);
    const lver2 = main.events.find((e) => e.type === "leases" && e.instanceId === 2)?.leases as string;
    t.equal(BigInt(lver2.split(":").at(-1) as string), BigInt(lver1.split(":").at(-1) as string) + 1n, "instance 2 acquired the released lease (lver + 1)");
    t.ok(started2.at - stoppedAt < 15_000, `running again ${started2.at - stoppedAt} ms after the hang`);

    // 2. A standby on host 2 cannot take the lease while host 1's instance holds it...
    const standby = supervise(t, host2, [
      "-r",
      r,
      "-i",
      "1000",
      "--restart-limit",
      "none",
      "--acquire-retry",
      "500",
      "--restart-delay",
      "200",
      "--name",
      "standby",
    ]);
    await standby.waitFor("a refused standby instance", (e) => e.type === "exited" && e.code === 75, 60_000);
    t.equal(await holderOf(host2), undefined, "host 2 does not hold RES while host 1's program runs");
    // ... and takes it once host 1's program keeps failing (the restart limit ends host 1's supervisor).
    process.kill(spawned2.pid as number, "SIGSTOP");
    t.equal(await main.exited, 137, "host 1's supervisor gives up: 128 + SIGKILL");
    t.match(
      main.events.find((e) => e.type === "failed"),
      { reason: "restart_limit" },
    );
    const standbyStarted = await standby.waitFor("the standby running", (e) => e.type === "started", 60_000);
    const standbyPid = standby.events.find((e) => e.type === "spawned" && e.instanceId === standbyStarted.instanceId)?.pid as number;
    t.equal(await until("RES held on host 2", () => holderOf(host2)), standbyPid, "host 2's program holds RES");
    t.equal(await holderOf(host1), undefined, "host 1 no longer does");

    // 3. SIGKILL of the standby's supervisor: its program dies with it and the lease is freed.
    process.kill(standby.pid, "SIGKILL");
    await standby.exited;
    await until("the program gone", async () => (processAlive(standbyPid) ? undefined : true), 10_000);
    t.pass("the program died with its supervisor (PDEATHSIG)");
    await until("RES released on host 2", async () => ((await holderOf(host2)) === undefined ? true : undefined), 10_000);
    t.pass("the daemon released the lease once the program was gone");
    const list = spawnSync(process.execPath, [OUR_CLI, "supervise", "--list", "--status-dir", `${host2.runDir}/sam`], { encoding: "utf8", timeout: 30_000 });
    t.match(list.stdout, new RegExp(`^${standby.pid} standby stale instance`, "m"), "--list shows the killed supervisor's entry as stale");

    // 4. Continuity "lver" (docs/sam.md §7), run alongside the steps above.
    const l = await lver;
    t.equal(l.changed, "ERR_SAM_LEASE_CHANGED", "host 2 took LRES between instances 1 and 2: instance 2's acquire is refused (SANLK_ACQUIRE_LVER)");
    t.equal(l.result, -240);
    t.ok(l.fresh, "fresh: true acquires it anyway");
    t.equal(l.lver3, l.lver2 + 1n, `instance 3 re-acquired with the lver instance 2 left (${l.lver2} → ${l.lver3})`);
    t.equal(l.exitCode, 0);

    // 5. Continuity "hold" with the CLI (docs/sam.md §7), run alongside the steps above.
    const h = await hold;
    t.equal(h.lver2, h.lver1, `instance 2 adopted the orphan: same lver ${h.lver1}, no new ballot`);
    t.ok(h.attempts > 0, `host 2 tried ${h.attempts} times while instance 1 hung, was killed and instance 2 adopted`);
    t.equal(h.successes, 0, "host 2 never got the lease in between");
    t.equal(h.exitCode, 143, "SIGTERM to the supervisor: stopped");
    t.ok(h.host2Acquired, "after the stop the orphan was released and host 2 acquired the lease");
    t.ok(h.orphanKept, "a SIGKILLed hold supervisor leaves the orphan: host 2 is refused");
    t.equal(h.releaseOutput, "released 1 orphan", "supervise --release-orphans");
    t.ok(h.afterRelease, "then host 2 acquires it");

    // 6. QUORUM: the instance started once host 1 joined, holds QRES; removing the lockspace ends it.
    const qStarted = await quorum.run.waitFor("the quorum instance started", (l) => l.acquired === true);
    t.equal(qStarted.pid, quorum.run.lines.find((l) => l.instance === 1)?.pid, "instance 1's start() resolved after the join and it acquired QRES");
    await c1.remLockspace(LS, 1, lease, { wait: false });
    await quorum.run.waitFor("quorum lost", (l) => l.ev?.type === "quorum" && l.ev.quorate === false);
    const qExit = await quorum.run.waitFor("instance 1 gone", (l) => l.ev?.type === "exited" && l.ev.instanceId === 1);
    t.ok(qExit.ev?.signal !== null, `instance 1 was killed (${String(qExit.ev?.signal)})`);
    await quorum.run.waitFor("instance 2 waiting for quorum", (l) => l.ev?.type === "waiting" && l.ev.instanceId === 2);
    t.equal(quorum.run.events("exited").length, 1, "instance 1 died once; instance 2 waits for the lockspace");

    // 7. Daemon gone.
    const gone = await daemonGone;
    t.ok(gone.selfKilledMs < 5000, `the instance killed itself ${gone.selfKilledMs} ms after its daemon's SIGKILL`);
    t.equal(gone.exitCode, 137, "QUIT supervisor: its instance died of SIGKILL");
  },
);

const QRES = "SAMQRES";

/** An API supervisor with QUORUM on LS, started before host 1 joins. */
function startQuorumScript(t: Test, host1: TestDaemon, lease: string): { run: SamRun; state(): string | undefined } {
  const statusDir = join(host1.runDir, "sam-api");
  const body = `
if (w.instanceId === 1) {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 300);
  try { await w.start({ signal: ac.signal }); } catch (e) { say({ aborted: e.code }); }
  await w.start();
  await w.acquire(process.env.Q_LS, process.env.Q_RES, [{ path: process.env.Q_LEASE, offset: Number(process.env.Q_OFFSET) }]);
  say({ acquired: true, quorate: w.quorate });
  setInterval(() => w.heartbeat(), 200);
} else {
  await w.start();
  say({ started2: true });
  setInterval(() => w.heartbeat(), 200);
}`;
  const run = runSamScript(
    t,
    body,
    { intervalMs: 1000, policy: "restart", quorum: [{ lockspace: LS }], sanlock: { runDir: host1.runDir }, status: { dir: statusDir } },
    { Q_LS: LS, Q_RES: QRES, Q_LEASE: lease, Q_OFFSET: String(2 * MiB) },
  );
  const state = (): string | undefined => {
    const file = join(statusDir, `${run.pid}.json`);
    try {
      return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { state: string }).state : undefined;
    } catch {
      return undefined; // being replaced
    }
  };
  return { run, state };
}

/** An API instance registered with its own daemon; the daemon is SIGKILLed; how soon the instance is gone. */
async function daemonGoneScenario(t: Test, dir: string): Promise<{ selfKilledMs: number; exitCode: number | null }> {
  const daemon = await startDaemon(t, { kind: "sanlock-ts", label: "daemon to kill", dir });
  const body = "await w.openRegistration(); await w.start(); setInterval(() => w.heartbeat(), 200); say({ registered: true });";
  const run = runSamScript(t, body, { intervalMs: 5000, policy: "quit", sanlock: { runDir: daemon.runDir }, status: false });
  const registered = await run.waitFor("the registered instance", (l) => l.registered === true, WAIT_MS);
  await daemon.kill9();
  const killedAt = Date.now();
  while (processAlive(registered.pid) && Date.now() - killedAt < 10_000) await sleep(50);
  const selfKilledMs = Date.now() - killedAt;
  const exit = await run.exited;
  return { selfKilledMs, exitCode: exit.code };
}

const LRES = "SAMLRES";

interface LverResult {
  readonly changed: string | undefined;
  readonly result: number | undefined;
  readonly fresh: boolean;
  readonly lver2: bigint;
  readonly lver3: bigint;
  readonly exitCode: number | null;
}

/**
 * Continuity "lver": instance 1 holds LRES and exits; host 2 acquires and releases it before
 * instance 2 tries (instance 2 waits for a file the test writes); instance 2 is refused, takes
 * it with fresh: true and exits; instance 3 takes it with the lver instance 2 left.
 */
async function lverScenario(t: Test, host1: TestDaemon, c2: SanlockClient, lease: string, dir: string): Promise<LverResult> {
  const go = join(dir, "lver-go");
  const body = `
import { existsSync } from "node:fs";
const disks = [{ path: process.env.L_LEASE, offset: Number(process.env.L_OFFSET) }];
if (w.instanceId === 1) { await w.acquire(process.env.L_LS, process.env.L_RES, disks); await w.start(); process.exit(1); }
if (w.instanceId === 2) {
  while (!existsSync(process.env.L_GO)) await sleep(50);
  try { await w.acquire(process.env.L_LS, process.env.L_RES, disks); say({ changed: "none" }); }
  catch (e) { say({ changed: e.code, result: e.result }); }
  await w.acquire(process.env.L_LS, process.env.L_RES, disks, { fresh: true });
  say({ fresh: true });
  await w.start();
  process.exit(1);
}
await w.acquire(process.env.L_LS, process.env.L_RES, disks);
say({ third: String(w.previousLeases[0]?.version) });
process.exit(0);`;
  const run = runSamScript(
    t,
    body,
    { intervalMs: 0, policy: "restart", continuity: "lver", restartDelayMs: 200, sanlock: { runDir: host1.runDir }, status: false },
    { L_LS: LS, L_RES: LRES, L_LEASE: lease, L_OFFSET: String(3 * MiB), L_GO: go },
  );
  await run.waitFor("instance 1 exited", (l) => l.ev?.type === "exited" && l.ev.instanceId === 1, WAIT_MS);
  const disks = [{ path: lease, offset: 3 * MiB }];
  // The daemon releases instance 1's lease when its connection closes; retry until it is free.
  await until("host 2 holding LRES", async () => {
    const registration = await c2.register();
    try {
      await c2.acquire(LS, LRES, disks, { registration });
      await c2.release(LS, LRES, disks, { registration });
      return true;
    } catch {
      return undefined;
    } finally {
      await registration.close();
    }
  });
  writeFileSync(go, "");
  const exit = await run.exited;
  const said = (key: string): SamLine | undefined => run.lines.find((l) => l[key] !== undefined);
  const lverOf = (instanceId: number): bigint => {
    const leases = run.lines.find((l) => l.ev?.type === "leases" && l.ev.instanceId === instanceId)?.ev?.leases as string | undefined;
    return BigInt(leases?.split(":").at(-1) ?? "-1");
  };
  return {
    changed: said("changed")?.changed as string | undefined,
    result: said("changed")?.result as number | undefined,
    fresh: said("fresh") !== undefined,
    lver2: lverOf(2),
    lver3: lverOf(3),
    exitCode: exit.code,
  };
}

const HRES = "SAMHRES";

interface HoldResult {
  readonly lver1: bigint;
  readonly lver2: bigint;
  readonly attempts: number;
  readonly successes: number;
  readonly exitCode: number | null;
  readonly host2Acquired: boolean;
  readonly orphanKept: boolean;
  readonly releaseOutput: string;
  readonly afterRelease: boolean;
}

/** One acquire attempt of HRES on host 2; the lease is given back at once. */
async function tryHost2(c2: SanlockClient, disks: { path: string; offset: number }[]): Promise<boolean> {
  const registration = await c2.register();
  try {
    await c2.acquire(LS, HRES, disks, { registration });
    await c2.release(LS, HRES, disks, { registration });
    return true;
  } catch {
    return false;
  } finally {
    await registration.close();
  }
}

/**
 * Continuity "hold": host 1's program hangs and is killed; its persistent lease stays with the
 * daemon as an orphan, instance 2 adopts it, and host 2, trying all along, never gets it. A
 * SIGTERM to the supervisor releases the orphan; then host 2 acquires.
 */
async function holdScenario(t: Test, host1: TestDaemon, c2: SanlockClient, lease: string): Promise<HoldResult> {
  const disks = [{ path: lease, offset: 4 * MiB }];
  const sup = supervise(t, host1, ["-r", `${LS}:${HRES}:${lease}:${4 * MiB}`, "-i", "1000", "--continuity", "hold", "--name", "hold"]);
  await sup.waitFor("hold instance 1 started", (e) => e.type === "started" && e.instanceId === 1);
  const pid1 = sup.events.find((e) => e.type === "spawned" && e.instanceId === 1)?.pid as number;
  const lverOf = (instanceId: number): bigint =>
    BigInt((sup.events.find((e) => e.type === "leases" && e.instanceId === instanceId)?.leases as string | undefined)?.split(":").at(-1) ?? "-1");
  let attempts = 0;
  let successes = 0;
  let trying = true;
  const host2Loop = (async () => {
    while (trying) {
      attempts++;
      if (await tryHost2(c2, disks)) successes++;
      await sleep(200);
    }
  })();
  process.kill(pid1, "SIGSTOP");
  await sup.waitFor("hold instance 2 started", (e) => e.type === "started" && e.instanceId === 2);
  trying = false;
  await host2Loop;
  process.kill(sup.pid, "SIGTERM");
  const exitCode = await sup.exited;
  const host2Acquired = await until("host 2 acquiring HRES", async () => ((await tryHost2(c2, disks)) ? true : undefined), 15_000).catch(() => false);
  // A SIGKILLed hold supervisor cannot release: the orphan stays until `--release-orphans`.
  const again = supervise(t, host1, ["-r", `${LS}:${HRES}:${lease}:${4 * MiB}`, "-i", "1000", "--continuity", "hold", "--name", "hold-again"]);
  await again.waitFor("hold-again started", (e) => e.type === "started");
  const program = again.events.find((e) => e.type === "spawned")?.pid as number;
  process.kill(again.pid, "SIGKILL");
  await again.exited;
  await until("the program gone", async () => (processAlive(program) ? undefined : true), 10_000);
  const orphanKept = !(await tryHost2(c2, disks));
  const released = spawnSync(process.execPath, [OUR_CLI, "supervise", "--release-orphans", "-r", `${LS}:${HRES}:${lease}:${4 * MiB}`], {
    env: { ...process.env, SANLOCK_RUN_DIR: host1.runDir },
    encoding: "utf8",
    timeout: 30_000,
  });
  const afterRelease = await until("host 2 acquiring HRES", async () => ((await tryHost2(c2, disks)) ? true : undefined), 15_000).catch(() => false);
  return { lver1: lverOf(1), lver2: lverOf(2), attempts, successes, exitCode, host2Acquired, orphanKept, releaseOutput: released.stdout.trim(), afterRelease };
}
