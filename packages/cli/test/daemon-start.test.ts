// `sanlock-ts daemon` starts the daemon without yargs (daemon-fast.ts): the daemon's own option
// reader takes a valid line, so the long-running process does not carry yargs' modules. A line
// that reader refuses still goes to yargs for its usage and error. Structural: a module hook
// records every module the daemon process loads. Needs `pnpm build` first.
import t from "tap";
import { environmentSkip } from "../../../test/support/index.js";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runPlainDaemonLine } from "../src/daemon-fast.js";
import type { Output } from "../src/output.js";
import { MODULE_LOAD_LOG_IMPORT } from "./module-load-log.js";

const CLI = fileURLToPath(new URL("../dist/main.cjs", import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

t.test("a line the daemon's option reader refuses is left to yargs", async (t) => {
  const lines: string[] = [];
  const output: Output = { line: (text: string) => lines.push(text), error: (text: string) => lines.push(text) } as unknown as Output;
  t.equal(await runPlainDaemonLine(["daemon", "--bogus"], output), undefined);
  t.equal(await runPlainDaemonLine(["daemon", "-w"], output), undefined, "an option without its value");
  t.same(lines, [], "nothing printed, nothing started");
});

t.test("the daemon runs without yargs", { skip: environmentSkip(!existsSync(CLI) && "build the CLI first (pnpm build)") }, async (t) => {
  const dir = await mkdtemp("/var/tmp/sanlock-ts-daemon-start-");
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const runDir = join(dir, "run");
  const logPath = join(dir, "loads.txt");
  const env = { ...process.env, LOAD_LOG: logPath, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir };
  const register = MODULE_LOAD_LOG_IMPORT;
  const child = spawn(process.execPath, ["--import", register, CLI, "daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8192)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  let up = false;
  while (!up && Date.now() < deadline && child.exitCode === null) {
    up = existsSync(join(runDir, "sanlock.sock")) && (await canConnect(join(runDir, "sanlock.sock")));
    if (!up) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.ok(up, `the daemon accepts connections (stderr: ${stderr.slice(-500)})`);
  child.kill("SIGTERM");
  const stop = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(stop);

  const urls = (await readFile(logPath, "utf8")).split("\n").filter((line) => line !== "");
  t.ok(
    urls.some((url) => /daemon\/dist\/main\.js$/.test(url)),
    "the daemon module was loaded",
  );
  t.same(
    urls.filter((url) => /\/yargs(-parser)?[@/]|\/yargs-runner\.js$/.test(url)),
    [],
    "no yargs module",
  );
});
