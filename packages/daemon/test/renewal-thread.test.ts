// The daemon's one renewal worker (lockspaces/renewal-thread.ts, renewal-worker.ts): several
// lockspaces joined in worker mode share one worker thread and each renews on its own
// (docs/algorithms.md §2.3); the worker stops with the last lockspace; a worker that ends takes
// every lockspace it served to failing renewal and then recovery at last_success + 8N (docs/algorithms.md §2.4),
// never leaving one looking healthy; the next lockspace starts a new worker.
import t from "tap";
import type { Test } from "tap";
import { decodeDeltaSector, geometryFor, initLockspaceArea } from "@sanlock-ts/core";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Lockspace } from "../src/lockspaces/lockspace.js";
import { currentRenewalThread } from "../src/lockspaces/renewal-thread.js";
import { openDirectDevice } from "../src/device/index.js";

const MB = 1048576;
const GEOMETRY = geometryFor(512, MB);
const IO_TIMEOUT = 1;
/** Recovery comes at a gap of 8N; the gap check runs once a second (docs/algorithms.md §2.4). */
const RECOVERY_WAIT_MS = (8 * IO_TIMEOUT + 4) * 1000;

interface Joined {
  readonly ls: Lockspace;
  readonly path: string;
  readonly logs: string[];
  readonly recoveries: string[];
}

async function lockspaceFile(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(MB));
  const device = await openDirectDevice(path);
  await initLockspaceArea(device, { offset: 0, spaceName: name, geometry: GEOMETRY, ioTimeout: IO_TIMEOUT });
  await device.close();
  return path;
}

function testDir(t: Test): string {
  const dir = mkdtempSync(join(process.env["SANLOCK_TS_TEST_DIR"] ?? "/var/tmp", "slts-rt-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Joins lockspace `name` as host 1 in worker mode; left in teardown. */
async function join1(t: Test, dir: string, name: string, spaceId: number): Promise<Joined> {
  const path = await lockspaceFile(dir, name);
  const logs: string[] = [];
  const recoveries: string[] = [];
  const ls = new Lockspace({ name, hostId: 1, path, offset: 0n, ioTimeout: IO_TIMEOUT }, spaceId, {
    hostName: `rt-${name}`,
    onRecovery: (_ls, reason) => recoveries.push(reason),
    onNotifications: () => {},
    log: (_level, message) => logs.push(message),
  });
  t.teardown(() => ls.leave());
  t.equal(await ls.join(), 0, `${name} joined`);
  return { ls, path, logs, recoveries };
}

async function readOwnRecord(path: string) {
  const device = await openDirectDevice(path);
  try {
    return decodeDeltaSector(await device.read(0, 512), 0, {}).leader;
  } finally {
    await device.close();
  }
}

t.test("lockspaces share one worker, each renews on its own, the worker stops with the last", async (t) => {
  const dir = testDir(t);
  const joined = await Promise.all(["RTA", "RTB", "RTC"].map((name, i) => join1(t, dir, name, 100 + i)));
  const thread = currentRenewalThread();
  t.ok(thread?.isRunning, "a renewal worker runs");
  t.equal(thread?.clientCount, 3, "one worker serves the three lockspaces");
  const before = joined.map((j) => j.ls.renewal.lastSuccess);
  await sleep(5000);
  joined.forEach((j, i) => {
    t.ok(j.ls.renewal.lastSuccess >= before[i]! + 2, `${j.ls.name} renewed (${before[i]} → ${j.ls.renewal.lastSuccess})`);
    t.equal(j.ls.renewal.lastResult, 0, `${j.ls.name}: last attempt succeeded`);
    t.ok((j.ls.hostStatus?.snapshot(1)?.timestamp ?? 0n) > 0n, `${j.ls.name}: the main thread's host table follows the reads`);
    t.equal(j.ls.hostStatus?.snapshot(1)?.ownerName, `rt-${j.ls.name}`, `${j.ls.name}: its own record, not another lockspace's`);
  });
  t.equal(currentRenewalThread(), thread, "still the same worker");
  for (const j of joined) await j.ls.leave();
  t.equal(currentRenewalThread(), undefined, "the worker stopped with the last lockspace");
  for (const j of joined) {
    const record = await readOwnRecord(j.path);
    t.equal(record.timestamp, 0n, `${j.ls.name}: delta release written`);
    t.equal(record.resourceName, `rt-${j.ls.name}`);
  }
});

t.test("a worker that ends leaves no lockspace healthy; the next lockspace gets a new worker", async (t) => {
  const dir = testDir(t);
  const joined = await Promise.all(["RTX", "RTY"].map((name, i) => join1(t, dir, name, 200 + i)));
  const thread = currentRenewalThread();
  if (thread === undefined) throw new Error("no renewal worker after two joins");
  const firstThreadId = thread.threadId;
  await thread.kill();
  await sleep(200);
  for (const j of joined) {
    t.equal(j.ls.renewal.lastResult, -201, `${j.ls.name}: a failed attempt is recorded at once`);
    t.match(j.ls.stateFields(), /renew_fail=1/, `${j.ls.name}: STATUS shows renew_fail=1`);
    t.ok(
      j.logs.some((line) => /renewal worker exited/.test(line)),
      `${j.ls.name}: the end of the worker is logged`,
    );
  }
  const deadline = Date.now() + RECOVERY_WAIT_MS;
  while (joined.some((j) => j.ls.state !== "recovery") && Date.now() < deadline) await sleep(250);
  for (const j of joined) {
    t.equal(j.ls.state, "recovery", `${j.ls.name}: in recovery (${j.recoveries.join("; ")})`);
    t.equal(j.ls.isUsable(1, j.ls.generation), false, `${j.ls.name}: no lease may be linked to it`);
  }
  const next = await join1(t, dir, "RTZ", 210);
  const second = currentRenewalThread();
  t.ok(second !== undefined && second.threadId !== firstThreadId, "a new worker serves the new lockspace");
  const before = next.ls.renewal.lastSuccess;
  await sleep(3500);
  t.ok(next.ls.renewal.lastSuccess >= before + 2, "the new lockspace renews");
  t.equal(second?.clientCount, 1, "the old lockspaces are not attached to the new worker");
});
