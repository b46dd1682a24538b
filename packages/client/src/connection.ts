// One unix-socket connection to the daemon, framed by the wire codec's
// MessageReader (docs/wire.md §2, §5, §14.2). Calls wait for one event at a
// time; every wait has a time limit or an AbortSignal.

import { createConnection, type Socket } from "node:net";
import { ClientError, ClientErrorCode, abortedError, throwIfAborted } from "./errors.js";
import { MessageReader, type CmdNumber, type ReaderSide, type WireEvent } from "@sanlock-ts/core/wire";

/** How long a single wait may last; `undefined` = no time limit (the call is expected to wait). */
export interface WaitLimits {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** Events buffered before nobody reads them: a bound on memory for a chatty event channel. */
const MAX_BUFFERED_EVENTS = 4096;

export class DaemonConnection {
  private readonly reader: MessageReader;
  private readonly events: WireEvent[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private failure: ClientError | null = null;

  private constructor(
    private readonly socket: Socket,
    side: ReaderSide,
    readonly socketPath: string,
  ) {
    this.reader = new MessageReader({ side });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onEnd());
    socket.on("close", () => this.onEnd());
    socket.on("error", (err) => this.onError(err));
  }

  /** Connects to `socketPath`; fails with CONNECT (ENOENT: no daemon, ECONNREFUSED: stale socket). */
  static open(socketPath: string, limits: WaitLimits = {}, side: ReaderSide = "client"): Promise<DaemonConnection> {
    throwIfAborted(limits.signal, "connect");
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: socketPath });
      const cleanup = armLimits(limits, `connect to ${socketPath}`, (err) => {
        socket.destroy();
        reject(err);
      });
      socket.once("connect", () => {
        cleanup();
        socket.removeAllListeners("error");
        resolve(new DaemonConnection(socket, side, socketPath));
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        cleanup();
        reject(new ClientError(ClientErrorCode.CONNECT, `cannot connect to ${socketPath}: ${err.code ?? err.message}`, { cause: err }));
      });
    });
  }

  /** The file descriptor of the socket, or −1 if Node does not expose it. */
  get fd(): number {
    const handle = (this.socket as unknown as { _handle?: { fd?: number } })._handle;
    return typeof handle?.fd === "number" ? handle.fd : -1;
  }

  get isOpen(): boolean {
    return !this.ended && this.failure === null;
  }

  /** Sends bytes; the reply to `expect` (if any) is the next one awaited. */
  send(bytes: Uint8Array, expect?: CmdNumber): void {
    this.checkOpen();
    if (expect !== undefined) this.reader.expectReply(expect);
    this.socket.write(bytes);
  }

  /** Writes raw bytes (the END_EVENT value on an event channel, docs/wire.md §8.4). */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    await new Promise<void>((resolve, reject) => {
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Next framed event; null once the daemon closed the connection and everything was read. */
  async next(limits: WaitLimits = {}): Promise<WireEvent | null> {
    for (;;) {
      const event = this.events.shift();
      if (event !== undefined) return event;
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await this.waitForInput(limits);
    }
  }

  /** Events already received, without waiting. */
  drainBuffered(): WireEvent[] {
    return this.events.splice(0, this.events.length);
  }

  close(): void {
    this.ended = true;
    this.socket.destroy();
    this.wake();
  }

  private checkOpen(): void {
    if (this.failure) throw this.failure;
    if (this.ended) throw new ClientError(ClientErrorCode.CLOSED, `connection to ${this.socketPath} is closed`);
  }

  private waitForInput(limits: WaitLimits): Promise<void> {
    throwIfAborted(limits.signal, "wait for the daemon's reply");
    return new Promise((resolve, reject) => {
      const cleanup = armLimits(limits, "wait for the daemon's reply", (err) => {
        this.waiter = null;
        reject(err);
      });
      this.waiter = () => {
        cleanup();
        resolve();
      };
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private onData(chunk: Buffer): void {
    const events = this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    for (const event of events) {
      if (event.type === "error" && event.fatal) {
        this.failure = new ClientError(ClientErrorCode.PROTOCOL, `bad reply from the daemon: ${event.error.message}`, { cause: event.error });
        this.socket.destroy();
        break;
      }
      if (this.events.length >= MAX_BUFFERED_EVENTS) this.events.shift(); // oldest dropped; bound on memory
      this.events.push(event);
    }
    this.wake();
  }

  private onEnd(): void {
    if (!this.ended) {
      this.ended = true;
      for (const event of this.reader.end()) {
        if (event.type === "error") {
          this.failure ??= new ClientError(ClientErrorCode.CLOSED, `the daemon closed the connection mid-reply: ${event.error.message}`);
        } else {
          this.events.push(event);
        }
      }
    }
    this.wake();
  }

  private onError(err: Error): void {
    this.failure ??= new ClientError(ClientErrorCode.CLOSED, `connection to ${this.socketPath} failed: ${err.message}`, { cause: err });
    this.wake();
  }
}

/** Arms the abort signal and timer of one wait; returns the function that disarms both. */
function armLimits(limits: WaitLimits, what: string, fail: (err: ClientError) => void): () => void {
  const { signal, timeoutMs } = limits;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    cleanup();
    fail(abortedError(what, signal as AbortSignal));
  };
  const cleanup = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => {
      cleanup();
      fail(new ClientError(ClientErrorCode.TIMEOUT, `${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  return cleanup;
}
