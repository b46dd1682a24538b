/**
 * The kill sequence applied to the clients holding leases in a dying lockspace
 * (docs/algorithms.md §7.3), for a lockspace module that calls it from its removal
 * loop. Decisions come from `planKill`; the per-client counters live on the
 * client record itself (sanlock keeps kill_count / kill_last per client and
 * shows them in STATUS), the "killpath already sent" mark in a WeakMap.
 */
import type { KillExecutor } from "./kill-executor.js";
import { planKill, type KillContext, type KillProgress } from "./kill-policy.js";
import { KillpathFlag } from "@sanlock-ts/core/wire";
import { publish } from "../diagnostics.js";

/** The client-table fields the kill sequence reads and updates (daemon Connection). */
export interface KillableClient {
  readonly pid: number;
  readonly restricted: number;
  readonly killpath: { readonly path: string; readonly args: string; readonly flags: number } | undefined;
  killCount: number;
  killLast: number;
}

/** One lease held by a client (daemon Token): orphans have no client. */
export interface KillableHolder {
  readonly conn: KillableClient | undefined;
}

/** What the kill timing needs from the lockspace (daemon Lockspace). */
export interface DyingLockspace {
  readonly name: string;
  /** STATUS space_id, the "s1" of sanlock's log lines. */
  readonly spaceId?: number;
  readonly renewal: { readonly lastSuccess: number };
  readonly spec: { readonly ioTimeout: number };
  readonly removeRequested: boolean;
}

/** The signal numbers sanlock logs; the killpath is its SIGRUNPATH, 100. */
const SIGNAL_NUMBERS = { killpath: 100, SIGTERM: 15, SIGKILL: 9 } as const;

/** "remove": removal or forced shutdown (SIGKILL); "recovery": renewal failure (graceful first). */
export type HolderKillReason = "remove" | "recovery";

export interface HolderKillerOptions {
  /** Daemon -g, 0..60. */
  readonly killGraceSeconds: number;
  readonly executor: KillExecutor;
  /** Monotonic seconds. */
  readonly now: () => number;
  readonly log?: (line: string) => void;
}

export class HolderKiller {
  private readonly killpathSent = new WeakMap<KillableClient, boolean>();

  constructor(private readonly options: HolderKillerOptions) {
    const grace = options.killGraceSeconds;
    if (!Number.isInteger(grace) || grace < 0 || grace > 60) throw new RangeError(`kill grace must be 0..60 s, got ${grace}`);
  }

  /** One pass of docs/algorithms.md §7.3 over the lockspace's holders; call it at least once a second. */
  killHolders(ls: DyingLockspace, holders: readonly KillableHolder[], reason: HolderKillReason): void {
    const ctx: KillContext = {
      now: this.options.now(),
      lastSuccess: ls.renewal.lastSuccess,
      ioTimeout: ls.spec.ioTimeout,
      killGraceSeconds: this.options.killGraceSeconds,
      // sanlock: sp->external_remove || forced shutdown → SIGKILL, even during recovery.
      forced: reason === "remove" || ls.removeRequested,
    };
    const seen = new Set<KillableClient>();
    for (const holder of holders) {
      const client = holder.conn;
      if (client === undefined || seen.has(client) || client.pid <= 0) continue;
      seen.add(client);
      this.killClient(ls, ctx, client);
    }
  }

  private killClient(ls: DyingLockspace, ctx: KillContext, client: KillableClient): void {
    const before: KillProgress = {
      attempts: client.killCount,
      lastAttemptAt: client.killLast,
      // A client whose kill state was cleared (it released everything and lives on) starts afresh.
      killpathSent: client.killCount > 0 && this.killpathSent.get(client) === true,
    };
    const target = {
      pid: client.pid,
      restrictFlags: client.restricted,
      killpath: client.killpath && {
        path: client.killpath.path,
        args: client.killpath.args,
        appendPid: (client.killpath.flags & KillpathFlag.PID) !== 0,
      },
    };
    const { action, progress } = planKill(ctx, target, before);
    client.killCount = progress.attempts;
    client.killLast = progress.lastAttemptAt;
    this.killpathSent.set(client, progress.killpathSent);
    if (action === "none") return;
    // sanlock's words (send_helper_kill): "s1 kill <pid> sig <n> count <n>", the killpath as signal 100 (SIGRUNPATH).
    const space = ls.spaceId === undefined ? `s ${ls.name}` : `s${ls.spaceId}`;
    this.options.log?.(`${space} kill ${client.pid} sig ${SIGNAL_NUMBERS[action]} count ${progress.attempts}`);
    publish("killStep", () => ({ lockspace: ls.name, pid: client.pid, action, attempt: progress.attempts }));
    if (action === "killpath") {
      const path = target.killpath;
      if (path === undefined) return;
      const started = this.options.executor.runKillpath(path.path, path.args, path.appendPid ? client.pid : undefined);
      if (!started) this.killpathSent.set(client, false);
      return;
    }
    this.options.executor.signal(client.pid, action);
  }
}
