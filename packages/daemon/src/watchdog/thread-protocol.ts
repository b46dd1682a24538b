/**
 * What the daemon's main thread (thread.ts) and the watchdog thread (watchdog-worker.ts)
 * exchange. Requests go through the worker's message port, in order; the answers to the two
 * requests the main thread must wait for (register, shutdown, and the test-only status)
 * come back on a second port that the main thread reads synchronously
 * (receiveMessageOnPort) after Atomics.wait on a sequence number. The worker also publishes
 * its device state into shared memory after everything it does, so status() and a crash
 * report never need an answer from it.
 */
import type { MessagePort } from "node:worker_threads";
import type { ShutdownResult, WatchdogStatus } from "./watchdog.js";
import type { WatchdogErrorCode } from "./errors.js";

/** The device the watchdog thread opens and drives; it is built there, never here. */
export type WatchdogThreadDevice =
  /** The Linux watchdog device node (dev-watchdog.ts). */
  | { readonly kind: "dev"; readonly path: string }
  /** The reset model (reset-model.ts), for tests. */
  | {
      readonly kind: "reset-model";
      /** See ResetModelOptions.hardwareTimeoutSeconds (default 60). */
      readonly hardwareTimeoutSeconds?: number;
      /**
       * When it fires, SIGKILL the pids listed with setResetPids and then this process, as a
       * reset of the host would end them (a daemon running as its own process in a test).
       * Otherwise only record it and report it to the main thread (onReset).
       */
      readonly killOnReset?: boolean;
    };

export interface WatchdogWorkerData {
  readonly device: WatchdogThreadDevice;
  readonly testIntervalSeconds: number | undefined;
  /** Int32Array: CONTROL_* slots. */
  readonly control: SharedArrayBuffer;
  /** Float64Array: STATE_* slots. */
  readonly state: SharedArrayBuffer;
  /** Int32Array: [count, pid, pid, ...] killed by a firing reset model (killOnReset). */
  readonly resetPids: SharedArrayBuffer;
  /** Where answers go (read with receiveMessageOnPort). */
  readonly replies: MessagePort;
}

/** Int32 slots of `control`. */
export const CONTROL_READY = 0;
/** Sequence number of the newest answer posted on `replies`. */
export const CONTROL_REPLY_SEQ = 1;
/** Never written: a slot to Atomics.wait on for a short sleep. */
export const CONTROL_SLEEP = 2;
export const CONTROL_SLOTS = 4;

/** Float64 slots of `state` (NaN: none). Times are CLOCK_MONOTONIC seconds of the worker. */
export const STATE_DEVICE_OPEN = 0;
export const STATE_TEST_INTERVAL = 1;
export const STATE_LAST_KEEPALIVE = 2;
export const STATE_LAST_CLOSE_UNCLEAN = 3;
/** Reset model: when it fires unless pinged again (NaN when stopped or not armed). */
export const STATE_MODEL_DEADLINE = 4;
/** Reset model: when it fired. */
export const STATE_MODEL_FIRED = 5;
/** Reset model: its newest ping (open, keepalive or unclean close). */
export const STATE_MODEL_LAST_PING = 6;
/** When the worker last ran a timer or handled a request. */
export const STATE_HEARTBEAT = 7;
export const STATE_SLOTS = 8;

/** Pids a firing reset model kills at most (the daemon's clients). */
export const MAX_RESET_PIDS = 4096;

export type ToWatchdogThread =
  | { readonly op: "register"; readonly seq: number; readonly id: number; readonly name: string; readonly lastSuccess: number; readonly ioTimeout: number }
  | { readonly op: "renewed"; readonly id: number; readonly lastSuccess: number }
  | { readonly op: "clear"; readonly id: number }
  | { readonly op: "close"; readonly id: number }
  /** A register the main thread stopped waiting for: clear and close it if it went through. */
  | { readonly op: "abandon"; readonly id: number }
  | { readonly op: "shutdown"; readonly seq: number }
  | { readonly op: "status"; readonly seq: number };

/** Every answer carries the log lines written while the request was handled (a shutdown's last words). */
export type WatchdogReply = { readonly logs: readonly string[] } & (
  | { readonly seq: number; readonly op: "registered" }
  | { readonly seq: number; readonly op: "refused"; readonly code: WatchdogErrorCode; readonly message: string }
  /** `counting`: the reset model still runs down (its thread must stay to fire it). */
  | { readonly seq: number; readonly op: "shut-down"; readonly result: ShutdownResult; readonly counting: boolean }
  | { readonly seq: number; readonly op: "status"; readonly status: WatchdogStatus }
);

export type FromWatchdogThread = { readonly op: "log"; readonly line: string } | { readonly op: "reset"; readonly firedAt: number };
