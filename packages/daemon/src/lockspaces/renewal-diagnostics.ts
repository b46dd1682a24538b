/**
 * The renewal channel's messages (diagnostics.ts) from what the renewal worker measured
 * (worker-protocol.ts RenewalMeasure): one per attempt, successful or not. An attempt that
 * failed with SANLK_AIO_TIMEOUT also goes to the I/O-timeout channel: the worker's devices are
 * on its own thread, whose channels nobody on the main thread can see.
 */
import { SanlockResult } from "@sanlock-ts/core";
import { publish } from "../diagnostics.js";
import type { LockspaceSpec } from "./lockspace.js";
import type { RenewalMeasure } from "./worker-protocol.js";

export interface RenewalOutcome {
  readonly result: number;
  /** New last_success; 0 for a failed attempt. */
  readonly timestamp: number;
  readonly readMs: number;
  readonly writeMs: number;
}

export function publishRenewal(spec: LockspaceSpec, outcome: RenewalOutcome, measure: RenewalMeasure): void {
  publish("renewal", () => ({
    lockspace: spec.name,
    hostId: spec.hostId,
    path: spec.path,
    result: outcome.result,
    startedAt: measure.startedAt,
    durationMs: measure.durationMs,
    latenessMs: measure.latenessMs,
    readMs: outcome.readMs,
    writeMs: outcome.writeMs,
    timestamp: outcome.timestamp,
  }));
  if (outcome.result === SanlockResult.AIO_TIMEOUT) {
    publish("ioTimeout", () => ({ path: spec.path, op: "renewal", timeoutMs: spec.ioTimeout * 1000, lockspace: spec.name }));
  }
}
