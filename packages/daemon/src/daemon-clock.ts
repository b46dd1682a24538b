/**
 * The daemon's Clock for the core algorithms (docs/algorithms.md §1.1): monotonic seconds
 * from CLOCK_MONOTONIC (process.hrtime), sleeps on real timers, abortable.
 */
import type { Clock, ClockTimer, Random } from "@sanlock-ts/core";
import { randomInt } from "node:crypto";

export class MonotonicClock implements Clock {
  now(): number {
    return Number(process.hrtime.bigint()) / 1e9;
  }

  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    if (!(seconds >= 0)) throw new RangeError(`sleep: seconds must be >= 0, got ${seconds}`);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.ceil(seconds * 1000),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * One real timer per lease I/O bound (core's lease-io.ts): no promise, no AbortSignal.
   *
   * The expiry is reported one event-loop turn late, on purpose: when the loop was blocked past
   * the deadline (CPU load, a long collection), Node runs expired timers before the poll phase that
   * delivers I/O completions, so an I/O that completed in time would be declared timed out only
   * because its completion had not been looked at yet. sanlock reaps completed aio before it
   * gives up; setImmediate runs after the poll phase, so a completion already there wins.
   */
  startTimer(seconds: number, expired: () => void): ClockTimer {
    if (!(seconds >= 0)) throw new RangeError(`startTimer: seconds must be >= 0, got ${seconds}`);
    let immediate: NodeJS.Immediate | undefined;
    const timer = setTimeout(
      () => {
        immediate = setImmediate(expired);
      },
      Math.ceil(seconds * 1000),
    );
    return {
      cancel: () => {
        clearTimeout(timer);
        if (immediate !== undefined) clearImmediate(immediate);
      },
    };
  }
}

/** Ballot backoff jitter from the system CSPRNG (any uniform source will do). */
export class SystemRandom implements Random {
  next(): number {
    return randomInt(0, 0x40000000) / 0x40000000;
  }
}

export const DAEMON_CLOCK = new MonotonicClock();
export const DAEMON_RANDOM = new SystemRandom();
