/**
 * Spec scenario 20 with `supervise --killpath`, `--state-file` and `client status --json`
 * (docs/sam.md §4.3, §8, §9): a sanlock-ts daemon (io_timeout 1, default kill grace 40 s) whose
 * lockspace and lease live on a loop device. The supervised program holds the lease, sends
 * heartbeats and ignores SIGTERM. The device is made read-only (BLKROSET: every renewal fails, the
 * error target of the spec without device-mapper), so the lockspace fails 8 s after its last
 * renewal:
 *
 * - the daemon runs the program's killpath (registered by the holder, the program's pid appended),
 *   which here only records its arguments;
 * - the supervisor sees the quorum lost, warns (SIGTERM, ignored), and SIGKILLs one interval later,
 *   long before the daemon's 40-s grace period would end in its own SIGKILL.
 *
 * Before the failure: `client status --json` lists the supervisor as a "supervised" record, and the
 * state file holds the lease the instance reported.
 */
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { SanlockClient } from "../packages/client/src/index.js";
import {
  collectJsonLines,
  createLoopDevice,
  daemonSkipReason,
  loopDeviceSkipReason,
  OUR_CLI,
  sleep,
  startDaemon,
  tempLeaseDir,
  waitFor,
} from "./support/index.js";

const run = promisify(execFile);
const MiB = 1 << 20;
const LS = "SAMFAIL";
const RES = "held";
const INTERVAL_MS = 2000;
const WAIT_MS = 40_000;
/** The daemon's default kill grace (sanlock -g 40): its own SIGKILL of a SIGTERM-ignoring holder. */
const DAEMON_GRACE_MS = 40_000;
/** Scheduling slack on top of one interval (the machine is shared). */
const SLACK_MS = 3000;

const skip = daemonSkipReason("sanlock-ts") || loopDeviceSkipReason();

t.test("lockspace failure: killpath run by the daemon, SIGTERM ignored, SIGKILL by the supervisor one interval later", { skip }, async (t) => {
  const dir = tempLeaseDir(t, "sam-lsfail-");
  const loop = await createLoopDevice(t, { sizeBytes: 3 * MiB });
  await run("losetup", ["--direct-io=on", loop.path]).catch(() => undefined);
  t.teardown(() => run("blockdev", ["--setrw", loop.path]).catch(() => undefined));
  const daemon = await startDaemon(t, { kind: "sanlock-ts", dir });
  const client = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 60_000 });
  await client.writeLockspace(LS, loop.path, { iotimeout: 1 });
  await client.writeResource(LS, RES, [{ path: loop.path, offset: MiB }]);
  await client.addLockspace(LS, 1, loop.path, { iotimeout: 1 });

  const marker = join(dir, "killpath.out");
  const killpath = join(dir, "killpath.sh");
  writeFileSync(killpath, `#!/bin/sh\necho "$@" >> ${marker}\n`);
  chmodSync(killpath, 0o755);
  const stateFile = join(dir, "state.json");
  const statusDir = join(daemon.runDir, "sam"); // client status --json reads $SANLOCK_RUN_DIR/sam
  const program = ["sh", "-c", `trap "" TERM; while :; do echo HB >&3; sleep 0.2; done`];
  const args = ["--json", "--status-dir", statusDir, "--name", "stubborn", "--state-file", stateFile];
  args.push("-r", `${LS}:${RES}:${loop.path}:${MiB}`, "-i", String(INTERVAL_MS), "--policy", "quit", "--killpath", `${killpath} tag1`);
  const child = spawn("/usr/bin/env", ["-u", "NODE_OPTIONS", process.execPath, OUR_CLI, "supervise", ...args, "--", ...program], {
    env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const output = collectJsonLines<{ type: string; at: number; [key: string]: unknown }>(child.stderr);
  const events = output.items;
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const e of events) if (e.type === "spawned" && typeof e.pid === "number") killGroup(e.pid);
  });
  const find = (type: string): (typeof events)[number] | undefined => events.find((e) => e.type === type);
  const wait = (type: string, ms = WAIT_MS): Promise<void> =>
    waitFor(() => find(type) !== undefined, `event ${type}`, ms).catch((err: Error) => {
      throw new Error(`${err.message}: ${output.text().slice(-3000)}`);
    });

  await wait("started");
  const pid = find("spawned")?.pid as number;
  const leases = await waitForValue("the LEASES report", () => find("leases")?.leases as string | undefined);
  t.match(leases, new RegExp(`^${LS}:${RES}:${loop.path}:${MiB}:\\d+$`), "the instance reported its lease");
  const held = await client.status();
  t.equal(held.resources.find((r) => r.resource === RES)?.pid, pid, "the program itself holds the lease");

  // client status --json: the daemon's records, then one "supervised" record per supervisor.
  const status = await run(process.execPath, [OUR_CLI, "client", "status", "--json"], { env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir } });
  const records = JSON.parse(status.stdout) as { type: string; [key: string]: unknown }[];
  t.ok(
    records.some((r) => r.type === "lockspace"),
    "the daemon's records are still there",
  );
  t.match(
    records.filter((r) => r.type === "supervised"),
    [
      {
        type: "supervised",
        name: "stubborn",
        supervisor_pid: child.pid,
        state: "running",
        worker_pid: pid,
        instance_id: 1,
        recovery: "quit",
        leases,
        stale: false,
      },
    ],
    "the supervisor, as a record of type supervised",
  );
  t.match(JSON.parse(readFileSync(stateFile, "utf8")), { version: 1, leases, data: null }, "the state file holds the reported lease");

  // The storage fails: every write of the device is refused from now on.
  await run("blockdev", ["--setro", loop.path]);
  const failedAt = Date.now();
  await wait("warned");
  await wait("killed", INTERVAL_MS + SLACK_MS + 5000);
  const warned = find("warned") as (typeof events)[number];
  const killed = find("killed") as (typeof events)[number];
  t.match(warned, { instanceId: 1, signal: "SIGTERM", reason: "quorum" }, "quorum lost: the warning");
  t.ok(warned.at - failedAt >= 5000, `not before the renewals had failed for a while (${warned.at - failedAt} ms)`);
  t.match(killed, { instanceId: 1, signal: "SIGKILL", reason: "quorum" }, "the ignored warning is followed by SIGKILL");
  const gap = killed.at - warned.at;
  t.ok(gap >= INTERVAL_MS - 100 && gap <= INTERVAL_MS + SLACK_MS, `SIGKILL one interval after the warning (${gap} ms)`);
  t.ok(gap < DAEMON_GRACE_MS, "long before the daemon's grace period would end");
  t.equal(await exited, 137, "quit policy: the supervisor exits with 128 + SIGKILL");
  t.match(find("exited"), { instanceId: 1, signal: "SIGKILL" }, "the program died of the supervisor's SIGKILL");

  // The daemon ran the killpath when the lockspace failed, with the program's pid appended.
  await waitFor(() => existsSync(marker), "the killpath's output", WAIT_MS);
  const lines = readFileSync(marker, "utf8").trim().split("\n");
  t.equal(lines[0], `tag1 ${pid}`, "killpath ran with its argument and the program's pid");
  t.match(JSON.parse(readFileSync(join(statusDir, `${child.pid}.json`), "utf8")), { state: "failed" }, "the failed entry stays");
});

async function waitForValue<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}
