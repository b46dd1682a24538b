/**
 * The wdmd test loop (docs/algorithms.md §7.5.4; sanlock wdmd/main.c test_loop and
 * test_clients), multiplexing every lockspace connection onto one device:
 *
 * - every 10 s (every 1 s after a failed test) each connection with an expiry
 *   is tested; `now >= expire - 10` counts as failed (so does `now >= expire`);
 * - all fine → keepalive (re-opening the device if it was closed);
 * - any failed → close the device without the magic code and stop keeping it
 *   alive, so the last ping lies in [expire - 10, expire) and the device fires
 *   in [expire + 50, expire + 60) (docs/algorithms.md §7.5.6).
 *
 * Times are compared in whole monotonic seconds, like wdmd.
 *
 * Runs on the caller's event loop. A stalled loop delays keepalives (the reset
 * only comes earlier), but it can also delay the test that closes the device:
 * a close that lands after `expire - 10` pings late, up to the length of the
 * stall. The daemon therefore runs it, with its device, on a thread that does
 * nothing else (thread.ts, watchdog-worker.ts), so stalls of the main thread
 * cannot delay it; wdmd, a separate process, has the same exposure to its own
 * stalls as that thread has to its own.
 */
import { WATCHDOG_FIRE_TIMEOUT } from "@sanlock-ts/core";
import { ExpiryConnection } from "./connection.js";
import type { WatchdogDevice } from "./device.js";
import type { CancelTimer, Scheduler } from "./scheduler.js";
import type { ShutdownResult, Watchdog, WatchdogConnection, WatchdogStatus } from "./watchdog.js";
import { WatchdogError } from "./errors.js";

/** wdmd's standard test interval for a 60 s fire timeout. */
export const WATCHDOG_TEST_INTERVAL = 10;
/** wdmd's test interval after a failed test (RECOVER_TEST_INTERVAL). */
export const WATCHDOG_RECOVER_TEST_INTERVAL = 1;
/** One connection per lockspace; sanlock's own limit on lockspaces is far lower. */
export const MAX_WATCHDOG_CONNECTIONS = 1024;

export interface WatchdogTesterOptions {
  readonly device: WatchdogDevice;
  readonly scheduler: Scheduler;
  readonly log?: (line: string) => void;
  /**
   * Standard test interval and "close early" margin, 1..10 s. Default 10 as in
   * wdmd for a 60 s device. A smaller value is stricter (the last ping moves
   * closer to the expiry, the device still fires before expire + 60) and is
   * needed for io_timeout 1: with 8N = 8 < 10 every wdmd test fails, so the
   * device would fire 60 s after the first join.
   */
  readonly testIntervalSeconds?: number;
}

export class WatchdogTester implements Watchdog {
  readonly kind = "device" as const;
  private readonly connections = new Set<ExpiryConnection>();
  private enabled = false;
  private resetting = false;
  private testInterval = WATCHDOG_TEST_INTERVAL;
  private testTime = 0;
  private cancelNextTest: CancelTimer | undefined;
  private lastKeepalive: number | undefined;
  private lastCloseUnclean: number | undefined;
  private stopped = false;
  private readonly standardInterval: number;

  constructor(private readonly options: WatchdogTesterOptions) {
    const interval = options.testIntervalSeconds ?? WATCHDOG_TEST_INTERVAL;
    if (!Number.isInteger(interval) || interval < 1 || interval > WATCHDOG_TEST_INTERVAL) {
      throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", `watchdog test interval must be 1..${WATCHDOG_TEST_INTERVAL} s, got ${interval}`);
    }
    this.standardInterval = interval;
    this.testInterval = interval;
  }

  register(name: string, lastSuccess: number, ioTimeout: number): WatchdogConnection {
    if (this.stopped) throw new WatchdogError("ERR_WATCHDOG_CLOSED", `watchdog is shut down; cannot register ${name}`);
    if (this.connections.size >= MAX_WATCHDOG_CONNECTIONS) {
      throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", `too many watchdog connections (max ${MAX_WATCHDOG_CONNECTIONS}) registering ${name}`);
    }
    const connection = new ExpiryConnection(name, lastSuccess, ioTimeout, (c) => this.connectionClosed(c));
    if (!this.enabled) {
      // First user: open the device and verify its 60 s timeout (wdmd open_watchdog);
      // a failure here fails the join (docs/algorithms.md §7.5.1).
      this.options.device.arm(WATCHDOG_FIRE_TIMEOUT);
      this.lastKeepalive = this.nowSeconds();
      this.enabled = true;
      this.testInterval = this.standardInterval;
      this.connections.add(connection);
      this.runTest();
      return connection;
    }
    this.connections.add(connection);
    return connection;
  }

  shutdown(): ShutdownResult {
    this.stopped = true;
    this.cancelNextTest?.();
    this.cancelNextTest = undefined;
    const inForce = [...this.connections].filter((c) => c.expire !== 0).map((c) => c.name);
    if (!this.enabled) return { disarmed: true, expiriesInForce: inForce };
    this.enabled = false;
    if (inForce.length > 0) {
      this.log(`watchdog left to fire at shutdown: expiry in force for ${inForce.join(", ")}`);
      this.closeUnclean();
      return { disarmed: false, expiriesInForce: inForce };
    }
    return { disarmed: this.stopDevice(), expiriesInForce: inForce };
  }

  status(): WatchdogStatus {
    return {
      kind: this.kind,
      device: this.options.device.description,
      deviceOpen: this.options.device.isOpen,
      testInterval: this.enabled ? this.testInterval : 0,
      lastKeepalive: this.lastKeepalive,
      lastCloseUnclean: this.lastCloseUnclean,
      connections: [...this.connections].map((c) => c.status()),
    };
  }

  /** One wdmd test; schedules the next one. */
  private runTest(): void {
    this.cancelNextTest = undefined;
    if (!this.enabled) return;
    const now = this.nowSeconds();
    this.testTime = now;
    const failed = this.failedConnections(now);
    if (failed.length === 0) {
      this.keepalive();
      this.testInterval = this.standardInterval;
      this.resetting = false;
    } else {
      if (this.options.device.isOpen) {
        this.log(`watchdog test failed at ${now} for ${failed.join(", ")}: closing ${this.options.device.description} without disarming`);
      }
      this.closeUnclean();
      this.testInterval = WATCHDOG_RECOVER_TEST_INTERVAL;
      this.resetting = true;
    }
    if (this.closeIfUnused()) return;
    const delay = Math.max(0, this.testTime + this.testInterval - this.options.scheduler.now());
    this.cancelNextTest = this.options.scheduler.after(delay, () => this.runTest());
  }

  /** docs/algorithms.md §7.5.4: expired, or within one standard test interval of expiring (`now >= expire` is implied). */
  private failedConnections(now: number): string[] {
    const failed: string[] = [];
    for (const c of this.connections) {
      if (c.expire === 0) continue;
      if (now >= c.expire - this.standardInterval) failed.push(c.name);
    }
    return failed;
  }

  private keepalive(): void {
    const device = this.options.device;
    try {
      if (device.isOpen) device.keepalive();
      else {
        device.reopen();
        this.log(`${device.description} reopen`);
      }
      this.lastKeepalive = this.nowSeconds();
    } catch (err) {
      // wdmd logs and carries on: a missed keepalive only makes the reset earlier.
      this.log(`${device.description} keepalive failed: ${(err as Error).message}`);
    }
  }

  private closeUnclean(): void {
    if (!this.options.device.isOpen) return;
    try {
      this.options.device.closeUnclean();
    } catch (err) {
      this.log(`${this.options.device.description} close failed: ${(err as Error).message}`);
    }
    this.lastCloseUnclean = this.nowSeconds();
  }

  private connectionClosed(connection: ExpiryConnection): void {
    // docs/algorithms.md §7.5.5: a connection closed with an expiry in force keeps being tested.
    if (connection.expire === 0) this.connections.delete(connection);
    this.closeIfUnused();
  }

  /**
   * wdmd "close watchdog unused": no connection left and not recovering from a
   * failed test → stop the device with the magic close.
   */
  private closeIfUnused(): boolean {
    if (!this.enabled || this.connections.size > 0 || this.resetting) return false;
    this.cancelNextTest?.();
    this.cancelNextTest = undefined;
    this.enabled = false;
    this.stopDevice();
    return true;
  }

  /**
   * Magic close. A device closed uncleanly by a failed test is still counting,
   * so it is reopened first: only an open descriptor can stop it.
   */
  private stopDevice(): boolean {
    const device = this.options.device;
    try {
      if (!device.isOpen) device.reopen();
      device.disarm();
      this.log(`${device.description} disarmed: no users`);
      return true;
    } catch (err) {
      this.log(`${device.description} could not be disarmed: ${(err as Error).message}`);
      return false;
    }
  }

  private nowSeconds(): number {
    return Math.floor(this.options.scheduler.now());
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
