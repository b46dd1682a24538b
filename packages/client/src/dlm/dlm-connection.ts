// One connection to the daemon's DLM socket (docs/dlm-wire.md): requests with ids, replies in any
// order, events routed by lock id. A connection is one DLM process: closing it ends that
// process's locks (PERSISTENT ones become orphans).
import { createConnection, type Socket } from "node:net";
import { DlmError, DlmStatus, FrameDecoder, type DlmOperation, type DlmStatusName, encodeFrame } from "@sanlock-ts/core/dlm";
import { defaultRunDir } from "../socket-path.js";

export const DLM_SOCKET_NAME = "dlm.sock";
/** Requests in flight on one connection (the daemon refuses more: docs/dlm-wire.md §Limits). */
export const MAX_IN_FLIGHT = 4096;

export type Message = Record<string, unknown>;

const STATUS_NAMES = new Map<number, DlmStatusName>(Object.entries(DlmStatus).map(([name, value]) => [value, name as DlmStatusName]));

/** The DlmError for a status number (EIO and others the table lacks are reported as ENOTCONN's kin: EINVAL). */
export function errorOf(status: number, operation: DlmOperation, message: string, lockId?: number, sb?: DlmError["sb"]): DlmError {
  const name = STATUS_NAMES.get(status) ?? "EINVAL";
  const text = STATUS_NAMES.has(status) ? message : `status ${status}: ${message}`;
  return new DlmError(name, operation, text, lockId, sb);
}

export class DlmConnection {
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void; op: DlmOperation }>();
  private readonly lockListeners = new Map<number, (m: Message) => void>();
  private readonly otherListeners = new Set<(m: Message) => void>();
  /** Events for lock ids not yet known (an AST can arrive in the chunk that holds its reply). */
  private readonly early = new Map<number, Message[]>();
  private nextId = 1;
  private closedError: DlmError | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.onClose());
    socket.on("error", () => undefined); // reported through close
  }

  static connect(options: { socketPath?: string; runDir?: string; signal?: AbortSignal } = {}): Promise<DlmConnection> {
    const path = options.socketPath ?? `${options.runDir ?? defaultRunDir()}/${DLM_SOCKET_NAME}`;
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      const fail = (err: Error): void => reject(new DlmError("ENOTCONN", "open", `cannot connect to ${path}: ${err.message}`));
      socket.once("error", fail);
      options.signal?.addEventListener("abort", () => socket.destroy(new Error("aborted")), { once: true });
      socket.once("connect", () => {
        socket.off("error", fail);
        resolve(new DlmConnection(socket));
      });
    });
  }

  /** Sends one request; resolves with the reply of status 0, rejects with DlmError otherwise. */
  request(op: string, fields: Message, operation: DlmOperation, lockId?: number): Promise<Message> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.pending.size >= MAX_IN_FLIGHT) return Promise.reject(new DlmError("EAGAIN", operation, `more than ${MAX_IN_FLIGHT} requests in flight`, lockId));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        op: operation,
        reject,
        resolve: (m) => {
          const status = typeof m.status === "number" ? m.status : DlmStatus.EINVAL;
          if (status === 0) resolve(m);
          else reject(errorOf(status, operation, String(m.message ?? "failed"), lockId));
        },
      });
      this.socket.write(encodeFrame({ op, id, ...fields }));
    });
  }

  /** Routes the events of lock `lkid` (ast, bast) to `listener`, including any that came first. */
  onLock(lkid: number, listener: (m: Message) => void): void {
    this.lockListeners.set(lkid, listener);
    const early = this.early.get(lkid);
    this.early.delete(lkid);
    for (const m of early ?? []) listener(m);
  }

  offLock(lkid: number): void {
    this.lockListeners.delete(lkid);
  }

  /** Events that name no lock (recovery). */
  onEvent(listener: (m: Message) => void): () => void {
    this.otherListeners.add(listener);
    return () => this.otherListeners.delete(listener);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.end();
    });
  }

  private onData(chunk: Buffer): void {
    let messages: Message[];
    try {
      messages = this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch {
      this.socket.destroy();
      return;
    }
    for (const m of messages) this.dispatch(m);
  }

  private dispatch(m: Message): void {
    if (typeof m.id === "number") {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m);
      return;
    }
    if (typeof m.lkid === "number") {
      const listener = this.lockListeners.get(m.lkid);
      if (listener) listener(m);
      else if (this.early.size < MAX_IN_FLIGHT) this.early.set(m.lkid, [...(this.early.get(m.lkid) ?? []), m]);
      return;
    }
    for (const l of this.otherListeners) l(m);
  }

  private onClose(): void {
    this.closedError = new DlmError("ENOTCONN", "lock", "the connection to the daemon closed");
    for (const p of this.pending.values()) p.reject(new DlmError("ENOTCONN", p.op, "the connection to the daemon closed"));
    this.pending.clear();
    const closed: Message = { event: "ast", status: DlmStatus.ENOTCONN, mode: -1, closed: true };
    for (const [lkid, l] of this.lockListeners) l({ ...closed, lkid });
    this.lockListeners.clear();
  }
}
