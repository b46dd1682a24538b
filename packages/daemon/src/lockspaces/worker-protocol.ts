/**
 * Messages between the lockspaces (main thread, worker-delta.ts) and the daemon's one
 * renewal worker (renewal-worker.ts). Every message names its lockspace by `key`, a number
 * the main thread assigns (renewal-thread.ts) and never reuses within one worker.
 */
import type { ObservedRecord } from "@sanlock-ts/core";

export interface WorkerSpec {
  readonly name: string;
  readonly hostId: number;
  readonly path: string;
  readonly offset: bigint;
  readonly ioTimeout: number;
}

/** What the worker needs to join one lockspace. */
export interface WorkerJoin {
  readonly spec: WorkerSpec;
  readonly hostName: string;
  /** RenewalStatus buffer shared with the main thread. */
  readonly status: SharedArrayBuffer;
}

export type ToWorker =
  | { readonly key: number; readonly op: "join"; readonly join: WorkerJoin }
  | { readonly key: number; readonly op: "abort" }
  | { readonly key: number; readonly op: "notify"; readonly hostId: number }
  | {
      readonly key: number;
      readonly op: "set-event";
      readonly id: number;
      readonly hostId: number;
      readonly generation: bigint;
      readonly event: bigint;
      readonly data: bigint;
      readonly flags: number;
    }
  | { readonly key: number; readonly op: "leave"; readonly id: number };

/** What the worker measured of one renewal attempt (diagnostics.ts RenewalMessage). */
export interface RenewalMeasure {
  /** Monotonic seconds when the attempt started. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** startedAt − (previous last_success + 2·io_timeout), in ms. */
  readonly latenessMs: number;
}

export type FromWorker =
  | {
      readonly key: number;
      readonly op: "joined";
      readonly generation: bigint;
      readonly timestamp: bigint;
      readonly sectorSize: number;
      readonly alignSize: number;
      readonly maxHosts: number;
    }
  | { readonly key: number; readonly op: "join-failed"; readonly result: number; readonly message: string }
  /**
   * One renewal read (docs/algorithms.md §3.2): the records the worker's table examined in it
   * (HostStatusTable.examineArea), for the main thread's table to apply (observeExamined).
   */
  | { readonly key: number; readonly op: "observed"; readonly examined: readonly ObservedRecord[] }
  | {
      readonly key: number;
      readonly op: "renewed";
      readonly timestamp: bigint;
      readonly readMs: number;
      readonly writeMs: number;
      readonly measure: RenewalMeasure;
    }
  | {
      readonly key: number;
      readonly op: "renew-failed";
      readonly result: number;
      readonly corrupt: boolean;
      readonly message: string;
      readonly measure: RenewalMeasure;
    }
  | { readonly key: number; readonly op: "reply"; readonly id: number; readonly result: number }
  | { readonly key: number; readonly op: "log"; readonly level: "error" | "warn" | "info" | "debug"; readonly message: string }
  /** A step of the join in sanlock's words ("delta_acquire write ..."), logged under the lockspace's s<id> tag. */
  | { readonly key: number; readonly op: "step"; readonly message: string };

/**
 * The worker sends its messages in batches, an array each (renewal-worker.ts); this many at most
 * per batch (two per renewal, so 4096 lockspaces renewing in one turn take a few batches).
 */
export const MAX_WORKER_BATCH = 1024;

/** Distributive Omit: a FromWorker message before the worker adds its key. */
export type FromWorkerBody = FromWorker extends infer M ? (M extends FromWorker ? Omit<M, "key"> : never) : never;
