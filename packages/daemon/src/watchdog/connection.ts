/** One lockspace's watchdog connection: its renewal and expiry times (docs/algorithms.md §7.5). */
import { idRenewalFailSeconds } from "@sanlock-ts/core";
import type { WatchdogConnection, WatchdogConnectionStatus } from "./watchdog.js";
import { WatchdogError } from "./errors.js";

function assertSeconds(value: number, field: string, name: string): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", `watchdog connection ${name}: ${field} must be >= 0 seconds, got ${value}`);
  }
}

export class ExpiryConnection implements WatchdogConnection {
  private renewal: number;
  private expireAt: number;
  private cleared = false;
  private closedFlag = false;

  constructor(
    readonly name: string,
    lastSuccess: number,
    private readonly ioTimeout: number,
    private readonly onClose: (connection: ExpiryConnection) => void,
  ) {
    assertSeconds(lastSuccess, "lastSuccess", name);
    this.renewal = lastSuccess;
    this.expireAt = lastSuccess + idRenewalFailSeconds(ioTimeout);
  }

  get expire(): number {
    return this.expireAt;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  renewed(lastSuccess: number): void {
    if (this.closedFlag) throw new WatchdogError("ERR_WATCHDOG_CLOSED", `watchdog connection ${this.name}: renewed after close`);
    // docs/algorithms.md §7.11.5: once cleared, the lockspace is leaving; a late renewal must not re-arm it.
    if (this.cleared) throw new WatchdogError("ERR_WATCHDOG_CLOSED", `watchdog connection ${this.name}: renewed after its expiry was cleared`);
    assertSeconds(lastSuccess, "lastSuccess", this.name);
    this.renewal = lastSuccess;
    this.expireAt = lastSuccess + idRenewalFailSeconds(this.ioTimeout);
  }

  clearExpiry(): void {
    if (this.closedFlag) throw new WatchdogError("ERR_WATCHDOG_CLOSED", `watchdog connection ${this.name}: expiry cleared after close`);
    this.cleared = true;
    this.expireAt = 0;
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.onClose(this);
  }

  status(): WatchdogConnectionStatus {
    return { name: this.name, renewal: this.renewal, expire: this.expireAt, closed: this.closedFlag };
  }
}
