/**
 * Daemon-wide state that command handlers share, and the STATUS record stream
 * (docs/wire.md §7.5, state strings docs/wire.md §10.5).
 *
 * Lockspaces and resources are owned by other modules; the server sees them only through
 * `LockspaceHooks` (the lease engine implements them).
 */
import { DAEMON_VERSION_3_8_5, PROTOCOL_VERSION, StateType } from "@sanlock-ts/core/wire";
import type { SanlkLockspace, StateRecord } from "@sanlock-ts/core/wire";
import { Errno } from "@sanlock-ts/core/wire";
import type { ClientTable, Connection } from "./connection.js";
import type { DaemonLog } from "./log.js";
import type { DaemonSettings } from "./options.js";

export const VERSION_STRING = "3.8.5";
/** sanlock 3.8.5's default debug_cmds mask (some repetitive commands cleared, docs/wire.md §10.5). */
export const DEFAULT_DEBUG_CMDS = 0xfffffffffe06ffffn;

/** What the server needs from the lockspace and resource engine. */
export interface LockspaceHooks {
  /** Lockspaces in any list (active, being added, being removed). */
  count(): number;
  /** GET_LOCKSPACES entries in order active, being removed, being added, with LSF_ flags (docs/wire.md §7.21). */
  list(): SanlkLockspace[];
  /** SET_CONFIG (docs/wire.md §7.29): 0, −ENOENT, −ENOSPC or −EINVAL. */
  setConfig(name: string, command: number): number;
  /** LOCKSPACE records (level ≥ 3) then RESOURCE records (level ≥ 4 or 0) for STATUS (docs/wire.md §7.5). */
  statusRecords(includeResources: boolean): StateRecord[];
  /** Forced shutdown (docs/wire.md §8.3): remove every lockspace; resolves when all are gone. */
  removeAll(): Promise<void>;
  /** A registered connection closed (docs/wire.md §5.7): release or orphan its leases. */
  clientGone(conn: Connection): void;
}

export interface DaemonState {
  readonly settings: DaemonSettings;
  readonly ourHostName: string;
  readonly log: DaemonLog;
  readonly clients: ClientTable;
  readonly socketOwner: { readonly uid: number; readonly gid: number };
  lockspaces: LockspaceHooks;
  /** Monotonic seconds (CLOCK_MONOTONIC, like sanlock's monotime()). */
  monotime(): number;
  /** Starts shutdown (docs/wire.md §8.3); resolves once the daemon is ready to exit. */
  requestShutdown(force: boolean): Promise<void>;
  /** True once a shutdown is under way. */
  readonly shuttingDown: boolean;
}

/** Monotonic seconds from libuv's hrtime (CLOCK_MONOTONIC), as sanlock's monotime(). */
export function monotonicSeconds(): number {
  return Number(process.hrtime.bigint() / 1_000_000_000n);
}

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

export function daemonStateString(daemon: DaemonState): string {
  const s = daemon.settings;
  const v = DAEMON_VERSION_3_8_5;
  const fields: [string, string | number][] = [
    ["our_host_name", daemon.ourHostName],
    ["use_watchdog", Number(s.useWatchdog)],
    ["high_priority", Number(s.highPriority)],
    ["mlock_level", s.mlockLevel],
    ["quiet_fail", Number(s.quietFail)],
    ["debug_renew", Number(s.debugRenew)],
    ["debug_clients", Number(s.debugClients)],
    ["debug_cmds", `0x${DEFAULT_DEBUG_CMDS.toString(16)}`],
    ["renewal_history_size", s.renewalHistorySize],
    ["gid", daemon.socketOwner.gid],
    ["uid", daemon.socketOwner.uid],
    ["sh_retries", s.shRetries],
    ["max_sectors_kb_ignore", 0],
    ["max_sectors_kb_align", 0],
    ["max_sectors_kb_num", 1024],
    ["max_worker_threads", s.maxWorkerThreads],
    ["write_init_io_timeout", s.writeInitIoTimeout],
    ["use_aio", Number(s.useAio)],
    ["kill_grace_seconds", s.killGraceSeconds],
    // We run no helper process (sanlock forks one to run killpath programs).
    ["helper_pid", -1],
    ["helper_kill_fd", -1],
    ["helper_full_count", 0],
    ["helper_last_status", 0],
    ["monotime", daemon.monotime()],
    ["version_str", VERSION_STRING],
    ["version_num", `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}`],
    ["version_hex", hex8(v)],
    ["smproto_hex", hex8(PROTOCOL_VERSION)],
  ];
  return fields.map(([key, value]) => `${key}=${value}`).join(" ");
}

export interface ClientStatusEntry {
  readonly ci: number;
  readonly fd: number;
  readonly pid: number;
  readonly name: string;
  readonly flags: number;
  readonly restricted: number;
  readonly cmdActive: number;
  readonly cmdLast: number;
  readonly pidDead: boolean;
  readonly killCount: number;
  readonly killLast: number;
}

export function clientStateString(c: ClientStatusEntry): string {
  return (
    `ci=${c.ci} fd=${c.fd} pid=${c.pid} flags=${c.flags.toString(16)} restricted=${c.restricted.toString(16)} ` +
    `cmd_active=${c.cmdActive} cmd_last=${c.cmdLast} pid_dead=${Number(c.pidDead)} kill_count=${c.killCount} ` +
    `kill_last=${c.killLast} suspend=0 need_free=0`
  );
}

/** The STATUS records for `level` (docs/wire.md §7.5): 1 daemon; 2 + clients; 3 + lockspaces; other + resources. */
export function statusRecords(daemon: DaemonState, level: number): StateRecord[] {
  const records: StateRecord[] = [
    {
      type: StateType.DAEMON,
      flags: 0,
      data32: 0,
      data64: 0n,
      name: daemon.ourHostName,
      str: daemonStateString(daemon),
    },
  ];
  if (level === 1) return records;
  for (const client of daemon.clients.statusEntries()) {
    records.push({
      type: StateType.CLIENT,
      flags: 0,
      data32: client.pid,
      data64: 0n,
      name: client.name,
      str: clientStateString(client),
    });
  }
  if (level === 2) return records;
  records.push(...daemon.lockspaces.statusRecords(level !== 3));
  return records;
}
