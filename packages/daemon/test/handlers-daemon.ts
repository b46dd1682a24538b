/**
 * Test helper (not a test): starts sanlock-ts daemons with the lease engine and handlers,
 * the real sanlock daemon, and runs the real clients against them. Everything started is
 * stopped in the test's teardown, also on failure.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Test } from "tap";
import { startDaemon, type RunningDaemon } from "../src/main.js";
import { DEFAULT_SETTINGS } from "../src/options.js";
import { createLeaseEngine, registerLeaseHandlers } from "../src/handlers/index.js";
import { LockspaceSet } from "../src/lockspaces/lockspace-set.js";

export const PYTHON = "/usr/bin/python3";
export const hasSanlock = existsSync("/usr/sbin/sanlock") || existsSync("/usr/bin/sanlock");
/** O_DIRECT needs a real filesystem (not tmpfs). */
export const LEASE_ROOT = process.env["SANLOCK_TS_TEST_DIR"] ?? "/var/tmp";

export function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(LEASE_ROOT, prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface OurDaemon {
  readonly runDir: string;
  readonly daemon: RunningDaemon;
  readonly engine: LockspaceSet;
}

/** A sanlock-ts daemon on its own run dir, lease engine plugged in. */
export async function startOurDaemon(t: Test, hostName = `slts-${process.pid}-${Math.random().toString(36).slice(2, 8)}`): Promise<OurDaemon> {
  const runDir = tempDir(t, "slts-run-");
  const daemon = await startDaemon({
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

function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}

/** The real sanlock 3.8.5 daemon, unprivileged, no watchdog, on its own run dir. */
export async function startRealDaemon(t: Test): Promise<string> {
  const runDir = tempDir(t, "slts-real-");
  const child: ChildProcess = spawn("sanlock", ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"], {
    env: { ...process.env, SANLOCK_RUN_DIR: runDir, SANLOCK_PRIVILEGED: "0" },
    stdio: "ignore",
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  await waitFor(() => existsSync(join(runDir, "sanlock.sock")), "the real daemon's socket");
  return runDir;
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
export function spawnPython(t: Test, runDir: string, code: string): ChildProcess & { lines: string[] } {
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
