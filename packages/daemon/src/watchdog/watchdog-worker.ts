/**
 * The watchdog thread (docs/algorithms.md §7.5): the wdmd test loop (WatchdogTester) and the
 * device it drives, on a worker thread of their own. The device is opened, kept alive and
 * closed only here, on this thread's timers, so a busy or blocked main thread cannot delay
 * the test that closes it before an expiry (thread.ts explains the design).
 *
 * The main thread sends, in order: register, renewed, clear, close (one connection per
 * lockspace), shutdown. Answers go back on the `replies` port; the device state is published
 * into shared memory after every timer and request.
 */
import { parentPort, workerData } from "node:worker_threads";
import { writeSync } from "node:fs";
import { DevWatchdogDevice } from "./dev-watchdog.js";
import type { WatchdogDevice } from "./device.js";
import { WatchdogError } from "./errors.js";
import { killPidsOnReset, ResetModelDevice } from "./reset-model.js";
import { RealScheduler, type CancelTimer, type Scheduler } from "./scheduler.js";
import { WatchdogTester } from "./tester.js";
import {
  CONTROL_READY,
  CONTROL_REPLY_SEQ,
  MAX_RESET_PIDS,
  STATE_DEVICE_OPEN,
  STATE_HEARTBEAT,
  STATE_LAST_CLOSE_UNCLEAN,
  STATE_LAST_KEEPALIVE,
  STATE_MODEL_DEADLINE,
  STATE_MODEL_FIRED,
  STATE_MODEL_LAST_PING,
  STATE_TEST_INTERVAL,
  type FromWatchdogThread,
  type ToWatchdogThread,
  type WatchdogReply,
  type WatchdogWorkerData,
} from "./thread-protocol.js";
import type { WatchdogConnection } from "./watchdog.js";

const port = parentPort;
if (port === null) throw new Error("watchdog-worker must run in a worker thread");
const data = workerData as WatchdogWorkerData;
const control = new Int32Array(data.control);
const state = new Float64Array(data.state);
const resetPids = new Int32Array(data.resetPids);

function post(message: FromWatchdogThread): void {
  port!.postMessage(message);
}

/** Real time and timers; everything a timer does is published afterwards. */
class PublishingScheduler implements Scheduler {
  private readonly inner = new RealScheduler();
  now(): number {
    return this.inner.now();
  }
  after(seconds: number, callback: () => void): CancelTimer {
    return this.inner.after(seconds, () => {
      try {
        callback();
      } finally {
        publish();
      }
    });
  }
}

const scheduler = new PublishingScheduler();
let model: ResetModelDevice | undefined;

/** The pids the main thread listed (setResetPids), read at the moment of a reset. */
function listedPids(): number[] {
  const count = Math.min(Math.max(Atomics.load(resetPids, 0), 0), MAX_RESET_PIDS);
  const pids: number[] = [];
  for (let i = 1; i <= count; i++) pids.push(Atomics.load(resetPids, i));
  return pids;
}

function modelFired(firedAt: number): void {
  state[STATE_MODEL_FIRED] = firedAt;
  if (data.device.kind === "reset-model" && data.device.killOnReset === true) {
    const pids = listedPids();
    // Written straight to fd 2: the main thread, which relays a worker's stderr, may be busy.
    writeSync(2, `reset-model: watchdog fired at ${firedAt}, killing clients ${pids.join(",")} and the daemon\n`);
    killPidsOnReset(() => [...pids, process.pid])(firedAt);
    return;
  }
  post({ op: "reset", firedAt });
}

function buildDevice(): WatchdogDevice {
  const spec = data.device;
  if (spec.kind === "dev") return new DevWatchdogDevice(spec.path);
  model = new ResetModelDevice({ scheduler, onReset: modelFired, hardwareTimeoutSeconds: spec.hardwareTimeoutSeconds });
  return model;
}

const device = buildDevice();
const tester = new WatchdogTester({
  device,
  scheduler,
  testIntervalSeconds: data.testIntervalSeconds,
  log: (line) => log(line),
});
const connections = new Map<number, WatchdogConnection>();
/** Log lines of the request being handled: they go back with its answer (see log()). */
let answerLogs: string[] | undefined;

/** Posted, or kept for the answer while a request is handled (the main thread may end this thread right after). */
function log(line: string): void {
  if (answerLogs !== undefined) answerLogs.push(line);
  else post({ op: "log", line });
}

function orNaN(value: number | undefined): number {
  return value ?? Number.NaN;
}

function publish(): void {
  const status = tester.status();
  state[STATE_DEVICE_OPEN] = status.deviceOpen ? 1 : 0;
  state[STATE_TEST_INTERVAL] = status.testInterval;
  state[STATE_LAST_KEEPALIVE] = orNaN(status.lastKeepalive);
  state[STATE_LAST_CLOSE_UNCLEAN] = orNaN(status.lastCloseUnclean);
  if (model !== undefined) {
    state[STATE_MODEL_DEADLINE] = model.firedAt === undefined ? orNaN(model.deadline) : Number.NaN;
    state[STATE_MODEL_LAST_PING] = orNaN(model.pings.at(-1));
  }
  state[STATE_HEARTBEAT] = scheduler.now();
}

function reply(message: WatchdogReply): void {
  data.replies.postMessage(message);
  Atomics.store(control, CONTROL_REPLY_SEQ, message.seq);
  Atomics.notify(control, CONTROL_REPLY_SEQ);
}

/** A failure the main thread will not see as an exception: logged, as wdmd logs a bad client. */
function attempt(what: string, id: number, work: (c: WatchdogConnection) => void): void {
  const connection = connections.get(id);
  if (connection === undefined) return;
  try {
    work(connection);
  } catch (error) {
    log(`watchdog connection ${id}: ${what} failed: ${(error as Error).message}`);
  }
}

type Answer = WatchdogReply extends infer R ? (R extends WatchdogReply ? Omit<R, "logs"> : never) : never;

function handle(message: ToWatchdogThread): Answer | undefined {
  switch (message.op) {
    case "register":
      try {
        connections.set(message.id, tester.register(message.name, message.lastSuccess, message.ioTimeout));
        return { seq: message.seq, op: "registered" };
      } catch (error) {
        const code = error instanceof WatchdogError ? error.code : "ERR_WATCHDOG_THREAD";
        return { seq: message.seq, op: "refused", code, message: (error as Error).message };
      }
    case "renewed":
      attempt("renewal", message.id, (c) => c.renewed(message.lastSuccess));
      return undefined;
    case "clear":
      attempt("clearing the expiry", message.id, (c) => c.clearExpiry());
      return undefined;
    case "close":
      attempt("close", message.id, (c) => c.close());
      connections.delete(message.id);
      return undefined;
    case "abandon":
      attempt("abandon", message.id, (c) => {
        c.clearExpiry();
        c.close();
      });
      connections.delete(message.id);
      return undefined;
    case "shutdown": {
      const result = tester.shutdown();
      const counting = model !== undefined && model.firedAt === undefined && model.deadline !== undefined;
      return { seq: message.seq, op: "shut-down", result, counting };
    }
    case "status":
      return { seq: message.seq, op: "status", status: tester.status() };
  }
}

port.on("message", (message: ToWatchdogThread) => {
  const answers = message.op === "register" || message.op === "shutdown" || message.op === "status";
  const logs: string[] = [];
  answerLogs = answers ? logs : undefined;
  let answer: Answer | undefined;
  try {
    answer = handle(message);
  } finally {
    answerLogs = undefined;
    publish();
  }
  if (answer !== undefined) reply({ ...answer, logs } as WatchdogReply);
  else for (const line of logs) post({ op: "log", line });
});

publish();
Atomics.store(control, CONTROL_READY, 1);
Atomics.notify(control, CONTROL_READY);
