/**
 * Every duration derived from io_timeout, exactly as docs/algorithms.md §1.3 / §1.4
 * (sanlock src/timeouts.c). All values are whole seconds.
 */

import { MAX_IO_TIMEOUT, WATCHDOG_FIRE_TIMEOUT } from "./limits.js";

// Kept importable from here for the modules that take their durations from this file.
export { MAX_IO_TIMEOUT, WATCHDOG_FIRE_TIMEOUT } from "./limits.js";
/** Default graceful-kill period after recovery starts (daemon -g). */
export const DEFAULT_KILL_GRACE_SECONDS = 40;
/** Shared acquire retries after a short-hold conflict (docs/algorithms.md §5.2). */
export const SH_RETRIES = 8;
/** Timeout for the writes that initialise a lease (docs/algorithms.md §1.3 other fixed numbers). */
export const WRITE_INIT_IO_TIMEOUT = 60;
/** Pause after a failed renewal attempt (docs/algorithms.md §2.3). */
export const RENEWAL_RETRY_SECONDS = 0.5;

export interface Timeouts {
  ioTimeout: number;
  idRenewalSeconds: number;
  idRenewalWarnSeconds: number;
  idRenewalFailSeconds: number;
  watchdogFireTimeout: number;
  hostDeadSeconds: number;
  deltaLargeDelay: number;
  deltaShortDelay: number;
  deltaAcquireHeldWait: number;
  setBitmapSeconds: number;
  renewalWriteTimeout: number;
  renewalReadExtendSeconds: number;
  killGraceSeconds: number;
  requestFinishSeconds: number;
}

/** Check that an io_timeout can be used by a joining host (1..255, docs/algorithms.md §1.2). */
export function assertIoTimeout(ioTimeout: number): void {
  if (!Number.isInteger(ioTimeout) || ioTimeout < 1 || ioTimeout > MAX_IO_TIMEOUT) {
    throw new RangeError(`io_timeout must be an integer 1..${MAX_IO_TIMEOUT}, got ${ioTimeout}`);
  }
}

/** A recorded io_timeout of 0 means "use our own" in every liveness check (docs/algorithms.md §1.4). */
export function effectiveIoTimeout(recorded: number, own: number): number {
  return recorded === 0 ? own : recorded;
}

/** 8N + W: no-change time after which a host is certainly reset. */
export function hostDeadSeconds(ioTimeout: number): number {
  return 8 * ioTimeout + WATCHDOG_FIRE_TIMEOUT;
}

/** 8N: renewal gap that starts recovery; FAIL threshold for other hosts. */
export function idRenewalFailSeconds(ioTimeout: number): number {
  return 8 * ioTimeout;
}

/** 2N: target interval between renewals. */
export function idRenewalSeconds(ioTimeout: number): number {
  return 2 * ioTimeout;
}

/** Join wait before taking a held host_id: max(8No+60, 2No+6No), No = previous owner's (docs/algorithms.md §2.2 step 5). */
export function deltaAcquireHeldWait(previousIoTimeout: number): number {
  return Math.max(hostDeadSeconds(previousIoTimeout), 2 * previousIoTimeout + 6 * previousIoTimeout);
}

/** Join wait between the write and the re-read: 2No of the previous owner (docs/algorithms.md §2.2 step 7). */
export function deltaShortDelay(previousIoTimeout: number): number {
  return 2 * previousIoTimeout;
}

export interface TimeoutOverrides {
  /** Daemon option -b; default 6N. */
  setBitmapSeconds?: number;
  /** Daemon option -g, 0..60; default 40. */
  killGraceSeconds?: number;
  /** Configurable; default N (0 in config means 0.5 s). */
  renewalReadExtendSeconds?: number;
}

/** All timeouts for one host's io_timeout `N` (docs/algorithms.md §1.3 table). */
export function deriveTimeouts(ioTimeout: number, overrides: TimeoutOverrides = {}): Timeouts {
  assertIoTimeout(ioTimeout);
  const n = ioTimeout;
  const killGrace = overrides.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS;
  if (killGrace < 0 || killGrace > 60) throw new RangeError(`kill grace must be 0..60, got ${killGrace}`);
  return {
    ioTimeout: n,
    idRenewalSeconds: 2 * n,
    idRenewalWarnSeconds: 6 * n,
    idRenewalFailSeconds: 8 * n,
    watchdogFireTimeout: WATCHDOG_FIRE_TIMEOUT,
    hostDeadSeconds: hostDeadSeconds(n),
    deltaLargeDelay: 2 * n + 6 * n,
    deltaShortDelay: 2 * n,
    deltaAcquireHeldWait: deltaAcquireHeldWait(n),
    setBitmapSeconds: overrides.setBitmapSeconds ?? 6 * n,
    renewalWriteTimeout: 8 * n + WATCHDOG_FIRE_TIMEOUT,
    renewalReadExtendSeconds: overrides.renewalReadExtendSeconds ?? n,
    killGraceSeconds: killGrace,
    requestFinishSeconds: 3 * 2 * n,
  };
}
