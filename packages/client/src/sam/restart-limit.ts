// The restart limit (docs/sam.md §5.4), systemd's StartLimitBurst/StartLimitIntervalSec: a
// restart is refused when `burst` restarts already happened within the last `intervalMs`,
// so burst 5 allows 6 spawns in a row. SAM itself has no limit (null).

import type { RestartLimit } from "./options.js";

export class RestartCounter {
  /** Times (ms) of the restarts inside the window; at most burst + 1 are kept. */
  private readonly times: number[] = [];

  constructor(private readonly limit: RestartLimit | null) {}

  /** Records a restart at `nowMs` if allowed; false when the limit refuses it. */
  tryRestart(nowMs: number): boolean {
    if (this.limit === null) return true;
    const since = nowMs - this.limit.intervalMs;
    while (this.times.length > 0 && (this.times[0] as number) <= since) this.times.shift();
    if (this.times.length >= this.limit.burst) return false;
    this.times.push(nowMs);
    return true;
  }
}
