/**
 * `supervise --state-file` (docs/sam.md §8.1), real processes, no daemon: what SAM keeps in its
 * parent's memory (the stored data, the warn signal) survives the supervisor itself.
 *
 * 1. Supervisor A: its program finds no data (SANLOCK_TS_SAM_DATA unset), stores "abc" and sets
 *    the warn signal SIGUSR2 (both answered OK only once on disk), then sleeps. A is SIGKILLed;
 *    its program dies with it (PDEATHSIG).
 * 2. Supervisor B on the same file: its instance 1 gets the data "abc" and the warn signal
 *    SIGUSR2: hung (no heartbeat), it is warned with SIGUSR2, not SIGTERM.
 * 3. A file that is not a state file: usage failure, exit 1, nothing spawned.
 */
import t from "tap";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { collectJsonLines, environmentSkip, OUR_CLI, processAlive, tempLeaseDir, waitFor } from "./support/index.js";

const skip = environmentSkip(existsSync(OUR_CLI) ? false : "packages/cli/dist is not built (run pnpm build)");
const WAIT_MS = 30_000;

interface Supervise {
  readonly pid: number;
  readonly events: { type: string; [key: string]: unknown }[];
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** The built CLI's supervise, its JSON events collected (without tap's NODE_OPTIONS preloads). */
function supervise(args: string[]): Supervise {
  const child = spawn("/usr/bin/env", ["-u", "NODE_OPTIONS", process.execPath, OUR_CLI, "supervise", "--json", "--no-status", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const output = collectJsonLines<Supervise["events"][number]>(child.stderr);
  const events = output.items;
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const e of events) if (e.type === "spawned" && typeof e.pid === "number") killGroup(e.pid);
  });
  if (child.pid === undefined) throw new Error("supervise did not start");
  return { pid: child.pid, events, exited, stderr: output.text };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** PROGRAM: logs what it got; without data it stores "abc", sets SIGUSR2, then hangs without heartbeats. */
const PROGRAM = [
  "#!/bin/sh",
  'log="$1"',
  'echo "instance $SANLOCK_TS_SAM_INSTANCE data ${SANLOCK_TS_SAM_DATA:--}" >> "$log"',
  'if [ -z "$SANLOCK_TS_SAM_DATA" ]; then',
  '  echo "STORE $(printf abc | base64)" >&3',
  "  read -r store <&3",
  '  echo "WARN SIGUSR2" >&3',
  "  read -r warn <&3",
  '  echo "replies $store $warn" >> "$log"',
  "fi",
  `trap 'echo "got SIGUSR2" >> "$log"; exit 9' USR2`,
  "while :; do sleep 0.1; done",
  "",
].join("\n");

t.test("--state-file keeps data and warn signal across a SIGKILLed supervisor", { skip }, async (t) => {
  const dir = tempLeaseDir(t, "sam-state-");
  const program = join(dir, "program.sh");
  const log = join(dir, "log");
  const state = join(dir, "state.json");
  writeFileSync(program, PROGRAM);
  chmodSync(program, 0o755);
  writeFileSync(log, "");
  const lines = (): string[] =>
    readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l !== "");

  // 1. Supervisor A: no interval (no deadline), so the program lives until A is killed.
  const a = supervise(["--state-file", state, "--", program, log]);
  await waitFor(() => lines().some((l) => l.startsWith("replies")), `program of A stored its data: ${a.stderr()}`, WAIT_MS);
  t.same(lines(), ["instance 1 data -", "replies OK OK"], "instance 1 of A found no data; STORE and WARN answered OK");
  const saved = JSON.parse(readFileSync(state, "utf8")) as { version: number; data: string | null; warn_signal: string; leases: string };
  t.same(saved, { version: 1, data: Buffer.from("abc").toString("base64"), warn_signal: "SIGUSR2", leases: "" }, "the state file, written before the OK");
  const pidA = a.events.find((e) => e.type === "spawned")?.pid as number;
  process.kill(a.pid, "SIGKILL");
  await a.exited;
  await waitFor(() => !processAlive(pidA), "A's program gone with its supervisor", WAIT_MS);

  // 2. Supervisor B, same file: the data and the warn signal come back; the hung program is warned with SIGUSR2.
  const b = supervise(["--state-file", state, "-i", "500", "--policy", "quit", "--", program, log]);
  const code = await b.exited;
  t.equal(lines()[2], `instance 1 data ${Buffer.from("abc").toString("base64")}`, "instance 1 of B gets A's data (SANLOCK_TS_SAM_DATA)");
  t.match(
    b.events.find((e) => e.type === "warned"),
    { instanceId: 1, signal: "SIGUSR2", reason: "health" },
    "B warns with the warn signal A's program set",
  );
  t.ok(lines().includes("got SIGUSR2"), "the program received SIGUSR2");
  t.equal(code, 9, "the program's exit status (quit policy)");
  t.equal(b.events.filter((e) => e.type === "spawned").length, 1);
  t.equal(JSON.parse(readFileSync(state, "utf8")).data, Buffer.from("abc").toString("base64"), "the file outlives the supervisors");

  // 3. Not a state file: refused before anything runs.
  const bad = join(dir, "bad.json");
  writeFileSync(bad, '{"version": 7}\n');
  const c = supervise(["--state-file", bad, "--", program, log]);
  t.equal(await c.exited, 1, "exit 1");
  t.match(c.stderr(), /stateFile.*not a SAM state file/, c.stderr());
  t.equal(c.events.filter((e) => e.type === "spawned").length, 0, "nothing spawned");
});
