/**
 * One accepted connection: the shared wire framing (MessageReader, daemon side) turning the
 * byte stream into requests, and the per-client state sanlock keeps in its client table
 * (docs/wire.md §5, the CLIENT state string of docs/wire.md §10.5).
 *
 * The framing reads each command's payload as the 3.8.5 daemon does, not by the header's
 * `length` (docs/wire.md §3, quirk docs/wire.md §13.3). Requests on one connection are handled strictly one after
 * another (docs/wire.md §5.1): requests a client pipelines wait in `pending` until the previous one is
 * finished; the socket is paused while too many wait.
 */
import type { Socket } from "node:net";
import { MessageReader, type WireEvent } from "@sanlock-ts/core/wire";

/** Pause reading from the socket while this many framed requests wait to be handled. */
export const MAX_PENDING_EVENTS = 16;

export interface ClientKillpath {
  readonly path: string;
  readonly args: string;
  readonly flags: number;
}

export class Connection {
  /** Client table slot ("ci" in STATUS). */
  readonly ci: number;
  readonly socket: Socket;
  /** Descriptor number shown as "fd" in STATUS. */
  readonly fd: number;

  /** Registered pid (REGISTER, docs/wire.md §5.2); −1 while not registered. */
  pid = -1;
  registered = false;
  /** STATUS name (docs/wire.md §5.3): pid string after REGISTER, owner name after ACQUIRE, or the command's name. */
  name = "";
  /** RESTRICT bits (docs/wire.md §5.8). */
  restricted = 0;
  /** Command being worked on for this client (class D target), 0 when idle. */
  cmdActive = 0;
  /** Last command received on this connection. */
  cmdLast = 0;
  pidDead = false;
  killCount = 0;
  killLast = 0;
  killpath: ClientKillpath | undefined;

  private readonly reader = new MessageReader({ side: "daemon" });
  private readonly pending: WireEvent[] = [];
  private ended = false;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(ci: number, socket: Socket, fd: number) {
    this.ci = ci;
    this.socket = socket;
    this.fd = fd;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onEnd());
    socket.on("close", () => {
      this.closed = true;
      this.onEnd();
    });
    socket.on("error", () => this.onEnd());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    this.pending.push(...this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    if (this.pending.length >= MAX_PENDING_EVENTS) this.socket.pause();
    this.notify();
  }

  private onEnd(): void {
    if (!this.ended) this.pending.push(...this.reader.end());
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next framed request or framing error, in arrival order; null once the peer closed. */
  async nextEvent(): Promise<WireEvent | null> {
    for (;;) {
      const event = this.pending.shift();
      if (event !== undefined) {
        if (this.pending.length < MAX_PENDING_EVENTS && this.socket.isPaused() && !this.closed) this.socket.resume();
        return event;
      }
      if (this.ended) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Writes bytes; resolves false if the peer is gone (the daemon never fails on a dead client). */
  write(bytes: Uint8Array): Promise<boolean> {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.socket.write(bytes, (error) => resolve(error === undefined || error === null));
    });
  }

  /** Ends our side after pending writes and frees the descriptor. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(() => this.socket.destroy());
    // A peer that never reads must not keep the descriptor: destroy after a short grace.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

/** sanlock's client table has 1024 slots shared by the helper, the listener and clients (docs/wire.md §2.2). */
export const CLIENT_SLOTS = 1024;
/** Slots 0 and 1 are the daemon's own entries, shown in STATUS as "helper" and "listener". */
const HELPER_CI = 0;
const LISTENER_CI = 1;

export interface PseudoClient {
  readonly ci: number;
  readonly fd: number;
  readonly name: string;
}

/** Connections by slot, lowest free slot first, as sanlock's client_add(). */
export class ClientTable {
  private readonly slots: (Connection | PseudoClient | undefined)[] = new Array(CLIENT_SLOTS).fill(undefined);

  constructor(listenerFd: number) {
    this.slots[HELPER_CI] = { ci: HELPER_CI, fd: -1, name: "helper" };
    this.slots[LISTENER_CI] = { ci: LISTENER_CI, fd: listenerFd, name: "listener" };
  }

  /** A new connection in the lowest free slot; undefined when all slots are used. */
  add(socket: Socket, fd: number): Connection | undefined {
    const ci = this.slots.indexOf(undefined);
    if (ci < 0) return undefined;
    const conn = new Connection(ci, socket, fd);
    this.slots[ci] = conn;
    return conn;
  }

  remove(conn: Connection): void {
    if (this.slots[conn.ci] === conn) this.slots[conn.ci] = undefined;
  }

  connections(): Connection[] {
    return this.slots.filter((slot): slot is Connection => slot instanceof Connection);
  }

  /** First registered client with this pid, in slot order (docs/wire.md §5.5). */
  findRegistered(pid: number): Connection | undefined {
    return this.connections().find((conn) => conn.registered && conn.pid === pid);
  }

  /** STATUS client entries in slot order, including the daemon's own two (docs/wire.md §7.5). */
  statusEntries(): {
    ci: number;
    fd: number;
    pid: number;
    name: string;
    flags: number;
    restricted: number;
    cmdActive: number;
    cmdLast: number;
    pidDead: boolean;
    killCount: number;
    killLast: number;
  }[] {
    const entries = [];
    for (const slot of this.slots) {
      if (slot === undefined) continue;
      if (slot instanceof Connection) {
        entries.push({
          ci: slot.ci,
          fd: slot.fd,
          pid: slot.pid,
          name: slot.name,
          flags: 0,
          restricted: slot.restricted,
          cmdActive: slot.cmdActive,
          cmdLast: slot.cmdLast,
          pidDead: slot.pidDead,
          killCount: slot.killCount,
          killLast: slot.killLast,
        });
      } else {
        entries.push({
          ci: slot.ci,
          fd: slot.fd,
          pid: -1,
          name: slot.name,
          flags: 0,
          restricted: 0,
          cmdActive: 0,
          cmdLast: 0,
          pidDead: false,
          killCount: 0,
          killLast: 0,
        });
      }
    }
    return entries;
  }
}
