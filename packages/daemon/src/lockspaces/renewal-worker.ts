/**
 * The daemon's renewal worker thread: serves every lockspace of the process (one thread,
 * not one per lockspace: a worker thread costs a V8 isolate, tens of MiB). Each lockspace is
 * a WorkerLockspace with its own device, loop and timers (worker-lockspace.ts); this module
 * only routes the main thread's messages by key. Running here, a busy main event loop cannot
 * make a renewal late (algorithms.md §2.3).
 */
import { parentPort } from "node:worker_threads";
import { Errno, SanlkResult } from "@sanlock-ts/core/results";
import { WorkerLockspace } from "./worker-lockspace.js";
import type { FromWorker, FromWorkerBody, ToWorker } from "./worker-protocol.js";

/** Lockspaces one worker serves at most (the daemon's own bound is MAX_LOCKSPACES, 1024). */
const MAX_WORKER_LOCKSPACES = 4096;
const EBUSY = -Errno.EBUSY;

const port = parentPort;
if (port === null) throw new Error("renewal-worker must run in a worker thread");
const lockspaces = new Map<number, WorkerLockspace>();

function postFor(key: number): (message: FromWorkerBody) => void {
  return (message) => port!.postMessage({ ...message, key } as FromWorker);
}

function join(key: number, message: Extract<ToWorker, { op: "join" }>): void {
  const post = postFor(key);
  if (lockspaces.has(key)) {
    post({ op: "join-failed", result: SanlkResult.ERROR, message: `lockspace key ${key} already in the renewal worker` });
    return;
  }
  if (lockspaces.size >= MAX_WORKER_LOCKSPACES) {
    post({ op: "join-failed", result: EBUSY, message: `renewal worker already serves ${lockspaces.size} lockspaces` });
    return;
  }
  const ls = new WorkerLockspace(message.join, post);
  lockspaces.set(key, ls);
  void ls.join();
}

/** The lockspace forgets everything once its leave finished (release written or skipped). */
function leave(key: number, id: number): void {
  const ls = lockspaces.get(key);
  const done = ls === undefined ? Promise.resolve() : ls.leave();
  void done.then(() => {
    lockspaces.delete(key);
    postFor(key)({ op: "reply", id, result: 0 });
  });
}

port.on("message", (message: ToWorker) => {
  const ls = lockspaces.get(message.key);
  switch (message.op) {
    case "join":
      join(message.key, message);
      return;
    case "abort":
      ls?.abort();
      return;
    case "notify":
      ls?.notifyHost(message.hostId);
      return;
    case "set-event": {
      const result = ls === undefined ? SanlkResult.ERROR : ls.setEvent(message.hostId, message, message.flags);
      postFor(message.key)({ op: "reply", id: message.id, result });
      return;
    }
    case "leave":
      leave(message.key, message.id);
      return;
  }
});
