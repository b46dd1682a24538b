/**
 * Monotonic time plus one-shot timers, injected into the watchdog and recovery
 * modules so unit tests run in virtual time (docs/algorithms.md §1.1: every deadline
 * is on the monotonic clock, never wall-clock time).
 */

/** Cancels a scheduled callback; calling it after the callback ran is harmless. */
export type CancelTimer = () => void;

export interface Scheduler {
  /** Monotonic seconds (may be fractional). */
  now(): number;
  /** Run `callback` once, at least `seconds` from now. */
  after(seconds: number, callback: () => void): CancelTimer;
}

/** Longest single timer we ever arm; every wait in this layer is far shorter. */
const MAX_TIMER_SECONDS = 3600;

function assertDelay(seconds: number): void {
  if (!(seconds >= 0 && seconds <= MAX_TIMER_SECONDS)) {
    throw new RangeError(`timer delay must be 0..${MAX_TIMER_SECONDS} s, got ${seconds}`);
  }
}

/** The real machine: CLOCK_MONOTONIC via hrtime, Node timers. */
export class RealScheduler implements Scheduler {
  now(): number {
    return Number(process.hrtime.bigint()) / 1e9;
  }

  after(seconds: number, callback: () => void): CancelTimer {
    assertDelay(seconds);
    const handle = setTimeout(callback, Math.ceil(seconds * 1000));
    return () => clearTimeout(handle);
  }
}

interface VirtualTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** Upper bound on callbacks run by one advance, so a timer that re-arms at 0 s cannot spin forever. */
const MAX_CALLBACKS_PER_ADVANCE = 1_000_000;

/**
 * Virtual time for tests: time moves only in `advanceTo`/`advance`, which run
 * every due callback synchronously in (time, arming order), with `now()` equal
 * to the callback's due time while it runs.
 */
export class VirtualScheduler implements Scheduler {
  private current: number;
  private seq = 0;
  private timers: VirtualTimer[] = [];

  constructor(startSeconds = 0) {
    this.current = startSeconds;
  }

  now(): number {
    return this.current;
  }

  after(seconds: number, callback: () => void): CancelTimer {
    assertDelay(seconds);
    // Rounded to microseconds so that repeated 0.2 s steps land on whole seconds exactly.
    const at = Math.round((this.current + seconds) * 1e6) / 1e6;
    const timer: VirtualTimer = { at, seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Number of armed, not yet run, timers. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  advance(seconds: number): void {
    if (!(seconds >= 0)) throw new RangeError(`advance: seconds must be >= 0, got ${seconds}`);
    this.advanceTo(Math.round((this.current + seconds) * 1e6) / 1e6);
  }

  /**
   * Time passes while nothing runs (a stopped process, SIGSTOP): the clock
   * jumps; overdue callbacks run at the next `advance`, seeing the later time.
   */
  stall(seconds: number): void {
    if (!(seconds >= 0)) throw new RangeError(`stall: seconds must be >= 0, got ${seconds}`);
    this.current = Math.round((this.current + seconds) * 1e6) / 1e6;
  }

  /** Run every timer due at or before `target`, then leave the clock at `target`. */
  advanceTo(target: number): void {
    if (target < this.current) throw new RangeError(`advanceTo: ${target} is before now ${this.current}`);
    for (let ran = 0; ; ran++) {
      if (ran >= MAX_CALLBACKS_PER_ADVANCE) throw new Error("VirtualScheduler: too many callbacks in one advance");
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      // After a stall, overdue callbacks run late, at the current time.
      this.current = Math.max(this.current, next.at);
      next.callback();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = target;
  }

  private nextDue(target: number): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.timers) {
      if (t.cancelled || t.at > target) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
