/**
 * On-disk release of a resource no local client holds any more (docs/algorithms.md §7.1, §7.7).
 *
 * - lockspace in recovery (or gone): dropped without disk I/O (docs/algorithms.md §7.11 rule 10);
 * - released: dropped from the table;
 * - the release I/O timed out: the resource stays parked (local acquires get −EAGAIN,
 *   docs/algorithms.md §7.11 rule 9) and is retried N s after the attempt started, then every 2N s, until it
 *   succeeds, fails otherwise, or the lockspace fails;
 * - any other failure: logged and dropped (the lease stays owned on disk; other hosts take
 *   it by the owner-gone rules).
 */
import { DAEMON_CLOCK } from "../daemon-clock.js";
import { wireResultOf } from "../results.js";
import type { HeldResource } from "./tokens.js";
import { SanlockResult } from "@sanlock-ts/core";

/** Bound on background retries of one release (2N apart: hours with N = 10). */
export const MAX_RELEASE_RETRIES = 1000;

export interface BackgroundReleaseDeps {
  drop(resource: HeldResource): void;
  /** True when the resource's lockspace is in recovery or gone. */
  lockspaceFailed(resource: HeldResource): boolean;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
}

export class BackgroundReleaser {
  constructor(private readonly deps: BackgroundReleaseDeps) {}

  /** First attempt now; resolves with its result (0, or the error; a timeout keeps retrying). */
  async release(resource: HeldResource): Promise<number> {
    const result = await this.attempt(resource);
    if (result === SanlockResult.AIO_TIMEOUT) void this.retry(resource);
    return result;
  }

  private async attempt(resource: HeldResource): Promise<number> {
    if (this.deps.lockspaceFailed(resource)) {
      this.deps.log("warn", `release ${resource.lockspace}:${resource.name}: lockspace failed, dropped without disk I/O`);
      this.deps.drop(resource);
      return 0;
    }
    try {
      await resource.lease.release(resource.renameTo);
    } catch (error) {
      const result = wireResultOf(error);
      this.deps.log("error", `release ${resource.lockspace}:${resource.name} failed ${result}: ${(error as Error).message}`);
      if (result !== SanlockResult.AIO_TIMEOUT) this.deps.drop(resource);
      return result;
    }
    this.deps.drop(resource);
    return 0;
  }

  private async retry(resource: HeldResource): Promise<void> {
    const n = resource.lease.host.ioTimeout;
    let wait = n;
    for (let i = 0; i < MAX_RELEASE_RETRIES; i++) {
      await DAEMON_CLOCK.sleep(wait);
      wait = 2 * n;
      if ((await this.attempt(resource)) !== SanlockResult.AIO_TIMEOUT) return;
    }
    this.deps.log("error", `release ${resource.lockspace}:${resource.name}: gave up after ${MAX_RELEASE_RETRIES} retries`);
    this.deps.drop(resource);
  }
}
