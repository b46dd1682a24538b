/**
 * A sanlock-ts daemon in the test's own process, with the lease engine plugged in as the CLI's
 * daemon has it, for tests that look inside (the engine, its lockspaces) while real clients
 * drive it; and the real clients themselves (the sanlock command, python3-sanlock) as child
 * processes. Everything started is stopped in the test's teardown, also on failure. A daemon in
 * a process of its own, of either kind, is daemons.ts startDaemon.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { startDaemon as startDaemonInProcess, type RunningDaemon } from "../../packages/daemon/src/main.js";
import { DEFAULT_SETTINGS } from "../../packages/daemon/src/options.js";
import { createLeaseEngine, registerLeaseHandlers } from "../../packages/daemon/src/handlers/index.js";
import { LockspaceSet } from "../../packages/daemon/src/lockspaces/lockspace-set.js";
import { startDaemon } from "./daemons.js";
import { PYTHON } from "./env.js";
import { tempLeaseDir, type Teardown } from "./files.js";

export interface InProcessDaemon {
  readonly runDir: string;
  readonly daemon: RunningDaemon;
  readonly engine: LockspaceSet;
}

/** A sanlock-ts daemon in this process on its own run dir, lease engine plugged in. */
export async function startInProcessDaemon(t: Teardown, hostName = `slts-${process.pid}-${Math.random().toString(36).slice(2, 8)}`): Promise<InProcessDaemon> {
  const runDir = tempLeaseDir(t, "slts-run-");
  const daemon = await startDaemonInProcess({
    settings: { ...DEFAULT_SETTINGS, useWatchdog: false, socketUser: "root", socketGroup: "root", ourHostName: hostName },
    environment: { runDir, privileged: false },
    lockspaces: (log) => createLeaseEngine({ log }),
    registerCommands: registerLeaseHandlers,
  });
  const engine = daemon.server.lockspaces;
  if (!(engine instanceof LockspaceSet)) throw new Error("the daemon did not take the lease engine");
  t.teardown(async () => {
    await daemon.server.requestShutdown(true);
    await daemon.exited;
  });
  return { runDir, daemon, engine };
}

/**
 * Runs one scenario against the real sanlock daemon and an in-process sanlock-ts daemon at the same
 * time, each with its own run dir, and returns both outcomes for the test to compare.
 */
export async function onRealAndOurs<T>(t: Teardown, scenario: (runDir: string) => Promise<T>): Promise<{ real: T; ours: T }> {
  const ours = await startInProcessDaemon(t);
  const real = await startDaemon(t, { kind: "sanlock" });
  const [realOutcome, ourOutcome] = await Promise.all([scenario(real.runDir), scenario(ours.runDir)]);
  return { real: realOutcome, ours: ourOutcome };
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a client program asynchronously (our daemon serves it on this event loop). */
export function runClient(runDir: string, file: string, args: readonly string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env: { ...process.env, SANLOCK_RUN_DIR: runDir }, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export const python = (runDir: string, code: string, timeoutMs?: number): Promise<Run> => runClient(runDir, PYTHON, ["-c", code], timeoutMs);

/** A long-running python client (e.g. holding a lease); killed in teardown. */
export function spawnPython(t: Teardown, runDir: string, code: string): ChildProcess & { lines: string[] } {
  const child = spawn(PYTHON, ["-u", "-c", code], {
    env: { ...process.env, SANLOCK_RUN_DIR: runDir },
    stdio: ["pipe", "pipe", "inherit"],
  }) as ChildProcess & { lines: string[] };
  child.lines = [];
  let rest = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split("\n");
    rest = parts.pop() ?? "";
    child.lines.push(...parts);
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  return child;
}

/** Resolves once `child` printed a line starting with `prefix` (or rejects after `ms`). */
export function waitForLine(child: { lines: string[] }, prefix: string, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const line = child.lines.find((l) => l.startsWith(prefix));
      if (line !== undefined) return resolve(line);
      if (Date.now() > deadline) return reject(new Error(`no line "${prefix}" within ${ms} ms; got ${JSON.stringify(child.lines)}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}
