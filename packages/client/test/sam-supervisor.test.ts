// The SAM API with real processes and no daemon (docs/sam.md §10): a script
// using @sanlock-ts/client/sam is the supervisor, its re-executions are the instances, and a
// blocked event loop (Atomics.wait) is a hung instance. Times are checked only from below
// (a timer never fires early) and with generous upper limits: the machine is shared.
import t from "tap";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sam, SamArgumentError, SamStateError } from "../src/sam/index.js";
import { environmentSkip, runSamScript, type SamLine, type SamRun, samScriptGap } from "../../../test/support/index.js";

const skip = environmentSkip(samScriptGap());

function statusDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "sam-status-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Every scenario is started at once when the file loads (they wait on timers, not on the
 * CPU), and each subtest awaits its own: the file takes as long as its longest scenario.
 */
const launched = new Map<string, SamRun>();
function launch(name: string, body: string, options: Record<string, unknown>, env: Record<string, string> = {}): SamRun | undefined {
  if (skip) return undefined;
  const run = runSamScript(t, body, options, env);
  launched.set(name, run);
  return run;
}
function runOf(name: string): SamRun {
  const run = launched.get(name);
  if (run === undefined) throw new Error(`scenario ${name} was not launched`);
  return run;
}

const dirs = new Map<string, string>();
{
  const dir = statusDir(t);
  dirs.set("s1", dir);
  const body = `
import { readFileSync } from "node:fs";
const statusFile = process.env.STATUS_DIR + "/" + process.ppid + ".json";
if (w.instanceId === 1) {
  await w.store(bytes("abc"));
  await w.start();
  for (let i = 0; i < 5; i++) { w.heartbeat(); await sleep(100); }
  w.onWarn(() => say({ handler: true }));
  w.heartbeat();
  say({ lastHb: true });
  block(30000);
} else {
  const codes = [];
  const tryIt = async (f) => { try { await f(); codes.push("ok"); } catch (e) { codes.push(e.code + "/" + e.csError); } };
  await tryIt(() => w.heartbeat());
  await tryIt(() => w.stop());
  await w.start();
  await tryIt(() => w.start());
  await tryIt(() => w.setHealthCheck(() => true));
  // The supervisor writes its status file after it handled START, at most once a second: poll it.
  let status = JSON.parse(readFileSync(statusFile, "utf8"));
  for (let i = 0; i < 50 && status.state !== "running"; i++) {
    await sleep(100);
    status = JSON.parse(readFileSync(statusFile, "utf8"));
  }
  await w.finalize();
  await tryIt(() => w.store(null));
  await tryIt(() => w.finalize());
  say({ codes, status });
  process.exit(5);
}`;
  launch("s1", body, { intervalMs: 500, policy: "restart", status: { dir } }, { STATUS_DIR: dir });
}
launch("s2late", "await w.start(); w.heartbeat(); block(30000);", { intervalMs: 400, policy: "quit" }, { SAM_BLOCK_AFTER_WARN_MS: "1500" });
{
  const dir = statusDir(t);
  dirs.set("s2", dir);
  const body = "await w.start(); w.heartbeat(); block(30000);";
  launch("s2", body, { intervalMs: 400, policy: "quit", status: { dir } });
}
{
  const body = `
const handler = async () => {
  const count = Number(text(w.data) ?? "0") + 1;
  await w.store(bytes(String(count)));
  say({ handled: count });
};
if (w.instanceId === 1) await w.setWarnSignal("SIGUSR2");
if (w.instanceId === 3) await w.setWarnSignal("SIGKILL");
if (w.instanceId === 4) process.exit(0);
w.onWarn(handler);
await w.start();
w.heartbeat();
setInterval(() => {}, 1000); // idle, not blocked: the handler can run
`;
  launch("s3", body, { intervalMs: 400, policy: "restart", restartLimit: null, status: false });
}
{
  const dir = statusDir(t);
  dirs.set("s4", dir);
  launch("s4", "await w.start(); process.exit(3);", {
    intervalMs: 0,
    policy: "restart",
    restartDelayMs: 0,
    restartLimit: { burst: 2, intervalMs: 60_000 },
    status: { dir },
  });
}
{
  const body = `
if (w.instanceId === 1) { say({ size: w.data.byteLength }); await w.store(bytes("y".repeat(121))); await w.start(); process.exit(1); }
if (w.instanceId === 2) { say({ size: w.data.byteLength }); await w.store(null); await w.start(); process.exit(1); }
let tooBig;
try { await w.store(new Uint8Array(1025)); } catch (e) { tooBig = e.code + "/" + e.csError; }
say({ tooBig, after: w.data === undefined ? "none" : "some" });
process.exit(0);`;
  launch("s5", body, { intervalMs: 0, policy: "restart", initialData: "x".repeat(128), maxDataBytes: 1024, status: false });
}
{
  const body = `
if (w.instanceId === 2) process.exit(0);
let calls = 0;
w.setHealthCheck(async () => { calls++; await w.store(bytes(String(calls))); return calls < 3; });
await w.start();
setInterval(() => {}, 1000);`;
  launch("s6", body, { intervalMs: 400, policy: "restart", status: false });
}
{
  const dir = statusDir(t);
  dirs.set("s7", dir);
  const body = "await w.start(); w.heartbeat(); await w.markFailed();";
  launch("s7", body, { intervalMs: 5000, policy: "restart", status: { dir } });
}
{
  const body = "await w.start(); setInterval(() => w.heartbeat(), 100); say({ running: true });";
  launch("s8", body, { intervalMs: 1000, policy: "restart", status: false });
}

{
  // Sticky warning (SAM's term_send): instance 1 survives the SIGTERM, heartbeats again, then
  // stops: SIGKILL at the next missed deadline, no second warning.
  const body = `
if (w.instanceId === 2) process.exit(0);
w.onWarn(() => { say({ survived: true }); const beat = setInterval(() => w.heartbeat(), 100); setTimeout(() => { clearInterval(beat); say({ silent: true }); }, 1000); });
await w.start();
w.heartbeat();
setInterval(() => {}, 1000);`;
  launch("sticky", body, { intervalMs: 400, policy: "restart", status: false });
}
{
  // Exit while registered (never started) under RESTART: a clean quit, no restart.
  launch("registered-exit", "process.exit(7);", { intervalMs: 400, policy: "restart", status: false });
  // successExitCodes: exit 0 while started is clean.
  launch("success-exit", "await w.start(); process.exit(0);", { intervalMs: 400, policy: "restart", successExitCodes: [0], status: false });
  // A health callback that never settles counts as failed at the interval.
  const hang = `
if (w.instanceId === 2) process.exit(0);
w.setHealthCheck(() => new Promise(() => {}));
await w.start();
setInterval(() => {}, 1000);`;
  launch("hc-hang", hang, { intervalMs: 400, policy: "restart", status: false });
  // A stop request: SIGTERM to the supervisor ends the instance and the supervisor, no restart.
  launch("stop", "await w.start(); setInterval(() => w.heartbeat(), 100); say({ running: true });", { intervalMs: 1000, policy: "restart", status: false });
}

const types = (lines: readonly SamLine[]): string[] => lines.filter((l) => l.ev !== undefined).map((l) => `${l.ev?.type}`);

t.test("options are checked and a second initialize is refused (testsam basics)", async (t) => {
  await t.rejects(Sam.initialize({ intervalMs: 100, policy: "x" as "quit" }), SamArgumentError);
  await t.rejects(Sam.initialize({ intervalMs: -1, policy: "quit" }), { code: "ERR_SAM_BAD_ARGUMENT", csError: 7 });
  await t.rejects(Sam.initialize({ intervalMs: 100, policy: "quit", warnSignal: "SIGFOO" as NodeJS.Signals }), { code: "ERR_SAM_BAD_ARGUMENT", csError: 7 });
  const sam = await Sam.initialize({ intervalMs: 100, policy: "quit", status: false });
  t.equal(sam.role, "supervisor", "no SANLOCK_TS_SAM_FD: this process is the supervisor");
  await t.rejects(Sam.initialize({ intervalMs: 100, policy: "quit" }), SamStateError);
  await t.rejects(Sam.initialize({ intervalMs: 100, policy: "quit" }), { code: "ERR_SAM_STATE", csError: 9 });
});

t.test("hang → warn → SIGKILL → restart with the stored data; state errors; finalize while started", { skip }, async (t) => {
  const run = runOf("s1");
  const dir = dirs.get("s1") as string;
  const exit = await run.exited;
  const lastHb = run.lines.find((l) => l.lastHb === true);
  const warned = run.events("warned")[0];
  const killed = run.events("killed")[0];
  t.ok(lastHb && warned && killed, `warned and killed (${types(run.lines).join(",")}) ${run.stderr()}`);
  if (!lastHb || !warned || !killed) return;
  t.match(warned.ev, { instanceId: 1, signal: "SIGTERM", reason: "health" }, "SAM's default warn signal");
  t.ok(warned.t - lastHb.t >= 450, `warning one interval after the last heartbeat (${warned.t - lastHb.t} ms)`);
  t.ok(warned.t - lastHb.t < 10_000, "and not much later (a generous limit: the machine is shared)");
  t.match(killed.ev, { instanceId: 1, signal: "SIGKILL", reason: "health" }, "SIGKILL after the ignored warning");
  t.ok(killed.t - warned.t >= 450, `one interval after the warning (${killed.t - warned.t} ms)`);
  t.notOk(
    run.lines.some((l) => l.handler === true),
    "a blocked event loop never ran the warn handler",
  );
  t.match(run.events("exited")[0]?.ev, { instanceId: 1, signal: "SIGKILL" });
  const second = run.lines.find((l) => l.instance === 2);
  t.equal(second?.data, "abc", "instance 2 restores what instance 1 stored");
  const spawned2 = run.events("spawned").find((l) => l.ev?.instanceId === 2);
  const exited1 = run.events("exited")[0];
  t.ok(spawned2 && exited1 && spawned2.t - exited1.t >= 90, "instance 2 spawned after the reap and the restart delay");
  const report = run.lines.find((l) => Array.isArray(l.codes));
  t.same(
    report?.codes,
    ["ERR_SAM_STATE/9", "ERR_SAM_STATE/9", "ERR_SAM_STATE/9", "ERR_SAM_STATE/9", "ERR_SAM_STATE/9", "ERR_SAM_STATE/9"],
    "heartbeat/stop before start, start twice, health check while started, calls after finalize: CS_ERR_BAD_HANDLE",
  );
  t.match(report?.status, { state: "running", instance_id: 2, restarts: 1, recovery: "restart", poll_period: 500 }, "status entry (CMAP keys)");
  t.same(exit, { code: 5, signal: null }, "exit while not started (finalized): clean quit with the instance's status");
  t.notOk(existsSync(join(dir, `${run.pid}.json`)), "a clean quit deletes the status entry");
});

t.test(
  "a supervisor that ran late decides a deadline only after handling what was already due: no SIGKILL for an instance the warning ended",
  { skip },
  async (t) => {
    // The supervisor's loop is blocked 1.5 s one turn after the SIGTERM warning: the instance dies
    // of it meanwhile, and the next deadline (400 ms) is overdue when the loop runs again. Its
    // timer comes before the poll phase that reports the exit; deciding in the timer sent SIGKILL.
    const run = runOf("s2late");
    await run.exited;
    t.match(run.events("warned")[0]?.ev, { signal: "SIGTERM" });
    t.equal(run.events("killed").length, 0, "no SIGKILL");
    t.match(run.events("exited")[0]?.ev, { signal: "SIGTERM" });
  },
);

t.test("QUIT: without a warn handler the SIGTERM ends the hung instance; exit 143, state failed", { skip }, async (t) => {
  const run = runOf("s2");
  const dir = dirs.get("s2") as string;
  const exit = await run.exited;
  t.match(run.events("warned")[0]?.ev, { signal: "SIGTERM" });
  t.equal(run.events("killed").length, 0, "no SIGKILL was needed");
  t.match(run.events("exited")[0]?.ev, { signal: "SIGTERM" });
  t.match(run.events("failed")[0]?.ev, { reason: "policy" });
  t.same(exit, { code: 143, signal: null }, "128 + SIGTERM (corosync's libsam exits 0 here: docs/sam.md §11)");
  const entry = JSON.parse(readFileSync(join(dir, `${run.pid}.json`), "utf8")) as { state: string; last_exit: { signal: string } };
  t.equal(entry.state, "failed", "the failed entry stays");
  t.equal(entry.last_exit.signal, "SIGTERM");
});

t.test("warn signal set by one instance is kept by the next; SIGKILL as warn signal means no warning (testsam warn_signal)", { skip }, async (t) => {
  const run = runOf("s3");
  const exit = await run.exited;
  const warned = run.events("warned").map((l) => l.ev);
  t.match(warned, [
    { instanceId: 1, signal: "SIGUSR2" },
    { instanceId: 2, signal: "SIGUSR2" },
  ]);
  t.same(
    run.lines.filter((l) => typeof l.handled === "number").map((l) => l.handled),
    [1, 2],
  );
  t.match(
    run.events("killed").map((l) => l.ev),
    [{ instanceId: 1 }, { instanceId: 2 }, { instanceId: 3, signal: "SIGKILL" }],
  );
  t.equal(run.lines.find((l) => l.instance === 4)?.data, "2", "instance 4 reads the count the handlers stored");
  t.same(exit, { code: 0, signal: null });
});

t.test("restart limit: 2 restarts in 60 s allowed, the 3rd exit fails", { skip }, async (t) => {
  const run = runOf("s4");
  const dir = dirs.get("s4") as string;
  const exit = await run.exited;
  t.equal(run.events("spawned").length, 3, "burst 2 allows 3 spawns in a row");
  t.match(run.events("failed")[0]?.ev, { reason: "restart_limit" });
  t.same(exit, { code: 3, signal: null }, "the last instance's exit code");
  t.match(JSON.parse(readFileSync(join(dir, `${run.pid}.json`), "utf8")), { state: "failed", restarts: 2 });
});

t.test("data store (testsam data_store_restore): initial data, change, delete, size limit", { skip }, async (t) => {
  const run = runOf("s5");
  const exit = await run.exited;
  t.same(
    run.lines.filter((l) => typeof l.size === "number").map((l) => l.size),
    [128, 121],
  );
  t.match(
    run.lines.find((l) => l.instance === 3),
    { data: null },
    "deleted: instance 3 has no data",
  );
  t.match(
    run.lines.find((l) => l.tooBig !== undefined),
    { tooBig: "ERR_SAM_TOO_BIG/26", after: "none" },
  );
  t.same(exit, { code: 0, signal: null });
});

t.test("event-driven health check (testsam hc): the failing callback stops the heartbeats", { skip }, async (t) => {
  const run = runOf("s6");
  const exit = await run.exited;
  t.match(run.events("warned")[0]?.ev, { instanceId: 1, reason: "health" }, "warned after the third call returned false");
  t.equal(run.lines.find((l) => l.instance === 2)?.data, "3", "instance 2 sees the call count");
  t.same(exit, { code: 0, signal: null });
});

t.test("mark_failed: SIGKILL at once without warning, no restart", { skip }, async (t) => {
  const run = runOf("s7");
  const dir = dirs.get("s7") as string;
  const exit = await run.exited;
  t.equal(run.events("warned").length, 0);
  t.match(run.events("killed")[0]?.ev, { reason: "mark_failed", signal: "SIGKILL" });
  t.match(run.events("failed")[0]?.ev, { reason: "mark_failed" });
  t.equal(run.events("spawned").length, 1, "no restart");
  t.same(exit, { code: 137, signal: null });
  t.match(JSON.parse(readFileSync(join(dir, `${run.pid}.json`), "utf8")), { state: "failed" });
});

t.test("a killed supervisor takes its instance with it (PDEATHSIG and the channel)", { skip }, async (t) => {
  const run = runOf("s8");
  const running = await run.waitFor("the instance", (l) => l.running === true);
  process.kill(run.pid, "SIGKILL");
  await run.exited;
  const deadline = Date.now() + 5000;
  let alive = true;
  while (alive && Date.now() < deadline) {
    try {
      process.kill(running.pid, 0);
      await new Promise((r) => setTimeout(r, 50));
    } catch {
      alive = false;
    }
  }
  t.notOk(alive, "the instance is gone within 5 s of its supervisor's SIGKILL");
});

t.test("a warned instance that recovers is killed without a second warning at its next miss (term_send)", { skip }, async (t) => {
  const run = runOf("sticky");
  const exit = await run.exited;
  t.ok(
    run.lines.some((l) => l.survived === true),
    "instance 1 survived the warning",
  );
  t.match(
    run.events("warned").map((l) => l.ev),
    [{ instanceId: 1, signal: "SIGTERM" }],
    "one warning only",
  );
  const silent = run.lines.find((l) => l.silent === true);
  const killed = run.events("killed")[0];
  t.match(killed?.ev, { instanceId: 1, signal: "SIGKILL", reason: "health" });
  t.ok(silent && killed && killed.t > silent.t, "SIGKILL after it fell silent again");
  t.same(exit, { code: 0, signal: null });
});

t.test("exits that are clean quits: never started; a success exit code while started", { skip }, async (t) => {
  const registered = runOf("registered-exit");
  t.same(await registered.exited, { code: 7, signal: null }, "the instance's status, passed through");
  t.equal(registered.events("spawned").length, 1, "no restart");
  const success = runOf("success-exit");
  t.same(await success.exited, { code: 0, signal: null });
  t.equal(success.events("spawned").length, 1, "exit 0 is in successExitCodes: no restart");
});

t.test("a health callback that never answers counts as failed", { skip }, async (t) => {
  const run = runOf("hc-hang");
  const exit = await run.exited;
  t.match(run.events("warned")[0]?.ev, { instanceId: 1, reason: "health" });
  t.same(exit, { code: 0, signal: null });
});

t.test("SIGTERM to the supervisor ends its instance and itself, without a restart", { skip }, async (t) => {
  const run = runOf("stop");
  await run.waitFor("the instance", (l) => l.running === true);
  process.kill(run.pid, "SIGTERM");
  const exit = await run.exited;
  t.same(exit, { code: 143, signal: null }, "the instance's status: killed by SIGTERM");
  t.equal(run.events("spawned").length, 1, "no restart");
});
