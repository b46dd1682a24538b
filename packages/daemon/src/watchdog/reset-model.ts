/**
 * A model of a hardware watchdog for tests: it fires `hardwareTimeoutSeconds`
 * after the last ping and then "resets the host" by calling `onReset`
 * (typically SIGKILL to the daemon and its clients, see `killPidsOnReset`).
 *
 * Pings, as on common Linux drivers (docs/algorithms.md §7.5.4): opening the
 * device, each keepalive, and a close without the magic code. A magic close
 * (disarm) stops the countdown.
 *
 * The deadline is absolute, like a hardware timer: if the process was stopped
 * past it (SIGSTOP, a paused VM), the first operation after resuming finds it
 * overdue and fires at once instead of pinging, whatever timer runs first.
 */
import type { WatchdogDevice } from "./device.js";
import { WatchdogError } from "./errors.js";
import type { CancelTimer, Scheduler } from "./scheduler.js";
import { WATCHDOG_FIRE_TIMEOUT } from "@sanlock-ts/core";

export interface ResetModelOptions {
  readonly scheduler: Scheduler;
  /** Called once, at the moment the modelled watchdog fires. */
  readonly onReset: (firedAt: number) => void;
  /**
   * The timeout the modelled hardware actually has. Defaults to 60; a different
   * value models a device whose timeout cannot be set (arm then refuses it).
   */
  readonly hardwareTimeoutSeconds?: number;
}

/** Bound on recorded pings, so a long-running test cannot grow memory without limit. */
const MAX_RECORDED_PINGS = 10_000;

export class ResetModelDevice implements WatchdogDevice {
  readonly description = "reset-model";
  /** Monotonic times of every ping, oldest first (bounded). */
  readonly pings: number[] = [];
  private open = false;
  private armed = false;
  private fired: number | undefined;
  private cancelFire: CancelTimer | undefined;
  private readonly hardwareTimeout: number;

  constructor(private readonly options: ResetModelOptions) {
    this.hardwareTimeout = options.hardwareTimeoutSeconds ?? WATCHDOG_FIRE_TIMEOUT;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** When the model fired, or undefined while the host is still up. */
  get firedAt(): number | undefined {
    return this.fired;
  }

  /** The moment the watchdog will fire if nothing pings it again, or undefined when stopped. */
  get deadline(): number | undefined {
    const last = this.pings.at(-1);
    return this.armed && last !== undefined ? last + this.hardwareTimeout : undefined;
  }

  arm(fireTimeoutSeconds: number): void {
    this.openAndPing();
    if (this.hardwareTimeout !== fireTimeoutSeconds) {
      this.disarm();
      throw new WatchdogError(
        "ERR_WATCHDOG_TIMEOUT",
        `reset-model: fire timeout is ${this.hardwareTimeout} s, need ${fireTimeoutSeconds} s; refusing to use it`,
      );
    }
    this.keepalive();
  }

  reopen(): void {
    this.openAndPing();
  }

  keepalive(): void {
    if (this.firedIfOverdue()) return;
    if (!this.open) throw new WatchdogError("ERR_WATCHDOG_CLOSED", "reset-model: keepalive on a closed device");
    this.ping();
  }

  closeUnclean(): void {
    if (this.firedIfOverdue()) return;
    if (!this.open) return;
    this.open = false;
    this.ping();
  }

  disarm(): void {
    if (this.firedIfOverdue()) return;
    if (!this.open) return;
    this.open = false;
    this.armed = false;
    this.cancelFire?.();
    this.cancelFire = undefined;
  }

  private openAndPing(): void {
    this.firedIfOverdue();
    if (this.fired !== undefined) throw new WatchdogError("ERR_WATCHDOG_CLOSED", "reset-model: the host was already reset");
    this.open = true;
    this.armed = true;
    this.ping();
  }

  private ping(): void {
    if (this.fired !== undefined) return;
    const now = this.options.scheduler.now();
    if (this.pings.length >= MAX_RECORDED_PINGS) this.pings.shift();
    this.pings.push(now);
    this.cancelFire?.();
    this.cancelFire = this.options.scheduler.after(this.hardwareTimeout, () => this.fire());
  }

  /** The hardware would already have fired: fire now (once) and report true. */
  private firedIfOverdue(): boolean {
    if (this.fired !== undefined) return true;
    const deadline = this.deadline;
    if (deadline === undefined || this.options.scheduler.now() < deadline) return false;
    this.cancelFire?.();
    this.fire();
    return true;
  }

  private fire(): void {
    this.cancelFire = undefined;
    this.fired = this.options.scheduler.now();
    this.options.onReset(this.fired);
  }
}

/**
 * An `onReset` that models the reset of the host: SIGKILL to every pid the
 * callback lists (the daemon and its clients). A pid that is already gone is skipped.
 */
export function killPidsOnReset(listPids: () => readonly number[]): (firedAt: number) => void {
  return () => {
    for (const pid of listPids()) {
      if (!Number.isInteger(pid) || pid <= 1) continue; // never init, never a process group
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // ESRCH: the process is already gone, which is what a reset wants.
      }
    }
  };
}
