// The options of a SAM supervisor (docs/sam.md §5.1): SAM's time_interval and recovery
// policy, with the extensions sanlock-ts adds (restart delay and limit, clean exit codes,
// lease continuity), checked once and given their defaults here.

import { constants } from "node:os";
import { SamArgumentError } from "./errors.js";

/** SAM_RECOVERY_POLICY_QUIT / _RESTART. */
export type RecoveryPolicy = "quit" | "restart";
/** How the next instance takes the previous instance's leases (docs/sam.md §7). */
export type Continuity = "none" | "lver" | "hold";

/** SAM_RECOVERY_POLICY_QUORUM: a lockspace this host must have joined and be renewing. */
export interface QuorumEntry {
  readonly lockspace: string;
  readonly hostId?: number;
  /** Quorate only while the last renewal is younger than this (seconds). */
  readonly maxRenewalAgeSeconds?: number;
}

export interface RestartLimit {
  /** Restarts allowed within `intervalMs`; the next one is refused. */
  readonly burst: number;
  readonly intervalMs: number;
}

export interface SamOptions {
  /** SAM time_interval: a started instance silent for this long is warned, then killed; 0 = exit detection only. */
  readonly intervalMs: number;
  readonly policy: RecoveryPolicy;
  readonly quorum?: readonly QuorumEntry[];
  /** SAM_RECOVERY_POLICY_CMAP: the status file (default on). */
  readonly status?: boolean | { readonly dir?: string; readonly name?: string };
  /** Sent first when an instance misses its deadline (default SIGTERM; SIGKILL = no warning). */
  readonly warnSignal?: NodeJS.Signals;
  /** Quorum lost with intervalMs 0: SIGKILL this long after the warning (default 10 000). */
  readonly killAfterMs?: number;
  /** Pause between the reap of an instance and the spawn of the next (default 100). */
  readonly restartDelayMs?: number;
  /** Default 5 restarts in 10 s; null = unlimited, as SAM. */
  readonly restartLimit?: RestartLimit | null;
  /** Exit codes of a started instance that count as a clean quit (default none, as SAM). */
  readonly successExitCodes?: readonly number[];
  readonly continuity?: Continuity;
  /** SAM's sam_data_store before sam_register: the data instance 1 sees. */
  readonly initialData?: Uint8Array;
  /** Largest stored data (default 1 MiB, at most 64 MiB). */
  readonly maxDataBytes?: number;
  /** Keeps data, warn signal and leases across supervisor restarts in this file (extension; docs/sam.md §8.1). */
  readonly stateFile?: string;
  /** Where the daemon is (default: $SANLOCK_RUN_DIR/sanlock.sock, else /run/sanlock). */
  readonly sanlock?: { readonly runDir?: string; readonly socketPath?: string };
}

/** The options with every default filled in. */
export interface ResolvedOptions {
  readonly intervalMs: number;
  readonly policy: RecoveryPolicy;
  readonly quorum: readonly QuorumEntry[];
  readonly status: { readonly dir: string | undefined; readonly name: string | undefined } | null;
  readonly warnSignal: NodeJS.Signals;
  readonly killAfterMs: number;
  readonly restartDelayMs: number;
  readonly restartLimit: RestartLimit | null;
  readonly successExitCodes: readonly number[];
  readonly continuity: Continuity;
  readonly initialData: Uint8Array | undefined;
  readonly maxDataBytes: number;
  readonly stateFile: string | undefined;
  readonly sanlock: { readonly runDir?: string; readonly socketPath?: string };
}

/** One day: no interval or delay is longer (a typo in ms must not mean "never"). */
export const MAX_INTERVAL_MS = 24 * 3600 * 1000;
export const DEFAULT_MAX_DATA_BYTES = 1 << 20;
export const MAX_DATA_BYTES = 64 << 20;
export const DEFAULT_RESTART_DELAY_MS = 100;
export const DEFAULT_KILL_AFTER_MS = 10_000;
export const DEFAULT_RESTART_LIMIT: RestartLimit = { burst: 5, intervalMs: 10_000 };
const MAX_QUORUM_ENTRIES = 64;
const MAX_RESTART_BURST = 1_000_000;

function checkMs(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min || value > MAX_INTERVAL_MS) {
    throw new SamArgumentError(name, `must be an integer from ${min} to ${MAX_INTERVAL_MS} ms, got ${String(value)}`);
  }
  return value;
}

/** A signal name Node knows ("SIGTERM", "SIGUSR1"...). */
export function checkSignal(name: string, value: unknown): NodeJS.Signals {
  if (typeof value !== "string" || !Object.hasOwn(constants.signals, value)) {
    throw new SamArgumentError(name, `must be a signal name such as SIGTERM, got ${String(value)}`);
  }
  return value as NodeJS.Signals;
}

export function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal];
}

function checkPolicy(value: unknown): RecoveryPolicy {
  if (value !== "quit" && value !== "restart") throw new SamArgumentError("policy", `must be "quit" or "restart", got ${String(value)}`);
  return value;
}

function checkQuorum(entries: readonly QuorumEntry[] | undefined): readonly QuorumEntry[] {
  if (entries === undefined) return [];
  if (!Array.isArray(entries) || entries.length > MAX_QUORUM_ENTRIES)
    throw new SamArgumentError("quorum", `must be a list of at most ${MAX_QUORUM_ENTRIES} lockspaces`);
  entries.forEach((e, i) => {
    if (typeof e.lockspace !== "string" || e.lockspace === "" || Buffer.byteLength(e.lockspace) > 48) {
      throw new SamArgumentError(`quorum.${i}.lockspace`, "must be a lockspace name of 1 to 48 bytes");
    }
    if (e.hostId !== undefined && (!Number.isInteger(e.hostId) || e.hostId < 1 || e.hostId > 2000)) {
      throw new SamArgumentError(`quorum.${i}.hostId`, "must be a host id from 1 to 2000");
    }
    if (e.maxRenewalAgeSeconds !== undefined && !(e.maxRenewalAgeSeconds > 0))
      throw new SamArgumentError(`quorum.${i}.maxRenewalAgeSeconds`, "must be positive");
  });
  return entries;
}

function checkRestartLimit(limit: RestartLimit | null | undefined): RestartLimit | null {
  if (limit === null) return null;
  if (limit === undefined) return DEFAULT_RESTART_LIMIT;
  if (!Number.isInteger(limit.burst) || limit.burst < 0 || limit.burst > MAX_RESTART_BURST) {
    throw new SamArgumentError("restartLimit.burst", `must be an integer from 0 to ${MAX_RESTART_BURST}`);
  }
  return { burst: limit.burst, intervalMs: checkMs("restartLimit.intervalMs", limit.intervalMs, 1) };
}

function checkStatus(status: SamOptions["status"]): ResolvedOptions["status"] {
  if (status === false) return null;
  if (status === undefined || status === true) return { dir: undefined, name: undefined };
  if (status.name !== undefined && !/^[\w.@-]{1,64}$/.test(status.name)) throw new SamArgumentError("status.name", "must be 1 to 64 of [A-Za-z0-9_.@-]");
  return { dir: status.dir, name: status.name };
}

function checkStateFile(path: unknown): string | undefined {
  if (path === undefined) return undefined;
  if (typeof path !== "string" || path === "" || path.includes("\0")) throw new SamArgumentError("stateFile", "must be a file name");
  return path;
}

/** Checks `o` and fills in the defaults; throws SamArgumentError (libsam CS_ERR_INVALID_PARAM). */
export function resolveOptions(o: SamOptions): ResolvedOptions {
  if (typeof o !== "object" || o === null) throw new SamArgumentError("options", "must be an object");
  const maxDataBytes = o.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
  if (!Number.isInteger(maxDataBytes) || maxDataBytes < 0 || maxDataBytes > MAX_DATA_BYTES) {
    throw new SamArgumentError("maxDataBytes", `must be an integer from 0 to ${MAX_DATA_BYTES}`);
  }
  if (o.initialData !== undefined && !(o.initialData instanceof Uint8Array)) throw new SamArgumentError("initialData", "must be a Uint8Array");
  if (o.initialData !== undefined && o.initialData.byteLength > maxDataBytes)
    throw new SamArgumentError("initialData", `is larger than maxDataBytes ${maxDataBytes}`);
  const continuity = o.continuity ?? "none";
  if (continuity !== "none" && continuity !== "lver" && continuity !== "hold") {
    throw new SamArgumentError("continuity", `must be "none", "lver" or "hold", got ${String(continuity)}`);
  }
  const successExitCodes = o.successExitCodes ?? [];
  if (!successExitCodes.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) throw new SamArgumentError("successExitCodes", "must be exit codes 0 to 255");
  return {
    intervalMs: checkMs("intervalMs", o.intervalMs, 0),
    policy: checkPolicy(o.policy),
    quorum: checkQuorum(o.quorum),
    status: checkStatus(o.status),
    warnSignal: checkSignal("warnSignal", o.warnSignal ?? "SIGTERM"),
    killAfterMs: checkMs("killAfterMs", o.killAfterMs ?? DEFAULT_KILL_AFTER_MS, 1),
    restartDelayMs: checkMs("restartDelayMs", o.restartDelayMs ?? DEFAULT_RESTART_DELAY_MS, 0),
    restartLimit: checkRestartLimit(o.restartLimit),
    successExitCodes,
    continuity,
    initialData: o.initialData,
    maxDataBytes,
    stateFile: checkStateFile(o.stateFile),
    sanlock: o.sanlock ?? {},
  };
}
