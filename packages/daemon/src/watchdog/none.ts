/**
 * Daemon option -w 0: no watchdog. Connections still record their expiry (for
 * status output), but nothing resets the host: safety then rests entirely on
 * the kill sequence, as with sanlock -w 0.
 */
import { ExpiryConnection } from "./connection.js";
import { WatchdogError } from "./errors.js";
import { MAX_WATCHDOG_CONNECTIONS } from "./tester.js";
import type { ShutdownResult, Watchdog, WatchdogConnection, WatchdogStatus } from "./watchdog.js";

export class NoWatchdog implements Watchdog {
  readonly kind = "none" as const;
  private readonly connections = new Set<ExpiryConnection>();

  register(name: string, lastSuccess: number, ioTimeout: number): WatchdogConnection {
    if (this.connections.size >= MAX_WATCHDOG_CONNECTIONS) {
      throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", `too many watchdog connections (max ${MAX_WATCHDOG_CONNECTIONS}) registering ${name}`);
    }
    const connection = new ExpiryConnection(name, lastSuccess, ioTimeout, (c) => this.connections.delete(c));
    this.connections.add(connection);
    return connection;
  }

  shutdown(): ShutdownResult {
    const inForce = [...this.connections].filter((c) => c.expire !== 0).map((c) => c.name);
    return { disarmed: true, expiriesInForce: inForce };
  }

  status(): WatchdogStatus {
    return {
      kind: this.kind,
      device: "none",
      deviceOpen: false,
      testInterval: 0,
      lastKeepalive: undefined,
      lastCloseUnclean: undefined,
      connections: [...this.connections].map((c) => c.status()),
    };
  }
}
