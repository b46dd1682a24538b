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
 */
import t, { type Test } from "tap";
import { spawn, spawnSync } from "node:child_process";
import { SanlockClient } from "../packages/client/src/index.js";
import { OUR_CLI, clusterSkipReason, sleep, sparseFile, startClusterDaemon, tempLeaseDir, type ClusterDaemon } from "./helpers/daemons.js";

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

function supervise(t: Test, daemon: ClusterDaemon, args: string[]): Supervise {
  const child = spawn(process.execPath, [OUR_CLI, "supervise", "--json", "--status-dir", `${daemon.runDir}/sam`, ...args, "--", ...PROGRAM], {
    env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const events: Event[] = [];
  let partial = "";
  let text = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (text.length < 200_000) text += chunk.toString();
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith("{") && events.length < 10_000) events.push(JSON.parse(line) as Event);
  });
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
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${text.slice(-3000)}`);
      await sleep(50);
    }
  };
  return { pid: child.pid, events, exited, waitFor, stderr: () => text };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** The pid holding RES on `daemon`, or undefined. */
async function holderOf(daemon: ClusterDaemon): Promise<number | undefined> {
  const st = await new SanlockClient({ runDir: daemon.runDir, timeoutMs: 10_000 }).status();
  return st.resources.find((r) => r.lockspace === LS && r.resource === RES)?.pid;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test(
  "supervise: hang → kill → lease released → restart; standby on the other host; supervisor killed",
  { skip: clusterSkipReason(["sanlock-ts", "sanlock"]) },
  async (t) => {
    const dir = tempLeaseDir(t, "sam-supervise-");
    const lease = sparseFile(dir, "leases", 4 * MiB);
    const [host1, host2] = await Promise.all([
      startClusterDaemon(t, { kind: "sanlock-ts", label: "host 1 (sanlock-ts)", dir }),
      startClusterDaemon(t, { kind: "sanlock", label: "host 2 (sanlock)", dir }),
    ]);
    const c1 = new SanlockClient({ runDir: host1.runDir, timeoutMs: 60_000 });
    const c2 = new SanlockClient({ runDir: host2.runDir, timeoutMs: 60_000 });
    await c1.writeLockspace(LS, lease, { iotimeout: 1 });
    await c1.writeResource(LS, RES, [{ path: lease, offset: MiB }]);
    await Promise.all([c1.addLockspace(LS, 1, lease, { iotimeout: 1 }), c2.addLockspace(LS, 2, lease, { iotimeout: 1 })]);
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
    await until("the program gone", async () => (alive(standbyPid) ? undefined : true), 10_000);
    t.pass("the program died with its supervisor (PDEATHSIG)");
    await until("RES released on host 2", async () => ((await holderOf(host2)) === undefined ? true : undefined), 10_000);
    t.pass("the daemon released the lease once the program was gone");
    const list = spawnSync(process.execPath, [OUR_CLI, "supervise", "--list", "--status-dir", `${host2.runDir}/sam`], { encoding: "utf8", timeout: 30_000 });
    t.match(list.stdout, new RegExp(`^${standby.pid} standby stale instance`, "m"), "--list shows the killed supervisor's entry as stale");
  },
);
