// A DLM lock held through the daemon (docs/dlm.md §7): its promises settle when the DLM would
// deliver the completion AST; BASTs reach `onBlocking`; `await using` unlocks it.
import { LKF, type DlmError } from "@sanlock-ts/core/dlm";
import { type DlmConnection, type Message, errorOf } from "./dlm-connection.js";

export type LockMode = "NL" | "CR" | "CW" | "PR" | "PW" | "EX";
export const LOCK_MODES: readonly LockMode[] = ["NL", "CR", "CW", "PR", "PW", "EX"];
export type LockState = "granted" | "converting" | "waiting" | "orphan" | "unlocked";
export type StatusFlags = { demoted: boolean; valNotValid: boolean; altMode: boolean };

export function modeNumber(mode: LockMode): number {
  const n = LOCK_MODES.indexOf(mode);
  if (n < 0) throw errorOf(22, "lock", `unknown mode ${String(mode)}`);
  return n;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

export interface LockOptions {
  noQueue?: boolean;
  noQueueBast?: boolean;
  expedite?: boolean;
  headQueue?: boolean;
  noOrder?: boolean;
  persistent?: boolean;
  alt?: "PR" | "CW";
  /** VALBLK: true reads the value block; bytes also write it on a W transition. */
  valueBlock?: boolean | Uint8Array;
  /** TIMEOUT: the request is cancelled with ETIMEDOUT after this many milliseconds. */
  timeoutMs?: number;
  /** BAST: called with the mode another lock waits for. */
  onBlocking?: (mode: LockMode) => void;
  /** Aborting cancels the request: the promise rejects with DlmError ECANCEL. */
  signal?: AbortSignal;
}

export interface ConvertOptions extends Omit<LockOptions, "persistent" | "expedite"> {
  /** QUECVT: queue behind other conversions instead of being granted in place. */
  queue?: boolean;
  convDeadlock?: boolean;
  noDeadlockWait?: boolean;
}

/** The request fields of lock options (docs/dlm-wire.md `lock`). */
export function lockFields(o: LockOptions & ConvertOptions, lvbLength: number, current?: Uint8Array): Message {
  let flags = 0;
  if (o.noQueue) flags |= LKF.NOQUEUE;
  if (o.noQueueBast) flags |= LKF.NOQUEUEBAST;
  if (o.expedite) flags |= LKF.EXPEDITE;
  if (o.headQueue) flags |= LKF.HEADQUE;
  if (o.noOrder) flags |= LKF.NOORDER;
  if (o.persistent) flags |= LKF.PERSISTENT;
  if (o.alt === "PR") flags |= LKF.ALTPR;
  if (o.alt === "CW") flags |= LKF.ALTCW;
  if (o.queue) flags |= LKF.QUECVT;
  if (o.convDeadlock) flags |= LKF.CONVDEADLK;
  if (o.noDeadlockWait) flags |= LKF.NODLCKWT;
  if (o.timeoutMs !== undefined) flags |= LKF.TIMEOUT;
  const fields: Message = { bast: o.onBlocking !== undefined };
  if (o.valueBlock) {
    flags |= LKF.VALBLK;
    const bytes = o.valueBlock instanceof Uint8Array ? o.valueBlock : (current ?? new Uint8Array(lvbLength));
    const padded = new Uint8Array(lvbLength);
    padded.set(bytes.subarray(0, lvbLength));
    fields.lvb = b64(padded);
  }
  if (o.timeoutMs !== undefined) fields.timeoutMs = o.timeoutMs;
  fields.flags = flags;
  return fields;
}

interface Waiter {
  resolve(): void;
  reject(err: DlmError): void;
  operation: "lock" | "convert";
}

export class Lock implements AsyncDisposable {
  mode: LockMode | undefined;
  state: LockState;
  sb: StatusFlags = { demoted: false, valNotValid: false, altMode: false };
  lvb: Uint8Array | undefined;
  /** The value to write on the next W transition (setLvb). */
  private nextLvb: Uint8Array | undefined;
  private waiter: Waiter | undefined;
  private valueBlock = false;

  constructor(
    private readonly conn: DlmConnection,
    private readonly handle: number,
    private readonly lvbLength: number,
    readonly id: number,
    readonly resource: Uint8Array,
    private onBlocking: ((mode: LockMode) => void) | undefined,
    operation: "lock" | "convert",
    valueBlock: boolean,
  ) {
    this.state = "waiting";
    this.valueBlock = valueBlock;
    this.completion = new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject, operation };
    });
    conn.onLock(id, (m) => this.onEvent(m));
  }

  /** Settles with the first completion (the lock() call's AST). */
  readonly completion: Promise<void>;

  private onEvent(m: Message): void {
    if (m.event === "bast") {
      const mode = LOCK_MODES[Number(m.mode)];
      if (mode) this.onBlocking?.(mode);
      return;
    }
    if (m.event !== "ast") return;
    this.applyAst(m);
  }

  /** An AST (event, or the `ast` of an unlock/cancel reply): mode, sb, LVB, and the waiting promise. */
  applyAst(m: Message): void {
    const status = Number(m.status);
    const mode = Number(m.mode);
    this.mode = mode >= 0 ? LOCK_MODES[mode] : undefined;
    const sb = m.sb as StatusFlags | undefined;
    if (sb) this.sb = { demoted: !!sb.demoted, valNotValid: !!sb.valNotValid, altMode: !!sb.altMode };
    if (typeof m.lvb === "string") this.lvb = new Uint8Array(Buffer.from(m.lvb, "base64"));
    this.state = this.mode === undefined ? "unlocked" : "granted";
    if (this.state === "unlocked") this.conn.offLock(this.id);
    const w = this.waiter;
    this.waiter = undefined;
    if (!w) return;
    if (status === 0) w.resolve();
    else w.reject(errorOf(status, w.operation, `${w.operation} of lock ${this.id} completed with status ${status}`, this.id, this.sb));
  }

  /** Sets the value written by the next W transition (a conversion or unlock from PW/EX). */
  setLvb(data: Uint8Array): void {
    this.nextLvb = data;
  }

  async convert(mode: LockMode, o: ConvertOptions = {}): Promise<void> {
    if (o.onBlocking) this.onBlocking = o.onBlocking;
    const valueBlock = o.valueBlock ?? (this.valueBlock ? (this.nextLvb ?? true) : undefined);
    const fields = lockFields(
      { ...o, ...(valueBlock !== undefined ? { valueBlock } : {}), ...(this.onBlocking ? { onBlocking: this.onBlocking } : {}) },
      this.lvbLength,
      this.lvb,
    );
    const done = new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject, operation: "convert" };
    });
    const previous = this.state;
    this.state = "converting";
    try {
      await this.conn.request(
        "lock",
        { ...fields, handle: this.handle, mode: modeNumber(mode), lkid: this.id, flags: Number(fields.flags) | LKF.CONVERT },
        "convert",
        this.id,
      );
    } catch (err) {
      this.waiter = undefined;
      this.state = previous;
      throw err;
    }
    this.nextLvb = undefined;
    const abort = (): void => void this.cancel().catch(() => undefined);
    o.signal?.addEventListener("abort", abort, { once: true });
    try {
      await done;
    } finally {
      o.signal?.removeEventListener("abort", abort);
    }
  }

  async unlock(o: { valueBlock?: Uint8Array; invalidateValueBlock?: boolean; force?: boolean } = {}): Promise<void> {
    let flags = 0;
    const fields: Message = {};
    const lvb = o.valueBlock ?? this.nextLvb;
    if (lvb) {
      flags |= LKF.VALBLK;
      const padded = new Uint8Array(this.lvbLength);
      padded.set(lvb.subarray(0, this.lvbLength));
      fields.lvb = b64(padded);
    }
    if (o.invalidateValueBlock) flags |= LKF.IVVALBLK;
    if (o.force) flags |= LKF.FORCEUNLOCK;
    const reply = await this.conn.request("unlock", { ...fields, handle: this.handle, lkid: this.id, flags }, "unlock", this.id);
    this.state = "unlocked";
    this.mode = undefined;
    this.conn.offLock(this.id);
    void reply;
  }

  /** LKF_CANCEL (or dlm_ls_deadlock_cancel): the pending request completes ECANCEL (EDEADLK). */
  async cancel(o: { deadlock?: boolean } = {}): Promise<void> {
    await this.conn.request("cancel", { handle: this.handle, lkid: this.id, deadlock: o.deadlock ?? false }, "cancel", this.id);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.state !== "unlocked" && !this.conn.closed) await this.unlock({ force: true });
  }
}
