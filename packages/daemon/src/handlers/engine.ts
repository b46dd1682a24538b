/**
 * The lease engine as the server sees it: a LockspaceSet (LockspaceHooks) with its
 * ResourceManager. Handlers find it through `ctx.daemon.lockspaces`; when a test double of the
 * hooks is plugged in instead (tests of the server alone), they answer as a daemon with no
 * lockspace would.
 */
import type { CommandContext } from "../dispatch.js";
import type { DaemonLog } from "../log.js";
import { LockspaceSet, type KillReason } from "../lockspaces/lockspace-set.js";
import type { Lockspace } from "../lockspaces/lockspace.js";
import { ResourceManager } from "../resources/resource-manager.js";
import type { Token } from "../resources/tokens.js";
import { RequestHandler } from "../resources/request-handler.js";
import { HolderKiller, ProcessKillExecutor, type KillExecutor } from "../recovery/index.js";
import type { Watchdog } from "../watchdog/watchdog.js";
import { DAEMON_CLOCK } from "../daemon-clock.js";
import { DEFAULT_KILL_GRACE_SECONDS } from "@sanlock-ts/core";

export interface LeaseEngineOptions {
  readonly log: DaemonLog;
  /** Replaces the kill sequence of docs/algorithms.md §7.3 (killpath, SIGTERM, then SIGKILL); tests. */
  readonly killHolders?: (ls: Lockspace, holders: readonly Token[], reason: KillReason) => void;
  /** The daemon's watchdog (-w); none: lockspaces register no expiry. */
  readonly watchdog?: Watchdog;
  /** Daemon -g for the kill sequence (docs/algorithms.md §7.3); default 40. */
  readonly killGraceSeconds?: number;
  /** Carries out the kill sequence's signals and killpaths; default: signals to the holders' pids. */
  readonly killExecutor?: KillExecutor;
  /** Told at once when a lockspace enters recovery (docs/algorithms.md §7.2 step 1), before the kill sequence starts. */
  readonly lockspaceFailed?: (ls: Lockspace, reason: string) => void;
}

type LogLevel = "error" | "warn" | "info" | "debug";

function logger(log: DaemonLog): (level: LogLevel, message: string) => void {
  return (level, message) => log[level](message);
}

export function createLeaseEngine(options: LeaseEngineOptions): LockspaceSet {
  const log = logger(options.log);
  let set: LockspaceSet | undefined;
  const resources = new ResourceManager({ activeLockspace: (name) => set?.active(name), log });
  // One executor for the kill sequence and REQUEST's killpath: one bound on running killpaths.
  const executor: KillExecutor = options.killExecutor ?? new ProcessKillExecutor({ log: (line) => log("error", line) });
  const requests = new RequestHandler({ resources, log, runKillpath: (path, args) => executor.runKillpath(path, args, undefined) });
  set = new LockspaceSet({
    resources,
    log,
    killHolders: options.killHolders ?? killSequence(options, log, executor),
    watchdog: options.watchdog,
    examineRequests: (ls, name) => requests.examineLockspace(ls, name),
    ...(options.lockspaceFailed ? { lockspaceFailed: options.lockspaceFailed } : {}),
  });
  return set;
}

/** The kill sequence of docs/algorithms.md §7.3 (killpath / SIGTERM during the grace period, then SIGKILL). */
function killSequence(
  options: LeaseEngineOptions,
  log: (level: LogLevel, message: string) => void,
  executor: KillExecutor,
): (ls: Lockspace, holders: readonly Token[], reason: KillReason) => void {
  const killer = new HolderKiller({
    killGraceSeconds: options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS,
    executor,
    now: () => DAEMON_CLOCK.now(),
    log: (line) => log("error", line),
  });
  return (ls, holders, reason) => killer.killHolders(ls, holders, reason);
}

/** The engine behind `ctx.daemon.lockspaces`, if the daemon runs ours. */
export function engineOf(ctx: CommandContext): LockspaceSet | undefined {
  const hooks = ctx.daemon.lockspaces;
  return hooks instanceof LockspaceSet ? hooks : undefined;
}
