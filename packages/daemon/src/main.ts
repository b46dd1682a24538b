#!/usr/bin/env node
/**
 * `sanlock daemon` entry (sanlock 3.8.5 main.c do_daemon, docs/wire.md §2.2).
 *
 * Order as in sanlock: defaults < sanlock.conf < command line; without -D the daemon
 * detaches (sanlock calls daemon(3); Node cannot fork, so we start ourselves again, detached,
 * with -D semantics); run dir; pid file lock (a second daemon exits 1 here); in privileged
 * mode switch to the socket user/group; socket; serve until shutdown.
 */
import { SanlockTsError } from "@sanlock-ts/core";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { AsyncFdSink, DaemonLog } from "./log.js";
import {
  DEFAULT_RUN_DIR,
  DEFAULT_SETTINGS,
  HOST_NAME_MAX,
  applyOptionValues,
  readDaemonEnvironment,
  splitDaemonArgs,
  type DaemonEnvironment,
  type DaemonSettings,
} from "./options.js";
import { acquirePidFile, type HeldPidFile } from "./pid-file.js";
import { prepareRunDir, resolveSocketOwner, type SocketOwner } from "./run-dir.js";
import { defaultCommandRegistry } from "./commands/index.js";
import type { CommandRegistry } from "./dispatch.js";
import { createLeaseEngine, registerLeaseHandlers, type LeaseEngineOptions } from "./handlers/index.js";
import { DaemonServer } from "./server.js";
import { DlmService } from "./dlm/dlm-service.js";
import { LockspaceSet } from "./lockspaces/lockspace-set.js";
import type { Lockspace } from "./lockspaces/lockspace.js";
import { DaemonMetrics } from "./metrics.js";
import { registerMetricsCommand } from "./commands/metrics.js";
import { logCommands } from "./command-log.js";
import { DAEMON_THREADPOOL_SIZE, applyDaemonThreadpoolSize, reexecWithDaemonThreadpool } from "./device/threadpool.js";
import { DAEMON_STARTUP } from "./process-memory.js";
import { VERSION_STRING, monotonicSeconds, type LockspaceHooks } from "./status.js";
import { WatchdogError, createWatchdog, type Watchdog } from "./watchdog/index.js";

/** Set in the environment of the detached child so it does not detach again. */
export const DETACHED_CHILD_ENV = "SANLOCK_TS_DETACHED";

export class DaemonStartError extends SanlockTsError {
  override readonly name = "DaemonStartError";
}

export interface DaemonStartOptions {
  readonly settings: DaemonSettings;
  readonly environment: DaemonEnvironment;
  readonly configWarnings?: readonly string[];
  /** Where foreground logging goes; defaults to process.stderr when -D is given. */
  readonly stderr?: { write(line: string): void };
  /**
   * The lockspace/lease engine, or a factory given the daemon log and services: the lease engine
   * (startLeaseDaemon plugs it in), or a test double of the server's view of it.
   */
  readonly lockspaces: LockspaceHooks | ((log: DaemonLog, services: DaemonServices) => LockspaceHooks);
  /** Replaces the watchdog chosen by -w (tests: the reset model). */
  readonly watchdog?: Watchdog;
  /** Adds or replaces command handlers (the engine's lockspace/resource/disk commands). */
  readonly registerCommands?: (registry: CommandRegistry) => void;
}

/** What the daemon gives its lockspace engine. */
export interface DaemonServices {
  /** -w 1: the watchdog device; -w 0: none (docs/algorithms.md §7.5). */
  readonly watchdog: Watchdog;
  /** -g (docs/algorithms.md §7.3). */
  readonly killGraceSeconds: number;
}

export interface RunningDaemon {
  readonly server: DaemonServer;
  readonly pidFile: HeldPidFile;
  /** Resolves after shutdown, once the pid file lock is released. */
  readonly exited: Promise<void>;
}

/**
 * The settings `argv` and sanlock.conf give; rejects with DaemonOptionError / ConfigError naming
 * the bad value. The config module and its validator (zod, about 14 MiB resident for the
 * daemon's lifetime) are loaded only when a sanlock.conf exists; a missing file means "no
 * settings", as in sanlock (config.ts readConfigFile gives the same for a file gone meanwhile).
 */
export async function resolveSettings(argv: readonly string[]): Promise<{ settings: DaemonSettings; warnings: readonly string[] }> {
  const commandLine = splitDaemonArgs(argv);
  if (!existsSync(commandLine.configPath)) return { settings: applyOptionValues(DEFAULT_SETTINGS, commandLine.values), warnings: [] };
  const { readConfigFile, settingsFromConfig } = await import("./config.js");
  const parsed = readConfigFile(commandLine.configPath);
  const settings = applyOptionValues(settingsFromConfig(parsed.config), commandLine.values);
  return { settings, warnings: parsed.warnings.map((w) => `${commandLine.configPath} ${w}`) };
}

/** sanlock's default host name: "<uuid>.<nodename>", cut to 48 characters. */
export function defaultHostName(): string {
  return `${randomUUID()}.${hostname()}`.slice(0, HOST_NAME_MAX);
}

/**
 * Privileged mode: become the socket user (sanlock's setup_groups + setup_uid_gid). The
 * supplementary groups are reset to the user's own first, so root's groups are not kept.
 * As in sanlock, nothing is switched unless both a user and a group name are set.
 */
function switchToSocketUser(owner: SocketOwner, log: DaemonLog): void {
  const userName = owner.userName;
  if (userName === undefined || owner.groupName === undefined) return;
  const getuid = process.getuid?.bind(process);
  const getgid = process.getgid?.bind(process);
  if (getuid === undefined || getgid === undefined) return;
  // process.initgroups exists on POSIX Node but is missing from @types/node 20.
  const initgroups = (process as { initgroups?: (user: string, extraGroup: number) => void }).initgroups;
  if (getuid() !== owner.uid && userName !== undefined) initgroups?.(userName, owner.gid);
  if (getgid() !== owner.gid) process.setgid?.(owner.gid);
  if (getuid() !== owner.uid) process.setuid?.(owner.uid);
  log.debug(`running as uid ${owner.uid} gid ${owner.gid}`);
}

/** The process's stderr is written by the thread pool (log.ts AsyncFdSink); a caller's own sink gets each line. */
function foregroundSink(given: { write(line: string): void } | undefined): { write(line: string): void } {
  const sink = given ?? process.stderr;
  return sink === process.stderr ? new AsyncFdSink(process.stderr.fd) : sink;
}

/** Starts the daemon in this process (the -D path). */
export async function startDaemon(options: DaemonStartOptions): Promise<RunningDaemon> {
  const { settings, environment } = options;
  const log = new DaemonLog({
    monotonicSeconds,
    ...(settings.foreground ? { stderr: foregroundSink(options.stderr) } : {}),
  });
  // Safety: with -w 1 a missing watchdog device is a start-up error, never a silent "no watchdog".
  let watchdog: Watchdog;
  try {
    watchdog = options.watchdog ?? createWatchdog({ useWatchdog: settings.useWatchdog, log: (line) => log.error(line) });
  } catch (error) {
    if (error instanceof WatchdogError) throw new DaemonStartError(error.code, error.message);
    throw error;
  }
  for (const warning of options.configWarnings ?? []) log.warn(warning);
  if (environment.runDir !== DEFAULT_RUN_DIR) log.warn(`Using non-standard run directory '${environment.runDir}'`);
  if (!environment.privileged) log.warn("Running in unprivileged mode");
  const poolSize = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? "4", 10);
  if (!(poolSize >= DAEMON_THREADPOOL_SIZE)) {
    log.warn(
      `libuv threadpool of ${poolSize} threads (UV_THREADPOOL_SIZE), below ${DAEMON_THREADPOOL_SIZE}: a stalled device can delay the I/O of other lockspaces`,
    );
  }
  const owner = resolveSocketOwner(settings.socketUser, settings.socketGroup);
  prepareRunDir(environment.runDir, owner, environment.privileged);
  const pidFile = await acquirePidFile(environment.runDir);
  try {
    if (environment.privileged) switchToSocketUser(owner, log);
    const ourHostName = settings.ourHostName ?? defaultHostName();
    log.warn(`sanlock daemon started ${VERSION_STRING} host ${ourHostName} (${hostname()})`);
    const registry = defaultCommandRegistry();
    options.registerCommands?.(registry);
    const services: DaemonServices = { watchdog, killGraceSeconds: settings.killGraceSeconds };
    const lockspaces = typeof options.lockspaces === "function" ? options.lockspaces(log, services) : options.lockspaces;
    const server = await DaemonServer.listen({
      runDir: environment.runDir,
      settings,
      ourHostName,
      socketOwner: owner,
      log,
      registry,
      lockspaces,
    });
    const exited = server.exited.then(() => {
      // Magic close only when no lockspace still has an expiry in force (docs/algorithms.md §7.5).
      const result = watchdog.shutdown();
      if (!result.disarmed) log.error(`watchdog not disarmed at exit: ${result.expiriesInForce.join(", ")}`);
      pidFile.release();
    });
    return { server, pidFile, exited };
  } catch (error) {
    pidFile.release();
    throw error;
  }
}

/** What differs between the `sanlock daemon` process and a daemon embedded in an application. */
export interface LeaseDaemonOptions extends Omit<DaemonStartOptions, "lockspaces" | "registerCommands"> {
  /** Engine settings beyond the daemon's log, watchdog and -g (embedded.ts: its kill executor, lockspace-failure hook). */
  readonly engine?: Omit<LeaseEngineOptions, "log" | "watchdog" | "killGraceSeconds">;
}

/**
 * The whole lease manager in this process: the daemon shell (run dir, pid file, socket, commands)
 * with the lease engine (lockspaces on the renewal worker, resources, kill sequence, watchdog) and
 * its command handlers. `sanlock-ts daemon` and startEmbeddedDaemon both start through here.
 */
export async function startLeaseDaemon(options: LeaseDaemonOptions): Promise<RunningDaemon> {
  const { engine, ...shell } = options;
  // Counting starts before the first lockspace can join (metrics.ts subscribes to the diagnostics channels).
  const metrics = new DaemonMetrics(monotonicSeconds);
  let running: RunningDaemon;
  let dlm: DlmService | undefined;
  // A lockspace failure reaches the DLM service too: its processes are killed (docs/dlm.md §5.11).
  const lockspaceFailed = (ls: Lockspace, reason: string): void => {
    engine?.lockspaceFailed?.(ls, reason);
    dlm?.lockspaceFailed(ls, reason);
  };
  try {
    running = await startDaemon({
      ...shell,
      lockspaces: (log, services) => createLeaseEngine({ ...engine, lockspaceFailed, log, ...services }),
      registerCommands: (registry) => {
        registerLeaseHandlers(registry);
        registerMetricsCommand(registry, metrics);
        logCommands(registry);
      },
    });
  } catch (error) {
    metrics.close();
    throw error;
  }
  dlm = await startDlmService(running.server, shell.environment.runDir);
  const service = dlm;
  return { ...running, exited: running.exited.finally(() => Promise.all([metrics.close(), service?.close()])) };
}

/** The DLM socket beside sanlock's (docs/dlm-wire.md); a failure to listen leaves the sanlock service running. */
export async function startDlmService(server: DaemonServer, runDir: string): Promise<DlmService | undefined> {
  const lockspaces = server.lockspaces;
  if (!(lockspaces instanceof LockspaceSet)) return undefined;
  try {
    return await DlmService.listen({
      runDir,
      socketOwner: server.socketOwner,
      lockspaces,
      hostName: server.ourHostName,
      log: (level, message) => server.log[level](message),
    });
  } catch (error) {
    server.log.error(`dlm socket: ${(error as Error).message}; DLM lockspaces are not served`);
    return undefined;
  }
}

function detach(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  const script = process.argv[1] ?? fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
    detached: true,
    stdio: "ignore",
    env: { ...env, [DETACHED_CHILD_ENV]: "1" },
  });
  child.unref();
  void argv;
}

/**
 * Runs `sanlock daemon <argv>` to completion; resolves to the exit status (0 after a clean
 * shutdown, 1 on a start-up failure such as a bad option or another daemon on the run dir).
 */
export async function runDaemonCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  stderr: { write(line: string): void } = process.stderr,
): Promise<number> {
  let resolved: { settings: DaemonSettings; warnings: readonly string[] };
  try {
    resolved = await resolveSettings(argv);
  } catch (error) {
    stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
  const detachedChild = env[DETACHED_CHILD_ENV] === "1";
  if (!resolved.settings.foreground && !detachedChild) {
    const childEnv = { ...env };
    applyDaemonThreadpoolSize(childEnv); // the detached child's pool starts at the daemon's size
    detach(argv, childEnv);
    return 0;
  }
  // Only when this process becomes the daemon (its own environment): never re-exec a caller
  // that runs the daemon command in-process with an environment of its own (tests).
  if (env === process.env) {
    try {
      await reexecWithDaemonThreadpool(env, DAEMON_STARTUP);
    } catch (error) {
      stderr.write(`${(error as Error).message}; the libuv threadpool keeps its size\n`);
    }
  }
  let daemon: RunningDaemon;
  try {
    daemon = await startLeaseDaemon({
      settings: resolved.settings,
      environment: readDaemonEnvironment(env),
      configWarnings: resolved.warnings,
      stderr,
    });
  } catch (error) {
    stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
  const onSignal = (): void => void daemon.server.requestShutdown(false);
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  await daemon.exited;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const args = process.argv.slice(2);
  // Accept both `main.js daemon -D ...` and `main.js -D ...`.
  process.exitCode = await runDaemonCommand(args[0] === "daemon" ? args.slice(1) : args);
}
