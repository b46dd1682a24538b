// The watchdog as docs/algorithms.md §7.5 models wdmd + the hardware timer:
// * one connection per joined lockspace with an expiry on the host's monotonic clock;
// * a test every 10 s (1 s once a test has failed): if any connection has now ≥ expire − 10
//   the test fails; the first such test closes the device, which acts as a last keepalive, later
//   ones give none; a test with every connection fine gives a keepalive;
// * the hardware fires 60 s after the last keepalive and resets the host (A3: all activity stops).
// It runs outside the daemon: a crashed or paused daemon does not stop it, and a connection keeps
// its expiry when the daemon dies (docs/algorithms.md §7.5.5).

import type { Scheduler } from "./scheduler.js";
import type { SimHost } from "./sim-host.js";

export const WATCHDOG_FIRE_SECONDS = 60;
const TEST_INTERVAL = 10;
const FAILED_TEST_INTERVAL = 1;
const CLOSE_EARLY_SECONDS = 10;

export class WatchdogModel {
  private readonly expiries = new Map<string, number>();
  private lastKeepalive = 0;
  private deviceOpen = true;
  private boot = -1;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly host: SimHost,
    private readonly onReset: (reason: string) => void,
  ) {}

  /** Starts wdmd after a boot; the first test falls at a seeded phase within 10 s. */
  start(firstTestIn: number): void {
    this.boot = this.host.boot;
    this.expiries.clear();
    this.deviceOpen = true;
    this.lastKeepalive = this.host.localNow();
    this.scheduleFireCheck();
    this.scheduleTest(firstTestIn);
  }

  /** Registers or moves a lockspace's expiry (local seconds); 0 clears it (docs/algorithms.md §7.5.1-3). */
  setExpiry(key: string, expire: number): void {
    if (this.host.boot !== this.boot) return;
    if (expire === 0) this.expiries.delete(key);
    else this.expiries.set(key, expire);
  }

  expiryOf(key: string): number {
    return this.expiries.get(key) ?? 0;
  }

  /** Local time of the last keepalive. */
  get lastPing(): number {
    return this.lastKeepalive;
  }

  private scheduleTest(localDelay: number): void {
    const boot = this.boot;
    this.scheduler.at(this.host.trueTimeOfLocal(this.host.localNow() + localDelay), () => {
      if (!this.host.bootAlive(boot)) return;
      const now = this.host.localNow();
      let expired = false;
      let closing = false;
      for (const expire of this.expiries.values()) {
        if (now >= expire) expired = true;
        else if (now >= expire - CLOSE_EARLY_SECONDS) closing = true;
      }
      const failed = expired || closing;
      // Fine: keepalive (re-opening the device if closed). Within 10 s of an expiry: the device is
      // closed without the disarm code, and the close itself acts as one final keepalive (docs/algorithms.md §7.5.4).
      if (!failed || (!expired && this.deviceOpen)) {
        this.lastKeepalive = now;
        this.scheduleFireCheck();
      }
      this.deviceOpen = !failed;
      this.scheduleTest(failed ? FAILED_TEST_INTERVAL : TEST_INTERVAL);
    });
  }

  private scheduleFireCheck(): void {
    const boot = this.boot;
    const ping = this.lastKeepalive;
    this.scheduler.at(this.host.trueTimeOfLocal(ping + WATCHDOG_FIRE_SECONDS), () => {
      if (!this.host.bootAlive(boot) || this.lastKeepalive !== ping) return;
      this.onReset(`watchdog fired, last keepalive at local ${ping.toFixed(3)}`);
    });
  }
}
