// Spec scenarios of the SAM API (docs/sam.md §10) that packages/client/test/sam-supervisor.test.ts
// leaves out, with real processes and no daemon:
// - QUIT (scenario 7): a hung instance with a warn handler ends in SIGKILL, exit 137, "failed"
//   kept; an instance that stops and exits 4 is a clean quit: exit 4, status file gone.
// - restartLimit null (scenario 6, testsam smoke): more restarts than the default limit allows.
// - status store (scenario 23): the keys, last_updated advancing with the heartbeats.
// - an instance whose supervisor is not its parent kills itself (scenario 18's variant: the
//   supervisor died before PDEATHSIG was set; the getppid() check).
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { pathToFileURL } from "node:url";
import { environmentSkip, runSamScript, SAM_DIST, type SamRun, samScriptGap, waitFor } from "../../../test/support/index.js";

const skip = environmentSkip(samScriptGap());

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Scenarios start when the file loads (they wait on timers) and each subtest awaits its own. */
function launch(body: string, options: Record<string, unknown>, env: Record<string, string> = {}): SamRun | undefined {
  return skip ? undefined : runSamScript(t, body, options, env);
}

const quitHungDir = skip ? "" : scratch("sam-quit-");
const quitHung = launch("await w.start(); w.heartbeat(); w.onWarn(() => say({ handler: true })); block(30000);", {
  intervalMs: 400,
  policy: "quit",
  status: { dir: quitHungDir },
});
const quitStopDir = skip ? "" : scratch("sam-stop-");
const quitStop = launch("await w.start(); w.heartbeat(); await w.stop(); say({ stopped: true }); process.exit(4);", {
  intervalMs: 400,
  policy: "quit",
  status: { dir: quitStopDir },
});
/** Default limit: 5 restarts in 10 s, 6 spawns. Unlimited: instance 8 is reached and ends the run. */
const SPAWNS = 8;
const unlimited = launch(`await w.start(); if (w.instanceId < ${SPAWNS}) process.exit(1); await w.finalize(); process.exit(0);`, {
  intervalMs: 0,
  policy: "restart",
  restartDelayMs: 0,
  restartLimit: null,
  status: false,
});
const storeDir = skip ? "" : scratch("sam-store-");
const store = launch(
  `
import { readFileSync } from "node:fs";
const file = process.env.STATUS_DIR + "/" + process.ppid + ".json";
const read = () => JSON.parse(readFileSync(file, "utf8"));
await w.start();
setInterval(() => w.heartbeat(), 100);
await sleep(1500);
const first = read();
await sleep(1000);
const second = read();
say({ first, second });
await w.finalize();
process.exit(0);`,
  { intervalMs: 1000, policy: "restart", status: { dir: storeDir, name: "store-check" } },
  { STATUS_DIR: storeDir },
);

t.test("QUIT: a hung instance with a warn handler is SIGKILLed: exit 137, failed entry kept", { skip }, async (t) => {
  const run = quitHung as SamRun;
  const exit = await run.exited;
  t.match(run.events("warned")[0]?.ev, { instanceId: 1, signal: "SIGTERM", reason: "health" });
  t.match(run.events("killed")[0]?.ev, { instanceId: 1, signal: "SIGKILL", reason: "health" }, "the blocked loop never ran the handler");
  t.equal(
    run.lines.find((l) => l.handler === true),
    undefined,
    "no handler output",
  );
  t.match(run.events("failed")[0]?.ev, { reason: "policy" });
  t.same(exit, { code: 137, signal: null }, "128 + SIGKILL (libsam: 0)");
  t.match(JSON.parse(readFileSync(join(quitHungDir, `${run.pid}.json`), "utf8")), { state: "failed", last_exit: { signal: "SIGKILL", reason: "recovery" } });
});

t.test("QUIT: an instance that stops, then exits 4, is a clean quit: exit 4, status file gone", { skip }, async (t) => {
  const run = quitStop as SamRun;
  const exit = await run.exited;
  t.ok(
    run.lines.some((l) => l.stopped === true),
    "stop() answered",
  );
  t.same(exit, { code: 4, signal: null });
  t.equal(run.events("failed").length, 0, "not a failure");
  t.equal(run.events("spawned").length, 1);
  t.notOk(existsSync(join(quitStopDir, `${run.pid}.json`)), "deleted as SAM deletes its CMAP keys");
});

t.test("restartLimit null: restarts beyond the default limit; the last instance finalizes and exits 0", { skip }, async (t) => {
  const run = unlimited as SamRun;
  const exit = await run.exited;
  t.equal(run.events("spawned").length, SPAWNS, `${SPAWNS} spawns (the default limit would stop at 6)`);
  t.equal(run.events("failed").length, 0);
  t.same(exit, { code: 0, signal: null }, "clean quit of the last instance");
});

t.test("status store: CMAP keys, last_updated follows the heartbeats, deleted on a clean quit", { skip }, async (t) => {
  const run = store as SamRun;
  const exit = await run.exited;
  const line = run.lines.find((l) => l.first !== undefined) as { first: Record<string, unknown>; second: Record<string, unknown> } | undefined;
  t.ok(line, `the instance read its status file twice: ${run.stderr()}`);
  const { first, second } = line as NonNullable<typeof line>;
  t.match(first, {
    version: 1,
    name: "store-check",
    supervisor_pid: run.pid,
    recovery: "restart",
    poll_period: 1000,
    last_updated: /^\d+$/,
    state: "running",
    instance_id: 1,
    restarts: 0,
    quorum: {},
    leases: "",
    last_exit: null,
  });
  t.equal(typeof first.worker_pid, "number");
  const advanced = Number(BigInt(second.last_updated as string) - BigInt(first.last_updated as string)) / 1e6;
  t.ok(advanced >= 500 && advanced <= 2000, `last_updated advanced ${advanced.toFixed(0)} ms over 1 s of heartbeats (written at most once a second)`);
  t.same(exit, { code: 0, signal: null });
  t.notOk(existsSync(join(storeDir, `${run.pid}.json`)), "deleted on the clean quit");
});

t.test("an instance whose supervisor is not its parent kills itself (the getppid check)", { skip }, async (t) => {
  // The test plays a supervisor that is not the parent: env(1) execs node, so node's parent is
  // this test process, and the instance is told its supervisor is pid 1.
  const script = join(scratch("sam-orphan-"), "worker.mjs");
  writeFileSync(
    script,
    `const { Sam } = await import(${JSON.stringify(pathToFileURL(SAM_DIST).href)});
const sam = await Sam.initialize({ intervalMs: 0, policy: "quit", status: false });
const w = await sam.register();
process.stdout.write("registered " + w.instanceId + "\\n");
setInterval(() => {}, 1000);
`,
  );
  const started = (
    supervisorPid: number,
  ): { child: ReturnType<typeof spawn>; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; out: () => string } => {
    const child = spawn("/usr/bin/env", ["-u", "NODE_OPTIONS", process.execPath, script], {
      env: { ...process.env, SANLOCK_TS_SAM_FD: "3", SANLOCK_TS_SAM_INSTANCE: "1", SANLOCK_TS_SAM_SUPERVISOR_PID: String(supervisorPid) },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      detached: true,
    });
    t.teardown(() => {
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        // gone
      }
    });
    const channel = child.stdio[3] as Duplex;
    channel.write("SAM 1 1 0 quit none SIGTERM\nDATA -\nLEASES -\n");
    let out = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    return { child, exit, out: () => out };
  };
  const orphan = started(1);
  const adopted = started(process.pid);
  const limit = new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 15_000));
  t.match(await Promise.race([orphan.exit, limit]), { signal: "SIGKILL" }, "the instance whose parent is not its supervisor killed itself");
  t.notMatch(orphan.out(), /registered/, "register() never returned in it");
  await waitFor(() => adopted.out().includes("registered 1"), "the control instance registered", 15_000);
  t.equal(adopted.child.exitCode, null, "the control instance, whose parent is its supervisor, registered and still runs");
});
