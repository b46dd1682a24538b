/**
 * The daemon's watchdog on a thread of its own (docs/algorithms.md §7.5): the main-thread handle
 * of watchdog-worker.ts, which runs the wdmd test loop (WatchdogTester) and opens, keeps
 * alive and closes the device.
 *
 * Why a thread: the test that closes the device when a connection is within 10 s of its
 * expiry must not wait for the main event loop. On the main thread a 30 s stall (a busy
 * loop, a huge GC, a blocked system call) pushed that close past `expire − 10`; the late
 * close is itself a ping, so the device fired up to a stall later than `expire + 60`, after
 * the other hosts may already have taken the leases. The watchdog thread runs nothing but
 * the test loop, so its timers run on time whatever the main thread does. wdmd is likewise
 * a process of its own, apart from sanlock.
 *
 * Why not the renewal worker (renewal-worker.ts): that thread lives only while lockspaces
 * exist (it is stopped with the last one), while the watchdog must outlive a lockspace whose
 * expiry is still in force (docs/algorithms.md §7.5.5) and keep testing after a failed test; it runs the
 * renewals and decodes whole lockspace areas for every lockspace, so its loop can be busy;
 * and when it dies the renewals stop, which the lockspaces already treat as failing renewal
 * (docs/algorithms.md §2.4) — the watchdog must then be the independent part that still acts. A thread costs a
 * V8 isolate (about 10 MiB); one more is cheap next to that independence.
 *
 * Order: every call on a connection (renewed, clearExpiry, close) is posted on the one
 * worker port, in the order made, after the register of that connection. register() and
 * shutdown() wait for the thread's answer (Atomics.wait, bounded), because a join must fail
 * when the device cannot be armed at 60 s (docs/algorithms.md §7.5.1) and the exit must know whether the device
 * was disarmed. Each connection is mirrored here (the same ExpiryConnection code), so misuse
 * throws synchronously as before and status() needs no answer; the device state comes from
 * shared memory the thread updates after everything it does.
 *
 * Expiry updates reach the thread through this (main) thread: a renewal that the main thread
 * has not yet relayed leaves the thread with an older expiry, which can only make it close
 * the device earlier, never later.
 *
 * If the thread dies (an uncaught error, out of memory, terminate), the hardware fires and
 * resets the host; the daemon does not carry on as if it were armed. Node closes the file
 * descriptors a worker opened when the worker ends, so an open device is closed without the
 * magic 'V' at that moment: on common drivers a last ping, and the reset follows 60 s later
 * (a device already closed by a failed test keeps its earlier countdown). That is safe: the
 * thread keeps the device open only after a test found every expiry more than 10 s away, and
 * tests again within 10 s, so while it runs its timers it dies before the earliest expiry and
 * the reset comes before `expire + 60` (a thread stuck for a long time before dying has the
 * exposure of a stuck wdmd). Nothing is left open afterwards, so no later exit of the process
 * can ping the device late. Every later register() throws ERR_WATCHDOG_THREAD (add_lockspace
 * fails with SANLK_WD_ERROR), status() reports `failed`, and the failure is logged with the
 * time of the coming reset. The reset model, whose timer died with the thread, is fired from
 * this thread instead, as the hardware would: 60 s after that last close, or at the deadline
 * of an earlier unclean close.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { writeSync } from "node:fs";
import { ExpiryConnection } from "./connection.js";
import { WatchdogError } from "./errors.js";
import { killPidsOnReset } from "./reset-model.js";
import { MAX_WATCHDOG_CONNECTIONS, WATCHDOG_TEST_INTERVAL } from "./tester.js";
import {
  CONTROL_READY,
  CONTROL_REPLY_SEQ,
  CONTROL_SLEEP,
  CONTROL_SLOTS,
  MAX_RESET_PIDS,
  STATE_DEVICE_OPEN,
  STATE_HEARTBEAT,
  STATE_LAST_CLOSE_UNCLEAN,
  STATE_LAST_KEEPALIVE,
  STATE_MODEL_DEADLINE,
  STATE_MODEL_FIRED,
  STATE_MODEL_LAST_PING,
  STATE_SLOTS,
  STATE_TEST_INTERVAL,
  type FromWatchdogThread,
  type ToWatchdogThread,
  type WatchdogReply,
  type WatchdogThreadDevice,
  type WatchdogWorkerData,
} from "./thread-protocol.js";
import type { ShutdownResult, Watchdog, WatchdogConnection, WatchdogConnectionStatus, WatchdogStatus } from "./watchdog.js";
import { WATCHDOG_FIRE_TIMEOUT } from "@sanlock-ts/core";

export interface ThreadedWatchdogOptions {
  readonly device: WatchdogThreadDevice;
  /** See WatchdogTesterOptions.testIntervalSeconds (default 10, as wdmd). */
  readonly testIntervalSeconds?: number;
  /** The thread's log lines, and this handle's own (delivered when this thread runs). */
  readonly log?: (line: string) => void;
  /** Reset model without killOnReset: told when it fired (once this thread runs). */
  readonly onReset?: (firedAt: number) => void;
  /** Longest wait for an answer once the thread runs (default 10 s). */
  readonly replyTimeoutSeconds?: number;
  /** Longest wait for the thread to start (default 30 s; a test loader compiles it first). */
  readonly startTimeoutSeconds?: number;
}

/** What the reset model in the thread shows (tests). Times on the thread's monotonic clock. */
export interface ResetModelState {
  /** When it fires unless pinged again; undefined when stopped, not armed, or fired. */
  readonly deadline: number | undefined;
  readonly firedAt: number | undefined;
  readonly lastPing: number | undefined;
}

const DEFAULT_REPLY_TIMEOUT = 10;
const DEFAULT_START_TIMEOUT = 30;
/** Poll step while waiting for an answer whose sequence number is visible but not yet its message. */
const SPIN_MS = 1;

function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** The worker module next to this one (.js when built, .ts when run from source by tests). */
function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  return new URL(`./watchdog-worker.${ext}`, import.meta.url);
}

function defined(value: number | undefined): number | undefined {
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

/** A lockspace's connection: checked against its mirror here, then relayed in order. */
class ThreadConnection implements WatchdogConnection {
  constructor(
    private readonly mirror: ExpiryConnection,
    private readonly id: number,
    private readonly send: (message: ToWatchdogThread) => void,
  ) {}

  get name(): string {
    return this.mirror.name;
  }

  get expire(): number {
    return this.mirror.expire;
  }

  renewed(lastSuccess: number): void {
    this.mirror.renewed(lastSuccess);
    this.send({ op: "renewed", id: this.id, lastSuccess });
  }

  clearExpiry(): void {
    this.mirror.clearExpiry();
    this.send({ op: "clear", id: this.id });
  }

  close(): void {
    if (this.mirror.closed) return;
    this.mirror.close();
    this.send({ op: "close", id: this.id });
  }
}

export class ThreadedWatchdog implements Watchdog {
  readonly kind = "device" as const;
  private readonly worker: Worker;
  private readonly replies: MessagePort;
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  private readonly state = new Float64Array(new SharedArrayBuffer(STATE_SLOTS * 8));
  private readonly resetPids = new Int32Array(new SharedArrayBuffer((MAX_RESET_PIDS + 1) * 4));
  /** Mirrors of the thread's connections; closed ones stay while their expiry is in force (docs/algorithms.md §7.5.5). */
  private readonly connections = new Set<ExpiryConnection>();
  private nextId = 1;
  private nextSeq = 1;
  private stopped = false;
  /** We ended the thread on purpose (after shutdown): its exit is no failure. */
  private retired = false;
  private failure: string | undefined;
  private lastError = "";
  private exitWaiters: (() => void)[] = [];
  private exited = false;
  private hardwareTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ThreadedWatchdogOptions) {
    const interval = options.testIntervalSeconds ?? WATCHDOG_TEST_INTERVAL;
    if (!Number.isInteger(interval) || interval < 1 || interval > WATCHDOG_TEST_INTERVAL) {
      throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", `watchdog test interval must be 1..${WATCHDOG_TEST_INTERVAL} s, got ${interval}`);
    }
    this.state.fill(Number.NaN);
    const channel = new MessageChannel();
    this.replies = channel.port1;
    const workerData: WatchdogWorkerData = {
      device: options.device,
      testIntervalSeconds: options.testIntervalSeconds,
      control: this.control.buffer as SharedArrayBuffer,
      state: this.state.buffer as SharedArrayBuffer,
      resetPids: this.resetPids.buffer as SharedArrayBuffer,
      replies: channel.port2,
    };
    this.worker = new Worker(workerUrl(), { workerData, transferList: [channel.port2] });
    // The daemon's server keeps the process alive; the thread alone must not (tests, exit).
    this.worker.unref();
    this.worker.on("message", (message: FromWatchdogThread) => this.onMessage(message));
    this.worker.on("error", (error) => {
      this.lastError = error.message;
    });
    this.worker.on("exit", (code) => this.onExit(code));
  }

  /** The watchdog thread's id (tests). */
  get threadId(): number {
    return this.worker.threadId;
  }

  /** Why the thread ended, when it did unexpectedly. */
  get failed(): string | undefined {
    return this.failure;
  }

  register(name: string, lastSuccess: number, ioTimeout: number): WatchdogConnection {
    if (this.stopped) throw new WatchdogError("ERR_WATCHDOG_CLOSED", `watchdog is shut down; cannot register ${name}`);
    if (this.failure !== undefined) throw new WatchdogError("ERR_WATCHDOG_THREAD", `cannot register ${name}: ${this.failure}`);
    if (this.connections.size >= MAX_WATCHDOG_CONNECTIONS) {
      throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", `too many watchdog connections (max ${MAX_WATCHDOG_CONNECTIONS}) registering ${name}`);
    }
    const mirror = new ExpiryConnection(name, lastSuccess, ioTimeout, (c) => {
      if (c.expire === 0) this.connections.delete(c);
    });
    const id = this.nextId++;
    const seq = this.nextSeq++;
    this.worker.postMessage({ op: "register", seq, id, name, lastSuccess, ioTimeout } satisfies ToWatchdogThread);
    const answer = this.awaitReply(seq);
    if (answer === undefined) {
      // It may still go through later: have it undone, in order, if it does.
      this.send({ op: "abandon", id });
      throw new WatchdogError("ERR_WATCHDOG_THREAD", `watchdog thread did not answer the registration of ${name}`);
    }
    if (answer.op === "refused") throw new WatchdogError(answer.code, answer.message);
    this.connections.add(mirror);
    return new ThreadConnection(mirror, id, (message) => this.send(message));
  }

  shutdown(): ShutdownResult {
    const inForce = [...this.connections].filter((c) => c.expire !== 0).map((c) => c.name);
    if (this.stopped) return { disarmed: inForce.length === 0, expiriesInForce: inForce };
    this.stopped = true;
    if (this.nextId === 1) {
      // Never asked to arm anything: no need to wait for the thread to start only to stop it.
      this.retire();
      return { disarmed: true, expiriesInForce: [] };
    }
    if (this.failure !== undefined || this.exited) {
      // Nothing can stop the device now; it was stopped only if it was never armed or already disarmed.
      return { disarmed: !this.deviceInUse(), expiriesInForce: inForce };
    }
    const seq = this.nextSeq++;
    this.worker.postMessage({ op: "shutdown", seq } satisfies ToWatchdogThread);
    const answer = this.awaitReply(seq);
    if (answer?.op !== "shut-down") {
      this.log("watchdog thread did not answer the shutdown: the device is left to fire");
      this.retire();
      return { disarmed: false, expiriesInForce: inForce };
    }
    if (answer.counting) {
      // The reset model fires like hardware would after an unclean close: keep its thread (and the process) until then.
      this.worker.ref();
    } else {
      this.retire();
    }
    return answer.result;
  }

  status(): WatchdogStatus {
    const open = this.state[STATE_DEVICE_OPEN] === 1;
    const interval = defined(this.state[STATE_TEST_INTERVAL]) ?? 0;
    return {
      kind: this.kind,
      device: this.options.device.kind === "dev" ? this.options.device.path : "reset-model",
      deviceOpen: open,
      testInterval: interval,
      lastKeepalive: defined(this.state[STATE_LAST_KEEPALIVE]),
      lastCloseUnclean: defined(this.state[STATE_LAST_CLOSE_UNCLEAN]),
      connections: [...this.connections].map((c): WatchdogConnectionStatus => c.status()),
      ...(this.failure === undefined ? {} : { failed: this.failure }),
    };
  }

  /** The tester's own status, asked of the thread (tests, diagnostics); undefined if it does not answer. */
  threadStatus(): WatchdogStatus | undefined {
    if (this.failure !== undefined || this.exited || this.retired) return undefined;
    const seq = this.nextSeq++;
    this.worker.postMessage({ op: "status", seq } satisfies ToWatchdogThread);
    const answer = this.awaitReply(seq);
    return answer?.op === "status" ? answer.status : undefined;
  }

  /** Reset model only: its state as the thread last published it. */
  resetModelState(): ResetModelState {
    return {
      deadline: defined(this.state[STATE_MODEL_DEADLINE]),
      firedAt: defined(this.state[STATE_MODEL_FIRED]),
      lastPing: defined(this.state[STATE_MODEL_LAST_PING]),
    };
  }

  /** When the thread last ran a timer or a request (its monotonic clock). */
  get heartbeat(): number | undefined {
    return defined(this.state[STATE_HEARTBEAT]);
  }

  /**
   * Reset model with killOnReset: the processes a reset kills besides this one (the daemon's
   * registered clients). Read by the thread when the model fires, without a message.
   */
  setResetPids(pids: readonly number[]): void {
    const count = Math.min(pids.length, MAX_RESET_PIDS);
    for (let i = 0; i < count; i++) Atomics.store(this.resetPids, i + 1, pids[i] ?? 0);
    Atomics.store(this.resetPids, 0, count);
  }

  /** Ends the thread at once, as a crash would (tests). Resolves once this handle has seen the exit. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const seen = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    await this.worker.terminate();
    await seen;
  }

  private send(message: ToWatchdogThread): void {
    if (this.exited || this.retired) return;
    this.worker.postMessage(message);
  }

  /**
   * Blocks this thread until the answer `seq` arrives: first until the thread runs at all
   * (start timeout), then for the reply timeout. Undefined when it does not come in time.
   */
  private awaitReply(seq: number): WatchdogReply | undefined {
    const start = monotonicSeconds();
    const startBy = start + (this.options.startTimeoutSeconds ?? DEFAULT_START_TIMEOUT);
    while (Atomics.load(this.control, CONTROL_READY) === 0) {
      const left = startBy - monotonicSeconds();
      if (left <= 0 || this.exited) return undefined;
      Atomics.wait(this.control, CONTROL_READY, 0, Math.ceil(left * 1000));
    }
    const answerBy = monotonicSeconds() + (this.options.replyTimeoutSeconds ?? DEFAULT_REPLY_TIMEOUT);
    for (;;) {
      const received = receiveMessageOnPort(this.replies);
      if (received !== undefined) {
        const answer = received.message as WatchdogReply;
        for (const line of answer.logs) this.log(line);
        if (answer.seq === seq) return answer;
        continue; // the late answer to a request given up on earlier
      }
      const left = answerBy - monotonicSeconds();
      if (left <= 0 || this.exited) return undefined;
      const seen = Atomics.load(this.control, CONTROL_REPLY_SEQ);
      if (seen >= seq) Atomics.wait(this.control, CONTROL_SLEEP, 0, SPIN_MS);
      else Atomics.wait(this.control, CONTROL_REPLY_SEQ, seen, Math.ceil(left * 1000));
    }
  }

  private onMessage(message: FromWatchdogThread): void {
    if (message.op === "log") {
      this.log(message.line);
      return;
    }
    this.options.onReset?.(message.firedAt);
    // Shut down and counting: the reset was all the thread was still there for.
    if (this.stopped) this.retire();
  }

  private retire(): void {
    if (this.retired) return;
    this.retired = true;
    void this.worker.terminate();
  }

  private onExit(code: number): void {
    this.exited = true;
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    if (!this.retired) this.threadDied(code);
    for (const resolve of waiters) resolve();
  }

  /** True while the device may be counting: open, or closed uncleanly by a failed test. */
  private deviceInUse(): boolean {
    return this.state[STATE_DEVICE_OPEN] === 1 || (defined(this.state[STATE_TEST_INTERVAL]) ?? 0) > 0;
  }

  private threadDied(code: number): void {
    const why = `watchdog thread exited (code ${code}${this.lastError === "" ? "" : `: ${this.lastError}`})`;
    if (!this.deviceInUse()) {
      this.failure = `${why}; the device was not in use; new lockspaces are refused`;
      this.log(this.failure);
      return;
    }
    // An open device was just closed uncleanly by Node ending the thread: a last ping, now or a moment ago.
    const closedByExit = this.state[STATE_DEVICE_OPEN] === 1;
    const now = monotonicSeconds();
    const resetBy = closedByExit
      ? now + WATCHDOG_FIRE_TIMEOUT
      : this.options.device.kind === "reset-model"
        ? defined(this.state[STATE_MODEL_DEADLINE])
        : (defined(this.state[STATE_LAST_CLOSE_UNCLEAN]) ?? now) + WATCHDOG_FIRE_TIMEOUT;
    this.state[STATE_DEVICE_OPEN] = 0;
    this.failure =
      `${why}; the device was ${closedByExit ? "closed without disarming as the thread ended" : "already closed without disarming"}` +
      ` and nothing keeps it alive: the host will be reset by ${resetBy === undefined ? "its deadline" : Math.ceil(resetBy)}; new lockspaces are refused`;
    this.log(this.failure);
    if (this.options.device.kind === "reset-model") {
      if (closedByExit) {
        this.state[STATE_MODEL_LAST_PING] = now;
        this.state[STATE_MODEL_DEADLINE] = now + WATCHDOG_FIRE_TIMEOUT;
      }
      this.fireModelAt(defined(this.state[STATE_MODEL_DEADLINE]));
    }
  }

  /** The reset model's timer died with its thread: fire it here at its deadline, as the hardware would. */
  private fireModelAt(deadline: number | undefined): void {
    if (deadline === undefined || this.hardwareTimer !== undefined || defined(this.state[STATE_MODEL_FIRED]) !== undefined) return;
    const delayMs = Math.max(0, Math.ceil((deadline - monotonicSeconds()) * 1000));
    this.hardwareTimer = setTimeout(() => {
      const firedAt = monotonicSeconds();
      this.state[STATE_MODEL_FIRED] = firedAt;
      this.state[STATE_MODEL_DEADLINE] = Number.NaN;
      const spec = this.options.device;
      if (spec.kind === "reset-model" && spec.killOnReset === true) {
        const count = Math.min(Atomics.load(this.resetPids, 0), MAX_RESET_PIDS);
        const pids = Array.from({ length: count }, (_, i) => Atomics.load(this.resetPids, i + 1));
        writeSync(2, `reset-model: watchdog fired at ${firedAt}, killing clients ${pids.join(",")} and the daemon\n`);
        killPidsOnReset(() => [...pids, process.pid])(firedAt);
        return;
      }
      this.options.onReset?.(firedAt);
    }, delayMs);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
