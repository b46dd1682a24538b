// The DLM as a TypeScript API (docs/dlm.md §7): one DlmClient is one DLM process of the daemon
// (its locks end when it closes), Lockspace handles as dlm_create/open_lockspace give, Locks.
import { DlmError, LKF, type RecoveryCallbacks } from "@sanlock-ts/core/dlm";
import { DlmConnection, type Message } from "./dlm-connection.js";
import { LOCK_MODES, Lock, type LockMode, type LockOptions, lockFields, modeNumber } from "./lock.js";

export interface LockspaceInfo {
  readonly name: string;
  readonly count: number;
  readonly hostId: number;
  readonly generation: bigint;
  readonly lockspaceId: string;
  readonly members: number[];
  readonly path: string;
  readonly offset: number;
  readonly io: { reads: number; writes: number };
}

export interface LockInfo {
  readonly id: number;
  readonly pid: number;
  readonly resource: Uint8Array;
  readonly granted: LockMode | undefined;
  readonly requested: LockMode | undefined;
  readonly orphan: boolean;
}

export interface CreateOptions {
  /** NEWEXCL: EEXIST when this host has it joined already. */
  exclusive?: boolean;
  noDir?: boolean;
  timeWarn?: boolean;
  fs?: boolean;
  lvbLength?: number;
  cluster?: string;
  hostId?: number;
  /** The DLM volume; needed the first time a daemon joins this lockspace. */
  disk?: { path: string; offset?: bigint | number };
  /** Accepted and unused, as the kernel's mode. */
  mode?: number;
  recovery?: RecoveryCallbacks;
}

const enc = (s: string | Uint8Array): Uint8Array => (typeof s === "string" ? new TextEncoder().encode(s) : s);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
const modeOf = (n: unknown): LockMode | undefined => (typeof n === "number" && n >= 0 ? LOCK_MODES[n] : undefined);

export class Lockspace implements AsyncDisposable {
  constructor(
    private readonly conn: DlmConnection,
    readonly handle: number,
    readonly name: string,
    readonly hostId: number,
    readonly lvbLength: number,
  ) {}

  /** dlm_lock: resolves when the lock is granted (its completion AST, status 0). */
  async lock(resource: string | Uint8Array, mode: LockMode, o: LockOptions = {}): Promise<Lock> {
    return this.request(enc(resource), mode, o, 0);
  }

  /** ORPHAN: take over an orphan of the same name and mode (same lock id); other modes only: EAGAIN; none: ENOENT. */
  async adopt(resource: string | Uint8Array, mode: LockMode, o: { valueBlock?: boolean; onBlocking?: (m: LockMode) => void } = {}): Promise<Lock> {
    return this.request(enc(resource), mode, { ...o, persistent: true }, LKF.ORPHAN);
  }

  private async request(name: Uint8Array, mode: LockMode, o: LockOptions, extraFlags: number): Promise<Lock> {
    const fields = lockFields(o, this.lvbLength);
    const reply = await this.conn.request(
      "lock",
      { ...fields, flags: Number(fields.flags) | extraFlags, handle: this.handle, mode: modeNumber(mode), resource: b64(name) },
      extraFlags & LKF.ORPHAN ? "adopt" : "lock",
    );
    const lock = new Lock(
      this.conn,
      this.handle,
      this.lvbLength,
      Number(reply.lkid),
      name,
      o.onBlocking,
      "lock",
      o.valueBlock !== undefined && o.valueBlock !== false,
    );
    const abort = (): void => void lock.cancel().catch(() => undefined);
    o.signal?.addEventListener("abort", abort, { once: true });
    try {
      await lock.completion;
    } finally {
      o.signal?.removeEventListener("abort", abort);
    }
    return lock;
  }

  /** dlm_ls_purge: unlocks the orphans of `pid` (0: all) on this host; returns how many. */
  async purgeOrphans(o: { pid?: number; nodeId?: number } = {}): Promise<number> {
    const reply = await this.conn.request("purge", { handle: this.handle, nodeId: o.nodeId ?? 0, pid: o.pid ?? 0 }, "purge");
    return Number(reply.count);
  }

  /** dlm_close_lockspace: this handle's locks go as on process exit; the lockspace stays joined. */
  async close(): Promise<void> {
    await this.conn.request("close", { handle: this.handle }, "release");
  }

  /** dlm_release_lockspace: the last release leaves (EBUSY with locks unless `force`). */
  async release(o: { force?: boolean } = {}): Promise<void> {
    await this.conn.request("release", { handle: this.handle, force: o.force ?? false }, "release");
  }

  /** The locks of this host in this lockspace (what lockdump shows). */
  async locks(): Promise<LockInfo[]> {
    const reply = await this.conn.request("locks", { handle: this.handle }, "open");
    return (reply.locks as Message[]).map((l) => ({
      id: Number(l.lkid),
      pid: Number(l.pid),
      resource: new Uint8Array(Buffer.from(String(l.resource), "base64")),
      granted: modeOf(l.gr),
      requested: modeOf(l.rq),
      orphan: l.orphan === true,
    }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.conn.closed) await this.close();
  }
}

export class DlmClient implements AsyncDisposable {
  private constructor(private readonly conn: DlmConnection) {}

  /** Connects to `<run_dir>/dlm.sock` (run_dir: SANLOCK_RUN_DIR, else /run/sanlock). */
  static async connect(o: { socketPath?: string; runDir?: string; signal?: AbortSignal } = {}): Promise<DlmClient> {
    return new DlmClient(await DlmConnection.connect(o));
  }

  /** dlm_new_lockspace: joins the lockspace on the first create on this host. */
  async createLockspace(name: string, o: CreateOptions = {}): Promise<Lockspace> {
    const fields: Message = { name, exclusive: !!o.exclusive, noDir: !!o.noDir, timeWarn: !!o.timeWarn, recovery: o.recovery !== undefined };
    if (o.hostId !== undefined) fields.hostId = o.hostId;
    if (o.disk) fields.disk = { path: o.disk.path, offset: Number(o.disk.offset ?? 0) };
    if (o.lvbLength !== undefined) fields.lvbLength = o.lvbLength;
    if (o.cluster !== undefined) fields.cluster = o.cluster;
    const reply = await this.conn.request("create", fields, "create");
    const ls = this.lockspaceOf(reply);
    if (o.recovery) this.routeRecovery(ls.handle, o.recovery);
    return ls;
  }

  /** dlm_open_lockspace: a handle on a lockspace this host has joined, else ENOENT. */
  async openLockspace(name: string): Promise<Lockspace> {
    return this.lockspaceOf(await this.conn.request("open", { name }, "open"));
  }

  async listLockspaces(): Promise<LockspaceInfo[]> {
    const reply = await this.conn.request("list", {}, "open");
    return (reply.lockspaces as Message[]).map((l) => ({
      name: String(l.name),
      count: Number(l.count),
      hostId: Number(l.hostId),
      generation: BigInt(String(l.generation)),
      lockspaceId: String(l.lockspaceId),
      members: (l.members as number[]).map(Number),
      path: String(l.path),
      offset: Number(l.offset),
      io: { reads: Number((l.io as Message)?.reads ?? 0), writes: Number((l.io as Message)?.writes ?? 0) },
    }));
  }

  /** Ends this DLM process: its locks are unlocked, PERSISTENT ones become orphans. */
  close(): Promise<void> {
    return this.conn.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private lockspaceOf(reply: Message): Lockspace {
    if (typeof reply.handle !== "number") throw new DlmError("EPROTO", "open", "reply without a handle");
    return new Lockspace(this.conn, reply.handle, String(reply.name), Number(reply.hostId), Number(reply.lvbLength));
  }

  private routeRecovery(handle: number, cb: RecoveryCallbacks): void {
    this.conn.onEvent((m) => {
      if (m.event !== "recovery" || m.handle !== handle) return;
      if (m.kind === "prep") cb.prep?.();
      else if (m.kind === "slot") cb.slot?.({ nodeId: Number(m.nodeId), slot: Number(m.slot) });
      else if (m.kind === "done")
        cb.done?.({ slots: m.slots as { nodeId: number; slot: number }[], ourSlot: Number(m.ourSlot), generation: Number(m.generation) });
    });
  }
}
