// SAM_RECOVERY_POLICY_QUORUM on sanlock (docs/sam.md §6): quorate ⇔ for every configured
// lockspace, the daemon's STATUS (level 3: daemon, clients, lockspaces) lists it joined on the
// spaces list, not dead, not killing its holders, with the host id asked for and, if set, a
// renewal younger than maxRenewalAgeSeconds. An unreachable daemon or a failed call counts as
// not quorate. The watcher polls; it never adds or removes lockspaces (joining is host policy).

import { status, type DaemonStatus } from "../operations.js";
import type { QuorumEntry } from "./options.js";

/** STATUS level with daemon, client and lockspace records but no resources (docs/wire.md §7.5). */
const STATUS_LEVEL_LOCKSPACES = 3;
/** Limit of one STATUS call: a daemon that does not answer in time counts as not quorate. */
export const QUORUM_CALL_TIMEOUT_MS = 2000;

/** How often to poll: half the interval, from 100 ms to 1 s. */
export function quorumPollMs(intervalMs: number): number {
  return Math.min(1000, Math.max(100, Math.floor(intervalMs / 2)));
}

/** Which of `entries` the status shows quorate; the first failing one's reason, or undefined. */
export function quorumProblem(entries: readonly QuorumEntry[], st: DaemonStatus): string | undefined {
  const monotime = Number(st.daemon?.state.monotime ?? Number.NaN);
  for (const e of entries) {
    const ls = st.lockspaces.find((l) => l.lockspace === e.lockspace && l.list === "spaces");
    if (ls === undefined) return `lockspace ${e.lockspace} is not joined`;
    if (ls.state.space_dead !== undefined && ls.state.space_dead !== "0") return `lockspace ${e.lockspace} is dead`;
    if (ls.state.killing_pids !== undefined && ls.state.killing_pids !== "0") return `lockspace ${e.lockspace} is killing its holders`;
    if (e.hostId !== undefined && ls.hostId !== BigInt(e.hostId)) return `lockspace ${e.lockspace} is joined as host ${ls.hostId}, not ${e.hostId}`;
    if (e.maxRenewalAgeSeconds !== undefined) {
      const last = Number(ls.state.renewal_last_success ?? Number.NaN);
      if (!(monotime - last < e.maxRenewalAgeSeconds)) return `lockspace ${e.lockspace} was last renewed ${monotime - last} s ago`;
    }
  }
  return undefined;
}

export interface QuorumState {
  readonly quorate: boolean;
  /** Why not, when not quorate. */
  readonly reason: string | undefined;
}

/** Polls the daemon and reports every change of the quorum state. */
export class QuorumWatcher {
  private timer: NodeJS.Timeout | undefined;
  private current: QuorumState | undefined;
  private stopped = false;

  constructor(
    private readonly socketPath: string,
    private readonly entries: readonly QuorumEntry[],
    private readonly pollMs: number,
    private readonly onChange: (state: QuorumState) => void,
  ) {}

  /** No entries: always quorate (the QUORUM flag is not set). */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  get state(): QuorumState {
    if (!this.enabled) return { quorate: true, reason: undefined };
    return this.current ?? { quorate: false, reason: "not checked yet" };
  }

  start(): void {
    if (this.enabled) void this.poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Checks now, without waiting for the next poll. A restart asks this first: the instance that
   * just died may have been killed by the lockspace's removal, which the last poll did not see.
   */
  async refresh(): Promise<void> {
    if (!this.enabled || this.stopped) return;
    const next = await this.check();
    if (!this.stopped) this.apply(next);
  }

  private async poll(): Promise<void> {
    const next = await this.check();
    if (this.stopped) return;
    this.apply(next);
    this.timer = setTimeout(() => void this.poll(), this.pollMs);
  }

  private apply(next: QuorumState): void {
    const changed = this.current?.quorate !== next.quorate;
    this.current = next;
    if (changed) this.onChange(next);
  }

  private async check(): Promise<QuorumState> {
    try {
      const st = await status({ socketPath: this.socketPath, timeoutMs: QUORUM_CALL_TIMEOUT_MS }, STATUS_LEVEL_LOCKSPACES);
      const reason = quorumProblem(this.entries, st);
      return { quorate: reason === undefined, reason };
    } catch (err) {
      return { quorate: false, reason: `daemon not reachable: ${(err as Error).message}` };
    }
  }
}
