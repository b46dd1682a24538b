/**
 * docs/sam.md §4.3, spec scenario 21: an instance that cannot be reaped after SIGKILL. The
 * program reads a file whose I/O hangs in the kernel (a stalled FUSE file: test/support/stall-fs),
 * so it sits in uninterruptible sleep, and a SIGKILL stays pending until the read returns. The
 * supervisor must not spawn a second instance while the first one is not reaped (it could still
 * write to shared storage), and a stop request ends the supervisor only after the reap.
 *
 * Not observable from outside: the SIGKILL repeated every second (a pending SIGKILL absorbs the
 * next); what this test checks are the consequences the rule exists for.
 */
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { collectJsonLines, environmentSkip, mountStallFs, OUR_CLI, sleep, stallFsSkipReason, tempLeaseDir, waitFor } from "./support/index.js";

const skip = environmentSkip(existsSync(OUR_CLI) ? false : "packages/cli/dist is not built (run pnpm build)") || stallFsSkipReason();
const WAIT_MS = 30_000;
/** How long the test watches the killed, unreaped instance (several of the supervisor's 1-s SIGKILL repeats). */
const WATCH_MS = 3500;

/** The process state letter of /proc/PID/stat ("D" = uninterruptible sleep), or undefined when gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

t.test("an instance in uninterruptible sleep: killed, never replaced before its reap; a stop request waits for it", { skip }, async (t) => {
  const fs = await mountStallFs(t, { files: { disk: 1 << 20 }, maxStallSeconds: 60 });
  const statusDir = join(tempLeaseDir(t, "sam-unreapable-"), "sam");
  fs.stall();
  // --warn-signal SIGKILL: the first missed deadline kills. The program never sends a heartbeat:
  // it hangs in its first read.
  const child = spawn(
    "/usr/bin/env",
    [
      "-u",
      "NODE_OPTIONS",
      process.execPath,
      OUR_CLI,
      "supervise",
      "--json",
      "--status-dir",
      statusDir,
      "--name",
      "stuck",
      "-i",
      "2000",
      "--warn-signal",
      "SIGKILL",
      "--restart-delay",
      "0",
      "--restart-limit",
      "none",
      "--",
      "cat",
      fs.path("disk"),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const output = collectJsonLines<{ type: string; at: number; [key: string]: unknown }>(child.stderr);
  const events = output.items;
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  // After the processes that use the mount (tap runs teardowns last-in first-out): unstall first.
  t.teardown(() => fs.unstall());
  const find = (type: string): (typeof events)[number] | undefined => events.find((e) => e.type === type);

  await waitFor(() => find("started") !== undefined, "instance 1 started", WAIT_MS);
  const pid = find("spawned")?.pid as number;
  await waitFor(() => procState(pid) === "D", "the program blocked in its read (state D)", WAIT_MS);
  await waitFor(() => find("killed") !== undefined, "the SIGKILL at the deadline", WAIT_MS);
  t.match(find("killed"), { instanceId: 1, signal: "SIGKILL", reason: "health" }, "SIGKILL at the first missed deadline");

  await sleep(WATCH_MS);
  t.equal(procState(pid), "D", "the killed program is still there, in uninterruptible sleep");
  t.equal(find("exited"), undefined, "no exit seen: the instance is not reaped");
  t.equal(events.filter((e) => e.type === "spawned").length, 1, "no second instance while the first is not reaped");
  const entry = JSON.parse(readFileSync(join(statusDir, `${child.pid}.json`), "utf8")) as { state: string; instance_id: number; worker_pid: number };
  t.match(entry, { state: "running", instance_id: 1, worker_pid: pid }, "the status entry still shows the unreaped instance");

  // A stop request (SIGTERM to the supervisor) cannot end it either while the instance lives.
  child.kill("SIGTERM");
  await sleep(WATCH_MS);
  t.equal(child.exitCode, null, "the supervisor waits for the reap");
  t.equal(events.filter((e) => e.type === "spawned").length, 1, "still one instance");

  // Storage answers again: the read returns, the pending SIGKILL ends the program, then the supervisor.
  const unstalledAt = Date.now();
  fs.unstall();
  const code = await exited;
  t.match(find("exited"), { instanceId: 1, signal: "SIGKILL" }, "reaped once its read returned");
  t.ok((find("exited")?.at ?? 0) >= unstalledAt - 100, "not before the storage came back");
  t.equal(events.filter((e) => e.type === "spawned").length, 1, "no restart after a stop request");
  t.equal(find("restarting"), undefined);
  t.equal(code, 137, "the instance's status: 128 + SIGKILL");
  t.notOk(existsSync(join(statusDir, `${child.pid}.json`)), "the stopped supervisor removed its entry");
  if (t.passing() === false) t.comment(output.text().slice(-3000));
});
