// A health command instead of heartbeats (docs/sam.md §9.1, `supervise --health-cmd`), for
// programs that cannot write to fd 3: run by the supervisor every interval/2 while the instance
// is running, each run limited to interval/2. Exit 0 in time counts as a heartbeat; any other
// outcome stops the checks for the rest of the instance (SAM's failed callback), and the
// deadline does the rest: warning, then SIGKILL.

import { execFile } from "node:child_process";

export interface HealthCommandSpec {
  readonly file: string;
  readonly args: readonly string[];
}

/** Output a health command may print that is kept (and dropped): a bound on memory. */
const MAX_OUTPUT_BYTES = 64 * 1024;

export class HealthCommand {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private failed = false;

  constructor(
    private readonly spec: HealthCommandSpec,
    private readonly intervalMs: number,
    private readonly env: Readonly<Record<string, string>>,
    private readonly onHealthy: () => void,
    private readonly onFailed: (problem: string) => void,
  ) {}

  /** Starts the periodic runs (again after a stop), unless a run has failed in this instance. */
  start(): void {
    if (this.failed || this.timer !== undefined || this.intervalMs === 0) return;
    const period = Math.max(1, Math.floor(this.intervalMs / 2));
    this.timer = setInterval(() => this.runOnce(period), period);
    this.runOnce(period);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private runOnce(limitMs: number): void {
    if (this.running || this.failed) return;
    this.running = true;
    execFile(
      this.spec.file,
      [...this.spec.args],
      { env: { ...process.env, ...this.env }, timeout: limitMs, killSignal: "SIGKILL", maxBuffer: MAX_OUTPUT_BYTES },
      (err) => {
        this.running = false;
        if (this.timer === undefined) return; // stopped meanwhile: the result no longer matters
        if (err === null) {
          this.onHealthy();
          return;
        }
        this.failed = true;
        this.stop();
        this.onFailed(err.killed ? `no answer within ${limitMs} ms` : `exit ${String(err.code ?? err.signal)}`);
      },
    );
  }
}
