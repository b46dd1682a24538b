/**
 * Main-thread handle of the process's one renewal worker (renewal-worker.ts), shared by every
 * lockspace: started with the first lockspace, stopped when the last one has left. Messages
 * from the worker go to the lockspace their key names.
 *
 * If the worker thread ends while lockspaces use it (an uncaught error, out of memory), every
 * one of them is told (RenewalClient.workerExited): none of them renews any more, so each
 * must count as failing renewal (docs/algorithms.md §2.4), never as healthy. The next lockspace
 * added then starts a new worker.
 */
import { Worker } from "node:worker_threads";
import type { FromWorker, ToWorker } from "./worker-protocol.js";

/** What a lockspace gives the thread to receive its messages. */
export interface RenewalClient {
  onMessage(message: FromWorker): void;
  /** The worker ended; `reason` says why. Called at most once. */
  workerExited(reason: string): void;
}

/** The worker module next to this one (.js when built, .ts when run from source by tests). */
function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  return new URL(`./renewal-worker.${ext}`, import.meta.url);
}

/** How a lockspace's main side reaches the code that renews it: the worker thread, or in process (tests). */
export interface RenewalChannel {
  /** Registers a lockspace; returns its key for `send`. */
  attach(client: RenewalClient): number;
  /** False once the other side has ended (the message is dropped). */
  send(message: ToWorker): boolean;
  /** The lockspace is gone. */
  detach(key: number): void;
}

/** Bound on lockspaces attached at once (the daemon keeps at most 1024, MAX_LOCKSPACES). */
const MAX_CLIENTS = 4096;

export class RenewalThread implements RenewalChannel {
  private readonly worker: Worker;
  private readonly clients = new Map<number, RenewalClient>();
  private nextKey = 1;
  private ended = false;
  private lastError = "";

  constructor(private readonly onEnd: (thread: RenewalThread) => void) {
    this.worker = new Worker(workerUrl());
    // A batch of messages, in the order the worker posted them (renewal-worker.ts).
    this.worker.on("message", (batch: readonly FromWorker[]) => {
      for (const message of batch) this.clients.get(message.key)?.onMessage(message);
    });
    this.worker.on("error", (error) => {
      this.lastError = error.message;
    });
    this.worker.on("exit", (code) => this.onExit(code));
  }

  /** Lockspaces currently attached. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** The worker's thread id (tests: all lockspaces share one). */
  get threadId(): number {
    return this.worker.threadId;
  }

  get isRunning(): boolean {
    return !this.ended;
  }

  /** Registers a lockspace; returns its key for `send`. */
  attach(client: RenewalClient): number {
    if (this.ended) throw new Error("renewal worker has ended");
    if (this.clients.size >= MAX_CLIENTS) throw new RangeError(`renewal worker already has ${this.clients.size} lockspaces`);
    const key = this.nextKey++;
    this.clients.set(key, client);
    return key;
  }

  /** False once the worker has ended (the message is dropped). */
  send(message: ToWorker): boolean {
    if (this.ended || !this.clients.has(message.key)) return false;
    this.worker.postMessage(message);
    return true;
  }

  /** The lockspace is gone; the last one to go stops the worker. */
  detach(key: number): void {
    this.clients.delete(key);
    if (this.clients.size === 0 && !this.ended) this.retire();
  }

  /** Ends the worker at once, as a crash would: every attached lockspace is told (tests, fault handling). */
  async kill(): Promise<void> {
    await this.worker.terminate();
  }

  private retire(): void {
    this.ended = true;
    this.onEnd(this);
    void this.worker.terminate();
  }

  private onExit(code: number): void {
    const wasEnded = this.ended;
    this.ended = true;
    if (!wasEnded) this.onEnd(this);
    const clients = [...this.clients.values()];
    this.clients.clear();
    const reason = `renewal worker exited (code ${code}${this.lastError === "" ? "" : `: ${this.lastError}`})`;
    for (const client of clients) client.workerExited(reason);
  }
}

let current: RenewalThread | undefined;

/** The process's renewal worker, started now if none runs. */
export function renewalThread(): RenewalThread {
  if (current === undefined || !current.isRunning) {
    current = new RenewalThread((ended) => {
      if (current === ended) current = undefined;
    });
  }
  return current;
}

/** The running renewal worker, if any (tests, diagnostics). */
export function currentRenewalThread(): RenewalThread | undefined {
  return current;
}
