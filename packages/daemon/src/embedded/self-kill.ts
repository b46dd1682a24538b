/**
 * The kill sequence's executor in an embedded daemon (docs/algorithms.md §7.3). Holders in other
 * processes get exactly the standalone daemon's treatment (ProcessKillExecutor). A holder that is
 * this very process — the application's own registered connections — cannot be sent SIGTERM the
 * way sanlock sends it to a client (it would hit the application's own signal handlers, or end
 * the process during the grace period), so:
 *
 * - SIGTERM (the grace period): the application is told again that its leases are lost (the
 *   AbortSignals were aborted when the lockspace failed; lease-loss.ts);
 * - SIGKILL (grace over, or a removal / forced shutdown with leases still held): the process
 *   ends, as a sanlock client would be killed. An appliance that cannot prove its lease must stop.
 *
 * A killpath registered by this process runs as usual (it is the application's own choice).
 */
import type { KillExecutor } from "../recovery/kill-executor.js";
import type { KillSignal } from "../recovery/kill-policy.js";

export interface InProcessHolderActions {
  /** The grace period's SIGTERM for this process. */
  terminate(): void;
  /** SIGKILL for this process: must not return normally. */
  kill(): void;
}

export class EmbeddedKillExecutor implements KillExecutor {
  constructor(
    private readonly otherProcesses: KillExecutor,
    private readonly thisProcess: InProcessHolderActions,
    private readonly ownPid: number = process.pid,
  ) {}

  signal(pid: number, signal: KillSignal): void {
    if (pid !== this.ownPid) {
      this.otherProcesses.signal(pid, signal);
      return;
    }
    if (signal === "SIGKILL") this.thisProcess.kill();
    else this.thisProcess.terminate();
  }

  runKillpath(path: string, args: string, pid: number | undefined): boolean {
    return this.otherProcesses.runKillpath(path, args, pid);
  }
}
