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
import type { FromWorker, ToWorker } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("renewal-worker must run in a worker thread");
// The dropped copies of renewal reads and this isolate's idle aligned slabs (process-memory.ts).
startBufferGarbageCollector(WORKER_COLLECTOR_OPTIONS);
const router = new WorkerRouter((message: FromWorker) => port.postMessage(message));
port.on("message", (message: ToWorker) => router.handle(message));
