/**
 * A per-device limit on I/Os in flight, counted until the kernel really
 * finishes them (a timed-out I/O keeps its slot until its completion fires,
 * because it still occupies a libuv thread).
 *
 * This mirrors sanlock's fixed in-flight slots (docs/algorithms.md §1.5 item 6):
 * when every slot is held, a new I/O waits, within its own deadline, for one
 * to free up, and fails if none does. Its purpose here is that one stalled
 * device can occupy at most `maxInFlight` threads of libuv's shared pool
 * (see threadpool.ts).
 */
export type SlotOutcome = "acquired" | "timeout" | "queue-full";

interface Waiter {
  grant: () => void;
}

export class InFlightLimiter {
  private inFlight = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    /** Slots: I/Os allowed in the kernel at once for this device. */
    readonly maxInFlight: number,
    /** Bound on I/Os waiting for a slot; beyond it a new I/O fails at once. */
    readonly maxWaiters: number,
  ) {
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    if (!Number.isSafeInteger(maxWaiters) || maxWaiters < 0) throw new RangeError(`maxWaiters must be a non-negative integer, got ${maxWaiters}`);
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  get waitingCount(): number {
    return this.waiters.length;
  }

  /** Take a slot, waiting at most `waitMs` for one. The caller must `release()` after an "acquired". */
  acquire(waitMs: number): Promise<SlotOutcome> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight += 1;
      return Promise.resolve("acquired");
    }
    if (this.waiters.length >= this.maxWaiters) return Promise.resolve("queue-full");
    if (waitMs <= 0) return Promise.resolve("timeout");
    return new Promise<SlotOutcome>((resolve) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          resolve("acquired");
        },
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        resolve("timeout");
      }, waitMs);
      this.waiters.push(waiter);
    });
  }

  /** Give back a slot: hand it straight to the oldest waiter, or free it. */
  release(): void {
    if (this.inFlight <= 0) throw new Error("assertion: in-flight slot released more often than taken");
    const next = this.waiters.shift();
    if (next)
      next.grant(); // the slot passes on; the count stays
    else this.inFlight -= 1;
  }
}
