/**
 * The lockspaces of one renewal thread, by key: routes the main side's messages
 * (worker-protocol.ts) to each WorkerLockspace and tags what they post with their key.
 * renewal-worker.ts runs it in the daemon's renewal worker thread; in-process-renewal.ts runs
 * the same code on the calling thread for tests that give the lockspaces their own devices.
 */
import { Errno, SanlkResult } from "@sanlock-ts/core/results";
import { WorkerLockspace, type OpenLockspaceDevice } from "./worker-lockspace.js";
import type { FromWorker, FromWorkerBody, ToWorker } from "./worker-protocol.js";

/** Lockspaces one renewal thread serves at most (the daemon's own bound is MAX_LOCKSPACES, 1024). */
const MAX_WORKER_LOCKSPACES = 4096;

export class WorkerRouter {
  private readonly lockspaces = new Map<number, WorkerLockspace>();

  constructor(
    private readonly postMessage: (message: FromWorker) => void,
    private readonly openDevice?: OpenLockspaceDevice,
  ) {}

  handle(message: ToWorker): void {
    const ls = this.lockspaces.get(message.key);
    switch (message.op) {
      case "join":
        this.join(message.key, message);
        return;
      case "abort":
        ls?.abort();
        return;
      case "notify":
        ls?.notifyHost(message.hostId);
        return;
      case "set-event": {
        const result = ls === undefined ? SanlkResult.ERROR : ls.setEvent(message.hostId, message, message.flags);
        this.postFor(message.key)({ op: "reply", id: message.id, result });
        return;
      }
      case "leave":
        this.leave(message.key, message.id);
        return;
    }
  }

  private postFor(key: number): (message: FromWorkerBody) => void {
    return (message) => this.postMessage({ ...message, key } as FromWorker);
  }

  private join(key: number, message: Extract<ToWorker, { op: "join" }>): void {
    const post = this.postFor(key);
    if (this.lockspaces.has(key)) {
      post({ op: "join-failed", result: SanlkResult.ERROR, message: `lockspace key ${key} already in the renewal worker` });
      return;
    }
    if (this.lockspaces.size >= MAX_WORKER_LOCKSPACES) {
      post({ op: "join-failed", result: -Errno.EBUSY, message: `renewal worker already serves ${this.lockspaces.size} lockspaces` });
      return;
    }
    const ls = new WorkerLockspace(message.join, post, this.openDevice);
    this.lockspaces.set(key, ls);
    void ls.join();
  }

  /** The lockspace forgets everything once its leave finished (release written or skipped). */
  private leave(key: number, id: number): void {
    const ls = this.lockspaces.get(key);
    const done = ls === undefined ? Promise.resolve() : ls.leave();
    void done.then(() => {
      this.lockspaces.delete(key);
      this.postFor(key)({ op: "reply", id, result: 0 });
    });
  }
}
