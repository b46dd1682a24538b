/**
 * The renewal worker's code (worker-router.ts, worker-lockspace.ts) run on the calling thread,
 * with devices the caller opens: tests drive a Lockspace on memory disks and stalling devices
 * through the very code the daemon's worker runs. Messages go both ways through setImmediate,
 * in order, so that nothing is answered synchronously, as with a worker's postMessage.
 */
import type { RenewalChannel, RenewalClient } from "./renewal-thread.js";
import type { OpenLockspaceDevice } from "./worker-lockspace.js";
import type { FromWorker, ToWorker } from "./worker-protocol.js";
import { WorkerRouter } from "./worker-router.js";

export class InProcessRenewal implements RenewalChannel {
  private readonly clients = new Map<number, RenewalClient>();
  private readonly router: WorkerRouter;
  private nextKey = 1;

  constructor(openDevice: OpenLockspaceDevice) {
    this.router = new WorkerRouter((message: FromWorker) => setImmediate(() => this.clients.get(message.key)?.onMessage(message)), openDevice);
  }

  attach(client: RenewalClient): number {
    const key = this.nextKey++;
    this.clients.set(key, client);
    return key;
  }

  send(message: ToWorker): boolean {
    if (!this.clients.has(message.key)) return false;
    setImmediate(() => this.router.handle(message));
    return true;
  }

  detach(key: number): void {
    this.clients.delete(key);
  }
}
