/**
 * The daemon's renewal worker thread: serves every lockspace of the process (one thread,
 * not one per lockspace: a worker thread costs a V8 isolate, tens of MiB). Each lockspace is
 * a WorkerLockspace with its own device, loop and timers (worker-lockspace.ts), reached
 * through the router (worker-router.ts). Running here, a busy main event loop cannot make a
 * renewal late (docs/algorithms.md §2.3).
 */
import { parentPort } from "node:worker_threads";
import { WorkerRouter } from "./worker-router.js";
import type { FromWorker, ToWorker } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("renewal-worker must run in a worker thread");
const router = new WorkerRouter((message: FromWorker) => port.postMessage(message));
port.on("message", (message: ToWorker) => router.handle(message));
