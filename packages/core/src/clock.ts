/**
 * Time source for every lease algorithm (docs/algorithms.md §1.1): monotonic seconds,
 * injected so that the daemon uses the real monotonic clock and the simulator a
 * virtual one. Nothing in core reads a global clock or starts a real timer.
 */
export interface Clock {
  /** Monotonic seconds (may be fractional). Never wall-clock time (docs/algorithms.md §1.1.2). */
  now(): number;
  /** Resolve after at least `seconds`; reject with the signal's reason if aborted. */
  sleep(seconds: number, signal?: AbortSignal): Promise<void>;
  /**
   * Optional cheap one-shot timer (every lease I/O starts and stops one, lease-io.ts): call
   * `expired` once after at least `seconds`, unless cancel() came first. Clocks without it are
   * used through sleep() with an AbortSignal, which costs more per I/O but means the same.
   */
  startTimer?(seconds: number, expired: () => void): ClockTimer;
}

/** A timer started by Clock.startTimer. */
export interface ClockTimer {
  /** Stop the timer; `expired` is not called afterwards. Idempotent. */
  cancel(): void;
}

/** Source of uniform random numbers in [0, 1); injected for ballot backoff jitter. */
export interface Random {
  next(): number;
}

/** Whole monotonic seconds, the unit of every on-disk timestamp (docs/algorithms.md §1.1.1). */
export function nowSeconds(clock: Clock): number {
  return Math.floor(clock.now());
}

/** Deterministic xorshift32 generator for tests and the simulator. */
export class SeededRandom implements Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x / 0x100000000;
  }
}

interface PendingSleep {
  wakeAt: number;
  resolve: () => void;
}

/**
 * Virtual clock for tests: time moves only when `advance` or `advanceToNextWakeup`
 * is called. Sleeps resolve in wake-time order.
 */
export class VirtualClock implements Clock {
  private current: number;
  private readonly sleepers: PendingSleep[] = [];

  constructor(startSeconds = 1000) {
    this.current = startSeconds;
  }

  now(): number {
    return this.current;
  }

  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    if (!(seconds >= 0)) throw new RangeError(`sleep: seconds must be >= 0, got ${seconds}`);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const entry: PendingSleep = { wakeAt: this.current + seconds, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        "abort",
        () => {
          const i = this.sleepers.indexOf(entry);
          if (i >= 0) this.sleepers.splice(i, 1);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  startTimer(seconds: number, expired: () => void): ClockTimer {
    if (!(seconds >= 0)) throw new RangeError(`startTimer: seconds must be >= 0, got ${seconds}`);
    const entry: PendingSleep = { wakeAt: this.current + seconds, resolve: expired };
    this.sleepers.push(entry);
    return {
      cancel: () => {
        const i = this.sleepers.indexOf(entry);
        if (i >= 0) this.sleepers.splice(i, 1);
      },
    };
  }

  /** Number of sleeps and timers not yet due. */
  pendingSleeps(): number {
    return this.sleepers.length;
  }

  /** Earliest wake time among pending sleeps, or undefined when none. */
  nextWakeup(): number | undefined {
    let min: number | undefined;
    for (const s of this.sleepers) if (min === undefined || s.wakeAt < min) min = s.wakeAt;
    return min;
  }

  /** Move time forward by `seconds`, waking every sleep that is due. */
  advance(seconds: number): void {
    if (!(seconds >= 0)) throw new RangeError(`advance: seconds must be >= 0, got ${seconds}`);
    this.advanceTo(this.current + seconds);
  }

  /** Jump to the earliest pending wake time (no-op when nothing sleeps). */
  advanceToNextWakeup(): void {
    const next = this.nextWakeup();
    if (next !== undefined) this.advanceTo(Math.max(next, this.current));
  }

  private advanceTo(target: number): void {
    this.current = target;
    const due = this.sleepers.filter((s) => s.wakeAt <= target).sort((a, b) => a.wakeAt - b.wakeAt);
    for (const s of due) {
      this.sleepers.splice(this.sleepers.indexOf(s), 1);
      s.resolve();
    }
  }
}
