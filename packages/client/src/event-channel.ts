// An event channel (docs/wire.md §8.4): a connection that sent REG_EVENT and
// then only receives 80-byte callback records. The REG_EVENT reply header is
// read by hand so no record byte that arrives with it is lost, then the rest
// of the stream goes to an event-side MessageReader.

import { createConnection, type Socket } from "node:net";
import { ClientError, ClientErrorCode, SanlockError, abortedError, throwIfAborted } from "./errors.js";
import type { WaitLimits } from "./connection.js";
import {
  Cmd,
  EMPTY_HOST_EVENT,
  HEADER_SIZE,
  MessageReader,
  buildRequest,
  decodeHeader,
  encodeEndEventValue,
  lockspace,
  type EventRecord,
} from "@sanlock-ts/core/wire";

/** One lockspace event as the Python binding's get_event() reports it. */
export interface LockspaceEvent {
  /** Host that set the event, and its generation. */
  fromHostId: bigint;
  fromGeneration: bigint;
  /** This host's id, and the generation the sender addressed. */
  hostId: bigint;
  generation: bigint;
  event: bigint;
  data: bigint;
}

/** Records kept until read; the daemon may deliver one event many times (docs/wire.md §8.4 step 3). */
const MAX_PENDING_EVENTS = 1024;

export class EventChannel implements AsyncDisposable {
  private readonly reader = new MessageReader({ side: "event" });
  private headerBytes = new Uint8Array(0);
  private replied = false;
  private readonly pending: LockspaceEvent[] = [];
  private waiter: (() => void) | null = null;
  private closedWith: ClientError | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly lockspace: string,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on("close", () => this.onClosed(new ClientError(ClientErrorCode.CLOSED, `event channel of ${lockspace} closed by the daemon`)));
    socket.on("error", (err) => this.onClosed(new ClientError(ClientErrorCode.CLOSED, `event channel of ${lockspace}: ${err.message}`)));
  }

  /** Connects, sends REG_EVENT and waits for its reply; throws SanlockError (−ENOENT, −ENOCSI...). */
  static async register(socketPath: string, name: string, limits: WaitLimits): Promise<EventChannel> {
    throwIfAborted(limits.signal, "reg_event");
    const socket = createConnection({ path: socketPath });
    const channel = new EventChannel(socket, name);
    socket.write(buildRequest(Cmd.REG_EVENT, { lockspace: lockspace(name), event: { ...EMPTY_HOST_EVENT } }).bytes);
    try {
      await channel.waitFor(() => channel.replied, limits, "reg_event reply");
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return channel;
  }

  get isOpen(): boolean {
    return this.closedWith === null;
  }

  /** Events received so far, removed from the channel (Python get_event: never waits). */
  take(): LockspaceEvent[] {
    return this.pending.splice(0, this.pending.length);
  }

  /** Waits until at least one event is there, then takes them all. */
  async next(limits: WaitLimits = {}): Promise<LockspaceEvent[]> {
    await this.waitFor(() => this.pending.length > 0, limits, "lockspace event");
    return this.take();
  }

  /** Unregisters on the channel itself: writes the u32 1 and closes it (docs/wire.md §8.4 step 5, first half). */
  async unregister(): Promise<void> {
    if (this.closedWith) return;
    const written = new Promise<void>((resolve, reject) => this.socket.write(encodeEndEventValue(), (err) => (err ? reject(err) : resolve())));
    try {
      await written;
    } catch {
      // libsanlock reports −EALREADY when this write fails (docs/wire.md §8.4).
      throw new SanlockError(Cmd.END_EVENT, -114);
    } finally {
      this.socket.end();
      this.socket.destroy();
      this.onClosed(new ClientError(ClientErrorCode.NOT_OPEN, `event channel of ${this.lockspace} was unregistered`));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.socket.destroy();
    this.onClosed(new ClientError(ClientErrorCode.NOT_OPEN, `event channel of ${this.lockspace} was disposed`));
  }

  private onData(chunk: Uint8Array): void {
    let rest = chunk;
    if (!this.replied) {
      const need = HEADER_SIZE - this.headerBytes.byteLength;
      const joined = new Uint8Array(this.headerBytes.byteLength + Math.min(need, rest.byteLength));
      joined.set(this.headerBytes);
      joined.set(rest.subarray(0, need), this.headerBytes.byteLength);
      this.headerBytes = joined;
      rest = rest.subarray(Math.min(need, rest.byteLength));
      if (this.headerBytes.byteLength < HEADER_SIZE) return;
      const header = decodeHeader(this.headerBytes);
      if (header.cmd !== Cmd.REG_EVENT) {
        this.fail(new ClientError(ClientErrorCode.PROTOCOL, `reg_event: reply cmd ${header.cmd}`));
        return;
      }
      if ((header.data | 0) < 0) {
        this.fail(new SanlockError(Cmd.REG_EVENT, header.data | 0));
        return;
      }
      this.replied = true;
    }
    for (const event of this.reader.push(rest)) {
      if (event.type === "event") this.addEvent(event.record);
      else if (event.type === "error" && event.fatal) this.fail(new ClientError(ClientErrorCode.PROTOCOL, `event channel: ${event.error.message}`));
    }
    this.wake();
  }

  private addEvent(record: EventRecord): void {
    if (this.pending.length >= MAX_PENDING_EVENTS) this.pending.shift();
    this.pending.push({
      fromHostId: record.fromHostId,
      fromGeneration: record.fromGeneration,
      hostId: record.he.hostId,
      generation: record.he.generation,
      event: record.he.event,
      data: record.he.data,
    });
  }

  private fail(error: ClientError): void {
    this.socket.destroy();
    this.onClosed(error);
  }

  private onClosed(error: ClientError): void {
    this.closedWith ??= error;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private async waitFor(ready: () => boolean, limits: WaitLimits, what: string): Promise<void> {
    // Each pass waits for new input; the channel closing ends the loop.
    for (;;) {
      if (ready()) return;
      if (this.closedWith) throw this.closedWith;
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = (): void => {
          done();
          reject(abortedError(what, limits.signal as AbortSignal));
        };
        const done = (): void => {
          if (timer !== undefined) clearTimeout(timer);
          limits.signal?.removeEventListener("abort", onAbort);
          this.waiter = null;
        };
        if (limits.signal?.aborted) return onAbort();
        limits.signal?.addEventListener("abort", onAbort, { once: true });
        if (limits.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            done();
            reject(new ClientError(ClientErrorCode.TIMEOUT, `${what}: nothing within ${limits.timeoutMs} ms`));
          }, limits.timeoutMs);
        }
        this.waiter = () => {
          done();
          resolve();
        };
      });
    }
  }
}
