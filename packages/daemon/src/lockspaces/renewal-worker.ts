/**
 * The daemon's renewal worker thread: serves every lockspace of the process (one thread,
 * not one per lockspace: a worker thread costs a V8 isolate, tens of MiB). Each lockspace is
 * a WorkerLockspace with its own device, loop and timers (worker-lockspace.ts), reached
 * through the router (worker-router.ts). Running here, a busy main event loop cannot make a
 * renewal late (docs/algorithms.md §2.3).
 */
import { parentPort } from "node:worker_threads";
import { WORKER_COLLECTOR_OPTIONS, startBufferGarbageCollector } from "../process-memory.js";
import { WorkerRouter } from "./worker-router.js";
import { MAX_WORKER_BATCH, type FromWorker, type ToWorker } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("renewal-worker must run in a worker thread");
// The dropped copies of renewal reads and this isolate's idle aligned slabs (process-memory.ts).
startBufferGarbageCollector(WORKER_COLLECTOR_OPTIONS);

/**
 * What the lockspaces post in one turn of this thread's event loop goes to the main thread as
 * one message, in order: lockspaces that renew together (joined together, 2N+0.5 s apart) finish
 * their reads and writes in the same turns, and each message wakes the main thread once (64
 * lockspaces: two messages per renewal, some 50 wake-ups a second, otherwise). The batch leaves
 * after the turn's I/O callbacks (setImmediate), so nothing waits for a timer.
 */
let batch: FromWorker[] = [];
function flush(): void {
  if (batch.length === 0) return;
  const sent = batch;
  batch = [];
  port?.postMessage(sent);
}
function post(message: FromWorker): void {
  if (batch.length === 0) setImmediate(flush);
  batch.push(message);
  if (batch.length >= MAX_WORKER_BATCH) flush(); // the scheduled flush then finds an empty batch
}

const router = new WorkerRouter(post);
port.on("message", (message: ToWorker) => router.handle(message));
