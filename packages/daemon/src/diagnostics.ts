/**
 * Every diagnostics channel (node:diagnostics_channel) the daemon publishes on, in one place:
 * names, message shapes and the publish helpers. A publisher builds its message only when the
 * channel has subscribers (`hasSubscribers`), so a daemon nobody watches pays one property read
 * per event. Messages are plain objects of numbers and strings; times are the monotonic clock in
 * seconds (CLOCK_MONOTONIC, the clock of delta-record timestamps), durations in milliseconds.
 *
 *   import { subscribe } from "node:diagnostics_channel";
 *   subscribe("sanlock-ts:lockspace:renewal", (m) => console.log(m.lockspace, m.latenessMs));
 *
 * Renewals run on the renewal worker thread: the main thread publishes what the worker measured
 * (worker-lockspace.ts RenewalMeasure), never its own later view of it.
 */
import diagnosticsChannel from "node:diagnostics_channel";

export const CHANNEL_NAMES = {
  lockspaceJoined: "sanlock-ts:lockspace:joined",
  lockspaceLeft: "sanlock-ts:lockspace:left",
  lockspaceFailed: "sanlock-ts:lockspace:failed",
  renewal: "sanlock-ts:lockspace:renewal",
  acquire: "sanlock-ts:resource:acquire",
  release: "sanlock-ts:resource:release",
  convert: "sanlock-ts:resource:convert",
  killStep: "sanlock-ts:recovery:kill",
  io: "sanlock-ts:device:io",
  ioTimeout: "sanlock-ts:device:io-timeout",
} as const;

export interface LockspaceJoinedMessage {
  readonly lockspace: string;
  readonly hostId: number;
  readonly generation: bigint;
  readonly ioTimeout: number;
  readonly path: string;
}

export interface LockspaceLeftMessage {
  readonly lockspace: string;
  readonly hostId: number;
  /** "remove" (REM_LOCKSPACE, shutdown) or "recovery" (left after failing). */
  readonly reason: string;
}

export interface LockspaceFailedMessage {
  readonly lockspace: string;
  readonly hostId: number;
  readonly reason: string;
  /** Monotonic seconds of the last successful renewal. */
  readonly lastRenewal: number;
}

/** One renewal attempt, as the renewal worker measured it (docs/algorithms.md §2.3). */
export interface RenewalMessage {
  readonly lockspace: string;
  readonly hostId: number;
  readonly path: string;
  /** 0, or the attempt's negative result (−202 SANLK_AIO_TIMEOUT: an I/O did not complete in io_timeout). */
  readonly result: number;
  /** Monotonic seconds when the attempt started. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** How long after it was due the attempt started: due = previous last_success + 2·io_timeout (nominally 500-1500 ms). */
  readonly latenessMs: number;
  readonly readMs: number;
  readonly writeMs: number;
  /** The new last_success (0 when the attempt failed). */
  readonly timestamp: number;
}

export type LeaseMode = "ex" | "sh";

/** One ACQUIRE, RELEASE or CONVERT of one resource for one client (docs/algorithms.md §4, §5). */
export interface LeaseOperationMessage {
  readonly lockspace: string;
  readonly resource: string;
  /** The mode asked for (CONVERT: the mode converted to). */
  readonly mode: LeaseMode;
  readonly pid: number;
  /** 0 or the negative sanlock result. */
  readonly result: number;
  readonly durationMs: number;
  /** Reads and writes issued on the lease's disks during the operation. */
  readonly ioCount: number;
}

/** One step of the kill sequence (docs/algorithms.md §7.3). */
export interface KillStepMessage {
  readonly lockspace: string;
  readonly pid: number;
  readonly action: "killpath" | "SIGTERM" | "SIGKILL";
  readonly attempt: number;
}

/** One completed (or failed) read or write on a device of this thread. */
export interface IoMessage {
  readonly path: string;
  readonly op: "read" | "write";
  readonly bytes: number;
  readonly durationMs: number;
  /** "ok", "timeout" (no completion within the deadline) or "error". */
  readonly outcome: "ok" | "timeout" | "error";
}

/** An I/O that did not complete within its deadline (a device I/O, or a renewal's, which ran on the worker). */
export interface IoTimeoutMessage {
  readonly path: string;
  readonly op: string;
  readonly timeoutMs: number;
  /** The lockspace whose renewal timed out, when it was one. */
  readonly lockspace?: string;
}

export const channels = {
  lockspaceJoined: diagnosticsChannel.channel(CHANNEL_NAMES.lockspaceJoined),
  lockspaceLeft: diagnosticsChannel.channel(CHANNEL_NAMES.lockspaceLeft),
  lockspaceFailed: diagnosticsChannel.channel(CHANNEL_NAMES.lockspaceFailed),
  renewal: diagnosticsChannel.channel(CHANNEL_NAMES.renewal),
  acquire: diagnosticsChannel.channel(CHANNEL_NAMES.acquire),
  release: diagnosticsChannel.channel(CHANNEL_NAMES.release),
  convert: diagnosticsChannel.channel(CHANNEL_NAMES.convert),
  killStep: diagnosticsChannel.channel(CHANNEL_NAMES.killStep),
  io: diagnosticsChannel.channel(CHANNEL_NAMES.io),
  ioTimeout: diagnosticsChannel.channel(CHANNEL_NAMES.ioTimeout),
} as const;

/** Messages by channel key, for typed publishing and subscribing. */
export interface ChannelMessages {
  lockspaceJoined: LockspaceJoinedMessage;
  lockspaceLeft: LockspaceLeftMessage;
  lockspaceFailed: LockspaceFailedMessage;
  renewal: RenewalMessage;
  acquire: LeaseOperationMessage;
  release: LeaseOperationMessage;
  convert: LeaseOperationMessage;
  killStep: KillStepMessage;
  io: IoMessage;
  ioTimeout: IoTimeoutMessage;
}

export type ChannelKey = keyof ChannelMessages;

/** Publishes `build()` on `key`'s channel; `build` runs only when someone subscribes. */
export function publish<K extends ChannelKey>(key: K, build: () => ChannelMessages[K]): void {
  const channel = channels[key];
  if (channel.hasSubscribers) channel.publish(build());
}

/** Subscribes to `key`'s channel with a typed listener; returns the unsubscribe function. */
export function subscribeTo<K extends ChannelKey>(key: K, listener: (message: ChannelMessages[K]) => void): () => void {
  const name = CHANNEL_NAMES[key];
  const untyped = (message: unknown): void => listener(message as ChannelMessages[K]);
  diagnosticsChannel.subscribe(name, untyped);
  return () => {
    diagnosticsChannel.unsubscribe(name, untyped);
  };
}
