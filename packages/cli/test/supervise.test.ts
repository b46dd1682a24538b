// `sanlock-ts supervise` without a daemon (docs/sam.md §9): its argument reader (usage errors
// exit 1 before anything runs, and the yargs path passes the same words on), a program
// supervised through --health-cmd, and a program without leases that keeps failing until the
// restart limit, with its status entry read back by `--list --json`.
import t from "tap";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runCli } from "../src/cli.js";
import { superviseWords } from "../src/commands/supervise.js";
import { parseSuperviseArgs } from "../src/supervise/args.js";
import type { Output } from "../src/output.js";
import { environmentSkip } from "../../../test/support/index.js";

const CLI = fileURLToPath(new URL("../dist/main.cjs", import.meta.url));
const skip = environmentSkip(existsSync(CLI) ? false : "packages/cli/dist is not built (run pnpm build)");

function capture(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, line: (s) => lines.push(s), error: (s) => errors.push(s) };
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly events: { type: string; [key: string]: unknown }[];
}

/** Runs the built CLI to its end (without tap's NODE_OPTIONS preloads, which catch SIGTERM). */
function cli(args: string[], onEvent?: (e: { type: string }) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn("/usr/bin/env", ["-u", "NODE_OPTIONS", process.execPath, CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let partial = "";
    const events: Run["events"] = [];
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => {
      const lines = (partial + c.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as Run["events"][number];
        events.push(event);
        onEvent?.(event);
      }
    });
    const limit = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("close", (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, events });
    });
  });
}

t.test("usage errors exit 1 and name the problem", async (t) => {
  const cases: [string[], RegExp][] = [
    [["supervise"], /needs -- PROGRAM/],
    [["supervise", "-i", "soon", "--", "true"], /-i needs milliseconds/],
    [["supervise", "--policy", "never", "--", "true"], /--policy must be quit or restart/],
    [["supervise", "--restart-limit", "5", "--", "true"], /--restart-limit needs N\/SECONDS or none/],
    [["supervise", "--health-cmd", "true", "--", "true"], /--health-cmd needs an interval/],
    [["supervise", "-r", "LS:RES", "--", "true"], /LOCKSPACE:NAME:PATH:OFFSET/],
    [["supervise", "--frobnicate", "--", "true"], /unknown option "--frobnicate"/],
  ];
  for (const [argv, message] of cases) {
    const out = capture();
    t.equal(await runCli(argv, out), 1, argv.join(" "));
    t.match(out.errors.join("\n"), message);
  }
});

t.test("options until --, then PROGRAM untouched; the yargs path passes the same words", async (t) => {
  const args = parseSuperviseArgs(["-r", "LS:R:/p:0", "-r", "LS:S:/p:1048576", "-i", "500", "--policy", "quit", "--", "sh", "-c", "echo -i --policy"]);
  t.same(args.resources, ["LS:R:/p:0", "LS:S:/p:1048576"]);
  t.equal(args.intervalMs, 500);
  t.equal(args.policy, "quit");
  t.same(args.program, ["sh", "-c", "echo -i --policy"]);
  t.same(parseSuperviseArgs(["--", "true"]).restartLimit, undefined, "default restart limit (5 in 10 s)");
  t.same(parseSuperviseArgs(["--restart-limit", "none", "--", "true"]).restartLimit, null);
  t.same(superviseWords({ words: ["-i", "500"], "--": ["sh", "-c", "x"] }), ["-i", "500", "--", "sh", "-c", "x"]);
});

/** Both process scenarios start when the file loads (they wait on timers); each subtest awaits its own. */
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const healthDir = skip ? "" : scratchDir("supervise-health-");
const healthy = join(healthDir, "healthy");
const healthRun = skip
  ? undefined
  : (writeFileSync(healthy, ""),
    cli(["supervise", "--json", "--no-status", "-i", "800", "--policy", "quit", "--health-cmd", `test -e ${healthy}`, "--", "sleep", "600"], (e) => {
      // Healthy for a while after the start, then the check fails.
      if (e.type === "started") setTimeout(() => rmSync(healthy, { force: true }), 2000);
    }));
const listDir = skip ? "" : scratchDir("supervise-list-");
const flakyRun = skip
  ? undefined
  : cli(["supervise", "--json", "--status-dir", listDir, "--name", "flaky", "--restart-limit", "1/60", "--restart-delay", "0", "--", "sh", "-c", "exit 3"]);

t.test("--health-cmd: a failing check stops the heartbeats; warned, then the program is gone", { skip }, async (t) => {
  const run = (await healthRun) as Run;
  const types = run.events.map((e) => e.type);
  t.ok(types.indexOf("started") < types.indexOf("warned"), `started, then warned: ${types.join(",")}`);
  t.match(
    run.events.find((e) => e.type === "warned"),
    { signal: "SIGTERM", reason: "health" },
  );
  t.match(
    run.events.find((e) => e.type === "exited"),
    { signal: "SIGTERM" },
    "sleep ended by the warning",
  );
  t.equal(run.code, 143);
});

t.test("a program without leases that keeps failing: restart limit, failed entry in --list", { skip }, async (t) => {
  const run = (await flakyRun) as Run;
  const dir = listDir;
  t.equal(run.events.filter((e) => e.type === "spawned").length, 2, "instance 1 and one restart");
  t.match(
    run.events.find((e) => e.type === "failed"),
    { reason: "restart_limit" },
  );
  t.equal(run.code, 3, "the program's exit status");
  const list = await cli(["supervise", "--list", "--json", "--status-dir", dir]);
  const entries = JSON.parse(list.stdout) as { name: string; state: string; restarts: number; instance_id: number; recovery: string }[];
  t.match(entries, [{ name: "flaky", state: "failed", restarts: 1, instance_id: 2, recovery: "restart" }]);
  const text = await cli(["supervise", "--list", "--status-dir", dir]);
  t.match(text.stdout, /^\d+ flaky failed instance 2 pid - restarts 1 restart 0ms leases -$/m);
});
