// A crashed daemon is restarted by the host's service manager a few seconds later. Its processes
// keep running meanwhile, and the old watchdog connection keeps its expiry (docs/algorithms.md
// §7.5.5), so the host is reset if they outlive it. Shared by the lease and the DLM workloads.
import type { HostContext } from "./world.js";

/** Seconds the service manager takes to restart a crashed daemon (drawn per crash). */
const RESTART_MIN_SECONDS = 2;
const RESTART_MAX_SECONDS = 30;

export class CrashRestart {
  private pending = false;

  constructor(private readonly ctx: HostContext) {}

  /** One restart at a time; none if the host was reset since the crash or a daemon runs again. */
  schedule(stillDown: () => boolean, boot: () => void): void {
    if (this.pending) return;
    this.pending = true;
    const bootNumber = this.ctx.host.boot;
    this.ctx.scheduler.after(this.ctx.random.between(RESTART_MIN_SECONDS, RESTART_MAX_SECONDS), () => {
      this.pending = false;
      if (this.ctx.host.bootAlive(bootNumber) && stillDown()) boot();
    });
  }
}
