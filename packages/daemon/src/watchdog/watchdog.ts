/**
 * The watchdog contract seen by lockspaces (docs/algorithms.md §7.5): one
 * connection per joined lockspace, carrying the time by which the host must
 * be reset if the lockspace's processes may still run.
 */

export type WatchdogKind = "device" | "none";

export interface WatchdogConnectionStatus {
  readonly name: string;
  /** last_success of the newest successful renewal (monotonic seconds). */
  readonly renewal: number;
  /** renewal + 8N; 0 once cleared (no expiry). */
  readonly expire: number;
  readonly closed: boolean;
}

export interface WatchdogConnection {
  readonly name: string;
  /** Current expiry (monotonic seconds), 0 when none is in force. */
  readonly expire: number;
  /** docs/algorithms.md §7.5.2 / §7.11.2: after a renewal write succeeded, `expire = lastSuccess + 8N`. */
  renewed(lastSuccess: number): void;
  /** docs/algorithms.md §7.5.3: the lockspace was left safely (every holder gone, docs/algorithms.md §7.11.5): no expiry any more. */
  clearExpiry(): void;
  /** Drop the connection. An expiry still in force keeps being enforced (docs/algorithms.md §7.5.5). */
  close(): void;
}

export interface WatchdogStatus {
  readonly kind: WatchdogKind;
  readonly device: string;
  readonly deviceOpen: boolean;
  /** Seconds between tests: 10, or 1 after a failed test. 0 when not testing. */
  readonly testInterval: number;
  readonly lastKeepalive: number | undefined;
  readonly lastCloseUnclean: number | undefined;
  readonly connections: readonly WatchdogConnectionStatus[];
  /**
   * Set once the watchdog thread (thread.ts) has ended: nothing keeps the device alive any
   * more, so the host will be reset; says why and by when. Absent while all is well.
   */
  readonly failed?: string;
}

export interface ShutdownResult {
  /** True when the device was stopped with the magic close (or there is none). */
  readonly disarmed: boolean;
  /** Names of connections whose expiry was still in force (device left to fire). */
  readonly expiriesInForce: readonly string[];
}

export interface Watchdog {
  readonly kind: WatchdogKind;
  /**
   * docs/algorithms.md §7.5.1 / §7.11.1: register a lockspace at join, before any lease of it can
   * be granted, with `expire = lastSuccess + 8N`. Throws WatchdogError when the
   * device cannot be armed with the 60 s fire timeout (the join must then fail).
   */
  register(name: string, lastSuccess: number, ioTimeout: number): WatchdogConnection;
  /**
   * Daemon exit. With no expiry in force the device is stopped with the magic
   * close; otherwise it is closed without it, so it fires (as if sanlock crashed).
   */
  shutdown(): ShutdownResult;
  status(): WatchdogStatus;
}
