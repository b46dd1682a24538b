/**
 * The embedded daemon keeps the standalone daemon's safety (README "The daemon inside an
 * appliance"). Each case runs a test appliance (embedded-fixture.mjs, on dist/) as its own
 * process with io_timeout N = 1:
 *
 * - a main thread that blocks for longer than 8N: the renewals run on the renewal worker
 *   thread, so the lockspace stays live, no renewal attempt fails, and the lease stays held;
 * - a lockspace device that stalls (a FUSE file whose I/O hangs in the kernel) while the
 *   application ignores its lease's AbortSignal: the signal and the "lockspace-failed" event
 *   come at last renewal + 8N, and the process is ended with SIGKILL at last renewal + 8N +
 *   kill grace, when sanlock would SIGKILL a holder (docs/algorithms.md §7.2, §7.3); a second
 *   appliance on the same stalled mount that releases when told lives on past that time.
 */
import t from "tap";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SanlockClient } from "@sanlock-ts/client";
import { idRenewalFailSeconds } from "@sanlock-ts/core";
import { DAEMON_THREADPOOL_SIZE } from "../src/device/threadpool.js";
import {
  daemonSkipReason,
  monotonicSeconds,
  mountStallFs,
  readDeltaRecord,
  renewalHistory,
  sparseFile,
  stallFsSkipReason,
  tempLeaseDir,
} from "../../../test/support/index.js";

const FIXTURE = fileURLToPath(new URL("./embedded-fixture.mjs", import.meta.url));
const IO_TIMEOUT = 1;
const MiB = 1 << 20;
const FAIL_AFTER = idRenewalFailSeconds(IO_TIMEOUT);
const KILL_GRACE = 3;
/** The daemon checks the renewal gap and the holders once a second or faster, plus a loaded machine's slack. */
const SLACK_SECONDS = 6;
const BUSY_SECONDS = FAIL_AFTER + 4;
const START_TIMEOUT_MS = 60_000;

interface FixtureEvent {
  readonly event: string;
  readonly at: number;
  readonly [key: string]: unknown;
}

/** The fixture process: its JSON events, its stderr (daemon log), its exit. */
function startFixture(t: { teardown(fn: () => unknown): void }, env: Record<string, string>) {
  const runDir = mkdtempSync("/tmp/sanlock-ts-embedded-");
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, UV_THREADPOOL_SIZE: String(DAEMON_THREADPOOL_SIZE), ...env, SANLOCK_RUN_DIR: runDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: FixtureEvent[] = [];
  let stderr = "";
  let pending = "";
  const waiters: (() => void)[] = [];
  child.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      events.push(JSON.parse(pending.slice(0, nl)) as FixtureEvent);
      pending = pending.slice(nl + 1);
      for (const wake of waiters.splice(0)) wake();
    }
  });
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 200_000) stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  void exited.then(() => {
    for (const wake of waiters.splice(0)) wake();
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const waitFor = async (event: string, timeoutMs: number): Promise<FixtureEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find((e) => e.event === event);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`fixture exited before "${event}": ${stderr.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`no "${event}" within ${timeoutMs} ms: ${stderr.slice(-3000)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  };
  return { runDir, events, waitFor, exited, stderr: () => stderr, child };
}

t.test("a busy main thread does not stop the renewals", { skip: daemonSkipReason(["sanlock-ts"]), timeout: 120_000 }, async (t) => {
  const dir = tempLeaseDir(t, "embedded-busy-");
  const lockspace = sparseFile(dir, "ls", MiB);
  const fixture = startFixture(t, {
    MODE: "busy",
    BUSY_SECONDS: String(BUSY_SECONDS),
    IO_TIMEOUT: String(IO_TIMEOUT),
    LOCKSPACE: lockspace,
    RESOURCE: sparseFile(dir, "res", MiB),
  });
  const busyStart = await fixture.waitFor("busy-start", START_TIMEOUT_MS);
  const busyEnd = await fixture.waitFor("busy-end", (BUSY_SECONDS + 30) * 1000);
  t.ok(busyEnd.at - busyStart.at >= BUSY_SECONDS, `the main thread was blocked ${(busyEnd.at - busyStart.at).toFixed(1)} s (8N = ${FAIL_AFTER} s)`);
  const client = new SanlockClient({ runDir: fixture.runDir, timeoutMs: 20_000 });
  const history = await renewalHistory(fixture.runDir, "LS", 20_000);
  const during = history.filter((row) => row.timestamp > busyStart.at && row.timestamp < busyEnd.at);
  t.ok(during.length >= 2, `${during.length} renewals while the main thread was blocked`);
  const stamps = history.map((row) => row.timestamp);
  const gaps = stamps.slice(1).map((at, i) => at - (stamps[i] ?? at));
  t.ok(
    gaps.every((gap) => gap < FAIL_AFTER),
    `every gap between renewals stayed below 8N = ${FAIL_AFTER} s (gaps ${gaps.join(",")})`,
  );
  t.same(
    history.filter((row) => row.nextTimeouts !== 0 || row.nextErrors !== 0),
    [],
    "no renewal attempt failed",
  );
  t.equal(await client.inqLockspace("LS", 1, lockspace), true, "the lockspace is still joined");
  t.notOk(
    fixture.events.some((e) => e.event === "lease-signal" || e.event === "lockspace-failed"),
    "the lease was never reported lost",
  );
  const status = await client.status();
  t.ok(
    status.resources.some((r) => r.resource === "R"),
    "the lease is still held",
  );
  fixture.child.kill("SIGTERM");
  await fixture.waitFor("closed", 30_000);
  t.same(await fixture.exited, { code: 0, signal: null }, "the appliance released, closed its daemon and exited 0");
});

t.test(
  "a stalled lockspace device ends an appliance that ignores its lease signal when sanlock would kill a holder",
  { skip: daemonSkipReason(["sanlock-ts"]) || stallFsSkipReason(), timeout: 120_000 },
  async (t) => {
    const dir = tempLeaseDir(t, "embedded-stall-");
    const stallFs = await mountStallFs(t, { files: { ls: MiB, "ls-release": MiB }, maxStallSeconds: 90 });
    const settings = { IO_TIMEOUT: String(IO_TIMEOUT), KILL_GRACE: String(KILL_GRACE) };
    const fixture = startFixture(t, { MODE: "ignore", ...settings, LOCKSPACE: stallFs.path("ls"), RESOURCE: sparseFile(dir, "res", MiB) });
    // A second appliance on the same stalled mount does what it should: releases when told.
    const releasing = startFixture(t, {
      MODE: "release",
      ...settings,
      LOCKSPACE: stallFs.path("ls-release"),
      RESOURCE: sparseFile(dir, "res-release", MiB),
    });
    // Teardowns run last-in first-out: unstall before the fixture's kill (a process blocked in FUSE cannot die).
    t.teardown(() => stallFs.unstall());
    await Promise.all([fixture.waitFor("acquired", START_TIMEOUT_MS), releasing.waitFor("acquired", START_TIMEOUT_MS)]);
    stallFs.stall();
    const lastRenewal = Number((await readDeltaRecord(stallFs.backingPath("ls"), 1)).leader.timestamp);
    const lastRenewalReleasing = Number((await readDeltaRecord(stallFs.backingPath("ls-release"), 1)).leader.timestamp);
    const told = await fixture.waitFor("lease-signal", (FAIL_AFTER + KILL_GRACE + 30) * 1000);
    const failed = await fixture.waitFor("lockspace-failed", 1000);
    // The kill line is written synchronously just before the SIGKILL; the process cannot finish
    // dying while its renewal worker waits in the stalled FUSE read, so unstall once it is seen.
    const killLine = await waitForLine(fixture.stderr, /kill \d+ SIGKILL: this process holds leases/, (KILL_GRACE + 30) * 1000);
    const killSeenAt = monotonicSeconds();
    // The releasing appliance must outlive its own kill time, still stalled.
    const released = await releasing.waitFor("released", (FAIL_AFTER + KILL_GRACE + 30) * 1000);
    const releasingKillAt = lastRenewalReleasing + FAIL_AFTER + KILL_GRACE;
    while (monotonicSeconds() < releasingKillAt + SLACK_SECONDS) await new Promise((resolve) => setTimeout(resolve, 250));
    const releasingAlive = releasing.child.exitCode === null && releasing.child.signalCode === null;
    stallFs.unstall();
    const exit = await fixture.exited;
    t.equal(exit.signal, "SIGKILL", `the appliance was ended by SIGKILL (${JSON.stringify(exit)})`);
    const lastOnDisk = Number((await readDeltaRecord(stallFs.backingPath("ls"), 1)).leader.timestamp);
    t.equal(lastOnDisk, lastRenewal, "no renewal reached the disk after the stall");
    const toldAfter = told.at - lastRenewal;
    t.ok(
      toldAfter >= FAIL_AFTER && toldAfter <= FAIL_AFTER + SLACK_SECONDS,
      `lease signal ${toldAfter.toFixed(1)} s after the last renewal (8N = ${FAIL_AFTER})`,
    );
    t.equal(failed.lastRenewal, lastRenewal, "the event names the last renewal");
    const killedBy = fixture.events.find((e) => e.event === "lease-signal");
    t.ok(killedBy, "the application saw the signal and ignored it");
    const logged = killLine.monotonic;
    t.ok(
      logged >= lastRenewal + FAIL_AFTER + KILL_GRACE,
      `SIGKILL logged at ${logged - lastRenewal} s after the last renewal, not before 8N + grace = ${FAIL_AFTER + KILL_GRACE}`,
    );
    t.ok(killSeenAt - lastRenewal <= FAIL_AFTER + KILL_GRACE + SLACK_SECONDS + 2, `and seen ${(killSeenAt - lastRenewal).toFixed(1)} s after it`);

    t.ok(
      released.at < releasingKillAt,
      `the appliance that honours its signal released ${(released.at - lastRenewalReleasing).toFixed(1)} s after its last renewal (result ${String(released["result"])})`,
    );
    t.ok(releasingAlive, `and was still running ${SLACK_SECONDS} s after the time sanlock would have killed it`);
    t.notMatch(releasing.stderr(), /SIGKILL: this process holds leases/, "its daemon never decided to end it");
    releasing.child.kill("SIGTERM");
    await releasing.waitFor("closed", 60_000);
    t.same(await releasing.exited, { code: 0, signal: null }, "it closed its daemon and exited 0");
  },
);

/** Waits for a daemon log line; returns it with its monotonic second (the log prefix, log.ts). */
async function waitForLine(text: () => string, pattern: RegExp, timeoutMs: number): Promise<{ line: string; monotonic: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = text()
      .split("\n")
      .find((l) => pattern.test(l) && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d+ \[/.test(l));
    if (line !== undefined) return { line, monotonic: Number(line.split(" ")[2]) };
    if (Date.now() > deadline) throw new Error(`no log line ${pattern} within ${timeoutMs} ms: ${text().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
