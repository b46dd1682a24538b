// One simulated machine: its monotonic clock, its power state (boots, resets), its daemon
// instances (crash, pause) and the gates through which every sleep and I/O completion reaches
// the daemon's code. The scheduler runs on true time; a host only ever sees its own clock.
//
// Clock model (docs/algorithms.md §1.1, §8.1 A2): local monotonic = bootLocal + rate * (true - bootTrue).
// The rate differs from 1 by at most the configured drift (parts per million, inside A2); the
// monotonic clock never jumps or stops while the host runs. After a reset it restarts near zero
// (docs/algorithms.md §1.1.3: timestamps may go backwards across generations). Wall-clock jumps are modelled only as
// an offset no lease decision may use (docs/algorithms.md §1.1.2); the core never sees it.

import type { Scheduler } from "./scheduler.js";
import type { Trace } from "./trace.js";

export interface SimHostOptions {
  readonly index: number;
  readonly name: string;
  /** Clock rate, 1 ± drift. */
  readonly rate: number;
  /** Local monotonic seconds at first boot. */
  readonly bootLocal: number;
}

/** Rejection used for a sleep aborted through its AbortSignal. */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("sleep aborted");
}

export class SimHost {
  readonly index: number;
  readonly name: string;
  readonly rate: number;
  private bootLocal: number;
  private bootTrue = 0;
  /** Increments at every reset: I/O issued before a reset never lands (A4). */
  private bootCount = 0;
  /** Increments at every daemon crash or reset: the old daemon's continuations never run. */
  private daemonCount = 0;
  private up = true;
  /** The daemon is stopped (SIGSTOP) until this true time. */
  private pausedUntil = 0;
  /** Wall-clock offset (seconds); jumps have no effect on lease decisions. */
  wallOffset = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly trace: Trace,
    options: SimHostOptions,
  ) {
    if (!(Math.abs(options.rate - 1) < 0.01)) throw new RangeError(`clock rate ${options.rate} too far from 1`);
    this.index = options.index;
    this.name = options.name;
    this.rate = options.rate;
    this.bootLocal = options.bootLocal;
  }

  get isUp(): boolean {
    return this.up;
  }

  get boot(): number {
    return this.bootCount;
  }

  get daemon(): number {
    return this.daemonCount;
  }

  /** Local monotonic seconds now. */
  localNow(): number {
    return this.bootLocal + this.rate * (this.scheduler.now - this.bootTrue);
  }

  /** True time at which the local clock reads `local` (never in the past). */
  trueTimeOfLocal(local: number): number {
    const t = this.bootTrue + (local - this.bootLocal) / this.rate;
    // Round up by a hair so that local time at the event is never below `local` through float error.
    return Math.max(this.scheduler.now, t + 1e-9);
  }

  log(text: string): void {
    this.trace.log(this.scheduler.now, `h${this.index + 1}`, `[${this.localNow().toFixed(3)}] ${text}`);
  }

  /** True while I/O issued in boot `boot` may still reach the disk. */
  bootAlive(boot: number): boolean {
    return this.up && boot === this.bootCount;
  }

  /**
   * Runs `fn` for daemon instance `daemon` at true time `time`, unless that instance is gone
   * (crash or reset) by then; while the daemon is paused the delivery waits for the resume.
   */
  deliverAt(time: number, daemon: number, fn: () => void): void {
    this.scheduler.at(time, () => this.deliverNow(daemon, fn));
  }

  private deliverNow(daemon: number, fn: () => void): void {
    if (!this.up || daemon !== this.daemonCount) return;
    if (this.pausedUntil > this.scheduler.now) {
      this.scheduler.at(this.pausedUntil, () => this.deliverNow(daemon, fn));
      return;
    }
    fn();
  }

  /** Sleep on the local clock for daemon instance `daemon`. */
  sleep(daemon: number, seconds: number, signal?: AbortSignal): Promise<void> {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new RangeError(`sleep: bad duration ${seconds}`);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      let done = false;
      const onAbort = (): void => {
        if (done) return;
        done = true;
        // Deliver the rejection through the gate too, so a crashed daemon never resumes.
        this.deliverAt(this.scheduler.now, daemon, () => reject(abortReason(signal as AbortSignal)));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const wake = this.trueTimeOfLocal(this.localNow() + seconds);
      this.deliverAt(wake, daemon, () => {
        if (done) return;
        done = true;
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  /** The daemon stops running (SIGSTOP) for `seconds` of true time; its I/O already issued continues. */
  pauseDaemon(seconds: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.scheduler.now + seconds);
    this.log(`FAULT daemon paused for ${seconds.toFixed(1)} s`);
  }

  /** The daemon process dies; the host keeps running (its I/O in flight may still land). */
  crashDaemon(): void {
    this.daemonCount++;
    this.log("FAULT daemon crashed");
  }

  /** Hardware reset: the daemon and all processes die, in-flight I/O is lost (A4). */
  reset(reason: string): void {
    if (!this.up) return;
    this.up = false;
    this.bootCount++;
    this.daemonCount++;
    this.pausedUntil = 0;
    this.log(`RESET (${reason})`);
  }

  /** Power on again after a reset: the monotonic clock restarts near zero. */
  powerOn(bootLocal: number): void {
    if (this.up) throw new Error(`host ${this.name} powered on while up`);
    this.up = true;
    this.bootTrue = this.scheduler.now;
    this.bootLocal = bootLocal;
    this.log(`BOOT monotonic clock restarts at ${bootLocal.toFixed(3)}`);
  }

  /** Wall-clock jump (docs/algorithms.md §8.5 clock faults): must not affect anything. */
  jumpWallClock(seconds: number): void {
    this.wallOffset += seconds;
    this.log(`FAULT wall clock jumps by ${seconds.toFixed(0)} s (no lease decision may notice)`);
  }
}

/** The Clock a daemon instance sees (the core's Clock interface, structurally). */
export class HostClock {
  constructor(
    private readonly host: SimHost,
    private readonly daemon: number,
  ) {}

  now(): number {
    return this.host.localNow();
  }

  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    return this.host.sleep(this.daemon, seconds, signal);
  }
}
