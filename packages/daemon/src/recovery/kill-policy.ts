/**
 * The kill sequence as a pure decision (docs/algorithms.md §7.3; sanlock
 * src/main.c kill_pids): for one process using a dying lockspace, what to do
 * at this tick.
 *
 * - at most one attempt per whole second, at most 100 attempts ("stuck");
 * - removal or forced shutdown → SIGKILL;
 * - during the grace period (`now < last_success + 8N + kill_grace`): the
 *   killpath program once (when grace > 0 and one is registered), else SIGTERM;
 * - after it → SIGKILL;
 * - RESTRICT_SIGKILL turns SIGKILL into SIGTERM, then RESTRICT_SIGTERM turns
 *   SIGTERM into SIGKILL (applied in that order, as sanlock does).
 */
import { idRenewalFailSeconds } from "@sanlock-ts/core";
import { RestrictFlag } from "@sanlock-ts/core/wire";

/** sanlock's kill_count_max: attempts per process before giving up on it. */
export const KILL_ATTEMPTS_MAX = 100;

export type KillSignal = "SIGTERM" | "SIGKILL";
export type KillAction = "none" | "killpath" | KillSignal;

export interface Killpath {
  /** Program to run (searched in PATH like execvp). */
  readonly path: string;
  /** Argument string, split as in docs/algorithms.md §6.3. */
  readonly args: string;
  /** KILLPATH_PID: append the process's pid as the last argument. */
  readonly appendPid: boolean;
}

/** A process using the lockspace, as registered with the daemon. */
export interface KillTarget {
  readonly pid: number;
  /** RESTRICT_* bits of its registered connection (docs/wire.md §4.12). */
  readonly restrictFlags: number;
  readonly killpath?: Killpath | undefined;
}

/** What has been done to one process so far (sanlock kill_count, kill_last, CL_RUNPATH_SENT). */
export interface KillProgress {
  readonly attempts: number;
  /** Whole monotonic second of the last attempt; meaningful when attempts > 0. */
  readonly lastAttemptAt: number;
  readonly killpathSent: boolean;
}

export const NO_KILL_PROGRESS: KillProgress = { attempts: 0, lastAttemptAt: 0, killpathSent: false };

export interface KillContext {
  /** Monotonic seconds; compared in whole seconds like sanlock's monotime(). */
  readonly now: number;
  /** Newest successful renewal of the lockspace (whole monotonic seconds). */
  readonly lastSuccess: number;
  readonly ioTimeout: number;
  /** Daemon -g, 0..60. */
  readonly killGraceSeconds: number;
  /** Lockspace removal or forced shutdown: skip the graceful period. */
  readonly forced: boolean;
}

export interface KillDecision {
  readonly action: KillAction;
  /** Progress after this tick (unchanged when no attempt was due). */
  readonly progress: KillProgress;
}

/** True while the graceful period lasts: `now < last_success + 8N + grace` (docs/algorithms.md §7.3 step 2). */
export function inKillGrace(ctx: KillContext): boolean {
  return Math.floor(ctx.now) < ctx.lastSuccess + idRenewalFailSeconds(ctx.ioTimeout) + ctx.killGraceSeconds;
}

/** True once a process has used up its attempts; the watchdog must then reset the host. */
export function killAttemptsExhausted(progress: KillProgress): boolean {
  return progress.attempts >= KILL_ATTEMPTS_MAX;
}

/** Apply the RESTRICT substitutions of docs/algorithms.md §7.3 step 4, in sanlock's order. */
export function restrictSignal(signal: KillSignal, restrictFlags: number): KillSignal {
  let result = signal;
  if (result === "SIGKILL" && (restrictFlags & RestrictFlag.SIGKILL) !== 0) result = "SIGTERM";
  if (result === "SIGTERM" && (restrictFlags & RestrictFlag.SIGTERM) !== 0) result = "SIGKILL";
  return result;
}

function chooseAction(ctx: KillContext, target: KillTarget): "killpath" | KillSignal {
  if (ctx.forced) return restrictSignal("SIGKILL", target.restrictFlags);
  const grace = inKillGrace(ctx);
  if (grace && ctx.killGraceSeconds > 0 && target.killpath !== undefined) return "killpath";
  return restrictSignal(grace ? "SIGTERM" : "SIGKILL", target.restrictFlags);
}

/** Decide this tick's action for one process. Pure: the caller stores `progress`. */
export function planKill(ctx: KillContext, target: KillTarget, progress: KillProgress): KillDecision {
  const now = Math.floor(ctx.now);
  if (killAttemptsExhausted(progress)) return { action: "none", progress };
  if (progress.attempts > 0 && now - progress.lastAttemptAt < 1) return { action: "none", progress };
  const chosen = chooseAction(ctx, target);
  const counted = { attempts: progress.attempts + 1, lastAttemptAt: now };
  if (chosen === "killpath") {
    // The killpath runs once; later attempts in the grace period count but send nothing.
    if (progress.killpathSent) return { action: "none", progress: { ...counted, killpathSent: true } };
    return { action: "killpath", progress: { ...counted, killpathSent: true } };
  }
  return { action: chosen, progress: { ...counted, killpathSent: progress.killpathSent } };
}
