/**
 * One lockspace's failure handling (docs/algorithms.md §7.2, §7.4, §7.11):
 *
 *   live ──(corrupt renewal | gap ≥ 8N | removal | forced shutdown)──▶ recovery   (one-way, docs/algorithms.md §7.11.4)
 *   recovery: kill every holder each tick (docs/algorithms.md §7.3) until none is left
 *   recovery ──(no holder, not held by USED/orphans)──▶ leaving:
 *       clear the watchdog expiry → stop renewals → delta release only if the
 *       last renewal attempt succeeded (docs/algorithms.md §7.4, §7.11.5-6) ──▶ left
 *
 * Driven by the lockspace module: `onRenewalResult` after every renewal
 * attempt, `tick(now)` from the main loop (every 1 s; every 0.2 s in
 * recovery), `holdersGone()` when a holder's connection closed.
 */
import { deriveTimeouts, type Timeouts } from "@sanlock-ts/core";
import type { WatchdogConnection } from "../watchdog/watchdog.js";
import type { Scheduler, CancelTimer } from "../watchdog/scheduler.js";
import { RecoveryError } from "./errors.js";
import type { KillExecutor } from "./kill-executor.js";
import { NO_KILL_PROGRESS, killAttemptsExhausted, planKill, type KillContext, type KillProgress, type KillTarget } from "./kill-policy.js";

export type RecoveryPhase = "live" | "recovery" | "leaving" | "left";
export type RecoveryCause = "renewal-corrupt" | "renewal-expired" | "removal" | "forced-shutdown";

/** Main-loop check interval while live (sanlock STANDARD_CHECK_INTERVAL). */
export const LIVE_CHECK_SECONDS = 1;
/** Main-loop check interval while killing (sanlock RECOVERY_CHECK_INTERVAL). */
export const RECOVERY_CHECK_SECONDS = 0.2;
/** Upper bound on holders tracked for one lockspace (sanlock's client table is smaller). */
export const MAX_RECOVERY_HOLDERS = 10_000;

/** A process holding a lease in the lockspace; `key` identifies its client connection. */
export interface RecoveryHolder extends KillTarget {
  readonly key: string | number;
}

export type RenewalResult =
  | { readonly ok: true; readonly lastSuccess: number }
  /** `corrupt`: not owner, record changed, bad magic/version/name/checksum (docs/algorithms.md §2.4): no retry. */
  | { readonly ok: false; readonly corrupt: boolean };

export interface RecoveryHooks {
  /**
   * Processes that still use the lockspace (hold, acquire or release one of its
   * leases), with live connections. A process counts until its connection has
   * closed; `pid <= 0` entries count as holders but are never signalled.
   */
  holders(): readonly RecoveryHolder[];
  /** SET_CONFIG USED, or USED_BY_ORPHANS with orphans left: the lockspace cannot be left (docs/algorithms.md §7.8). */
  blocked?(): boolean;
  /**
   * Stop the renewal loop and resolve once no renewal attempt is in flight and
   * the last attempt's result has been passed to `onRenewalResult`.
   */
  stopRenewals(): Promise<void>;
  /** Write the delta release (docs/algorithms.md §2.5). Called at most once, only after a successful last renewal. */
  releaseDeltaLease(): Promise<void>;
  onPhase?(phase: RecoveryPhase, cause: RecoveryCause | undefined): void;
}

export interface LockspaceRecoveryOptions {
  readonly name: string;
  readonly ioTimeout: number;
  /** Daemon -g, 0..60. */
  readonly killGraceSeconds: number;
  /** last_success of the join (whole monotonic seconds). */
  readonly lastSuccess: number;
  /** Registered at join, before the lockspace became usable (docs/algorithms.md §7.11.1). */
  readonly watchdog: WatchdogConnection;
  readonly killer: KillExecutor;
  readonly hooks: RecoveryHooks;
  readonly log?: (line: string) => void;
}

export interface LeaveOutcome {
  readonly deltaReleased: boolean;
  readonly error?: unknown;
}

export interface TickResult {
  readonly phase: RecoveryPhase;
  /** When the main loop should check this lockspace again. */
  readonly nextCheckSeconds: number;
}

export class LockspaceRecovery {
  private phaseValue: RecoveryPhase = "live";
  private causeValue: RecoveryCause | undefined;
  private lastSuccessValue: number;
  private lastAttemptOk = true;
  private corrupt = false;
  private forcedCause: RecoveryCause | undefined;
  private warnedFor: number | undefined;
  private stuckLogged = false;
  private readonly progress = new Map<string | number, KillProgress>();
  private leavePromise: Promise<LeaveOutcome> | undefined;
  private readonly timeouts: Timeouts;

  constructor(private readonly options: LockspaceRecoveryOptions) {
    if (!Number.isInteger(options.killGraceSeconds) || options.killGraceSeconds < 0 || options.killGraceSeconds > 60) {
      throw new RecoveryError("ERR_RECOVERY_ARGUMENT", `lockspace ${options.name}: kill grace must be 0..60 s, got ${options.killGraceSeconds}`);
    }
    if (!Number.isInteger(options.lastSuccess) || options.lastSuccess < 0) {
      throw new RecoveryError("ERR_RECOVERY_ARGUMENT", `lockspace ${options.name}: lastSuccess must be whole seconds >= 0, got ${options.lastSuccess}`);
    }
    this.lastSuccessValue = options.lastSuccess;
    this.timeouts = deriveTimeouts(options.ioTimeout, { killGraceSeconds: options.killGraceSeconds });
  }

  get phase(): RecoveryPhase {
    return this.phaseValue;
  }

  get cause(): RecoveryCause | undefined {
    return this.causeValue;
  }

  get lastSuccess(): number {
    return this.lastSuccessValue;
  }

  /** True when new leases may be linked to processes (docs/algorithms.md §7.1, §7.11.3). */
  get usable(): boolean {
    return this.phaseValue === "live" && this.forcedCause === undefined && !this.corrupt;
  }

  /** Every remaining holder has used up its kill attempts; only the watchdog can help now. */
  get killingStuck(): boolean {
    const holders = this.options.hooks.holders();
    return holders.length > 0 && holders.every((h) => killAttemptsExhausted(this.progressOf(h)));
  }

  /** Resolves when the lockspace has been left (undefined until leaving starts). */
  get left(): Promise<LeaveOutcome> | undefined {
    return this.leavePromise;
  }

  /** Kill progress of one holder (for status output and tests). */
  killProgress(key: string | number): KillProgress {
    return this.progress.get(key) ?? NO_KILL_PROGRESS;
  }

  /** After every renewal attempt (docs/algorithms.md §2.3 step 11; §7.2: renewals go on during recovery). */
  onRenewalResult(result: RenewalResult): void {
    if (this.phaseValue === "left") return;
    this.lastAttemptOk = result.ok;
    if (!result.ok) {
      if (result.corrupt && !this.corrupt) {
        this.corrupt = true;
        this.log(`renewal result corrupt: recovery at the next check`);
      }
      return;
    }
    if (!Number.isInteger(result.lastSuccess) || result.lastSuccess < this.lastSuccessValue) {
      throw new RecoveryError(
        "ERR_RECOVERY_RENEWAL_BACKWARDS",
        `lockspace ${this.options.name}: renewal lastSuccess ${result.lastSuccess} is before ${this.lastSuccessValue}`,
      );
    }
    this.lastSuccessValue = result.lastSuccess;
    // docs/algorithms.md §7.11.2: the expiry advances only after the write completed. Once leaving,
    // the expiry has been cleared and must stay cleared (sanlock: not on thread_stop).
    if (this.phaseValue === "live" || this.phaseValue === "recovery") this.options.watchdog.renewed(result.lastSuccess);
  }

  /** REM_LOCKSPACE: holders get SIGKILL, then the lockspace is left. */
  requestRemoval(): void {
    this.forcedCause ??= "removal";
  }

  /** SHUTDOWN with force: as removal. */
  forceShutdown(): void {
    this.forcedCause ??= "forced-shutdown";
  }

  /** The main-loop check (docs/algorithms.md §7.2). */
  tick(now: number): TickResult {
    if (this.phaseValue === "live") {
      const cause = this.recoveryCause(now);
      if (cause === undefined) return this.result();
      this.enterRecovery(cause);
      this.killHolders(now);
      return this.result();
    }
    if (this.phaseValue === "recovery") {
      if (!this.tryLeave()) this.killHolders(now);
    }
    return this.result();
  }

  /** A holder's connection closed: leave at once if it was the last one. */
  holdersGone(): void {
    if (this.phaseValue === "recovery") this.tryLeave();
  }

  private recoveryCause(now: number): RecoveryCause | undefined {
    if (this.corrupt) return "renewal-corrupt";
    if (this.forcedCause !== undefined) return this.forcedCause;
    const gap = Math.floor(now) - this.lastSuccessValue;
    if (gap >= this.timeouts.idRenewalFailSeconds) return "renewal-expired";
    if (gap >= this.timeouts.idRenewalWarnSeconds && this.warnedFor !== this.lastSuccessValue) {
      this.warnedFor = this.lastSuccessValue;
      this.log(`renewal warning: ${gap} s since last success ${this.lastSuccessValue}`);
    }
    return undefined;
  }

  private enterRecovery(cause: RecoveryCause): void {
    this.causeValue = cause;
    this.setPhase("recovery");
    this.log(`recovery (${cause}): killing holders, last success ${this.lastSuccessValue}`);
  }

  private currentHolders(): readonly RecoveryHolder[] {
    const holders = this.options.hooks.holders();
    if (holders.length > MAX_RECOVERY_HOLDERS) {
      throw new RecoveryError("ERR_RECOVERY_STATE", `lockspace ${this.options.name}: ${holders.length} holders exceed ${MAX_RECOVERY_HOLDERS}`);
    }
    return holders;
  }

  private killHolders(now: number): void {
    const holders = this.currentHolders();
    this.forgetGoneHolders(holders);
    const ctx: KillContext = {
      now,
      lastSuccess: this.lastSuccessValue,
      ioTimeout: this.options.ioTimeout,
      killGraceSeconds: this.options.killGraceSeconds,
      forced: this.forcedCause !== undefined,
    };
    for (const holder of holders) {
      if (holder.pid <= 0) continue;
      const decision = planKill(ctx, holder, this.progressOf(holder));
      this.progress.set(holder.key, decision.progress);
      this.execute(holder, decision.action, decision.progress);
    }
    if (!this.stuckLogged && this.killingStuck) {
      this.stuckLogged = true;
      this.log(`killing holders stuck: ${holders.length} left after the maximum attempts; the watchdog will reset the host`);
    }
  }

  private execute(holder: RecoveryHolder, action: string, progress: KillProgress): void {
    if (action === "none") return;
    this.log(`kill ${holder.pid} ${action} attempt ${progress.attempts}`);
    if (action === "SIGTERM" || action === "SIGKILL") {
      this.options.killer.signal(holder.pid, action);
      return;
    }
    const killpath = holder.killpath;
    if (killpath === undefined) return;
    const started = this.options.killer.runKillpath(killpath.path, killpath.args, killpath.appendPid ? holder.pid : undefined);
    // Not started (executor busy): try again at the next attempt, as sanlock does when its helper pipe is full.
    if (!started) this.progress.set(holder.key, { ...progress, killpathSent: false });
  }

  private progressOf(holder: RecoveryHolder): KillProgress {
    return this.progress.get(holder.key) ?? NO_KILL_PROGRESS;
  }

  private forgetGoneHolders(holders: readonly RecoveryHolder[]): void {
    const keys = new Set(holders.map((h) => h.key));
    for (const key of [...this.progress.keys()]) if (!keys.has(key)) this.progress.delete(key);
  }

  /** docs/algorithms.md §7.4 / §7.11.5: leave only when no holder is left and nothing blocks it. */
  private tryLeave(): boolean {
    if (this.currentHolders().length > 0) return false;
    if (this.options.hooks.blocked?.() === true) return false;
    this.leavePromise = this.leave();
    return true;
  }

  private async leave(): Promise<LeaveOutcome> {
    this.setPhase("leaving");
    // Holders are gone, so the host need not be reset any more.
    this.options.watchdog.clearExpiry();
    let outcome: LeaveOutcome;
    try {
      await this.options.hooks.stopRenewals();
      // docs/algorithms.md §2.5 / §7.11.6: only a host whose last renewal attempt succeeded still owns its record.
      if (this.lastAttemptOk) {
        await this.options.hooks.releaseDeltaLease();
        outcome = { deltaReleased: true };
      } else {
        this.log(`last renewal attempt failed: no delta release`);
        outcome = { deltaReleased: false };
      }
    } catch (error) {
      this.log(`leaving failed: ${(error as Error).message ?? String(error)}`);
      outcome = { deltaReleased: false, error };
    }
    this.options.watchdog.close();
    this.setPhase("left");
    return outcome;
  }

  private result(): TickResult {
    const next = this.phaseValue === "recovery" ? RECOVERY_CHECK_SECONDS : LIVE_CHECK_SECONDS;
    return { phase: this.phaseValue, nextCheckSeconds: next };
  }

  private setPhase(phase: RecoveryPhase): void {
    this.phaseValue = phase;
    this.options.hooks.onPhase?.(phase, this.causeValue);
  }

  private log(line: string): void {
    this.options.log?.(`s ${this.options.name} ${line}`);
  }
}

/**
 * Run `tick` on the scheduler at the interval each tick asks for, until the
 * lockspace has started leaving. Returns a function that stops the ticks.
 */
export function startRecoveryTicks(scheduler: Scheduler, recovery: LockspaceRecovery): () => void {
  let cancel: CancelTimer | undefined;
  let stopped = false;
  const run = (): void => {
    cancel = undefined;
    if (stopped) return;
    const { phase, nextCheckSeconds } = recovery.tick(scheduler.now());
    if (phase === "leaving" || phase === "left") return;
    cancel = scheduler.after(nextCheckSeconds, run);
  };
  cancel = scheduler.after(0, run);
  return () => {
    stopped = true;
    cancel?.();
  };
}
