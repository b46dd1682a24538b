/**
 * One connection of the DLM socket = one DLM process (docs/dlm.md §5.10, docs/dlm-wire.md): its
 * frames, its lockspace handles, its requests, and its exit. Every operation names a lock of
 * this process only; a lock id of another process is ENOENT, as the kernel's per-process lkb
 * lookup gives.
 */
import type { Socket } from "node:net";
import { type Completion, DlmError, DlmStatus, FrameDecoder, type FrameError, LKF, type LockspaceHandle, encodeFrame } from "@sanlock-ts/core/dlm";
import { peerCredentials, type PeerCredentials } from "../peer-cred.js";
import type { DlmService } from "./dlm-service.js";
import { type DlmRequest, type RequestError, parseRequest, requestId } from "./requests.js";

/** Requests of one connection being worked on at once (docs/dlm-wire.md §Limits). */
export const MAX_IN_FLIGHT = 4096;
/** Bytes queued for a peer that does not read before it is dropped (a limit on everything). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const EIO = 5;

type Reply = Record<string, unknown>;

function b64(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes).toString("base64");
}

/** The `ast` object of an event or an unlock/cancel reply. */
export function astFields(c: Completion): Reply {
  const lvb = b64(c.lvb);
  return { lkid: c.lkid, status: c.status, mode: c.mode, sb: { ...c.sb }, lvbSeq: c.lvbSeq.toString(), ...(lvb !== undefined ? { lvb } : {}) };
}

function fail(status: keyof typeof DlmStatus, message: string): never {
  throw new DlmError(status, "lock", message);
}

export class DlmConnection {
  readonly peer: PeerCredentials;
  private readonly decoder = new FrameDecoder();
  private readonly handles = new Map<number, LockspaceHandle>();
  private inFlight = 0;
  /** Lock operations run in arrival order: a lock waiting for its resource's first lookup is not overtaken. */
  private order: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly service: DlmService,
    private readonly socket: Socket,
    readonly procId: number,
  ) {
    this.peer = safePeer(socket);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.destroy());
    // The run dir's listener allows half-open sockets; a DLM process that closed its end has exited.
    socket.on("end", () => this.destroy());
    socket.on("close", () => this.onClose());
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let messages: Record<string, unknown>[];
    try {
      messages = this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      // No way to find the next frame after a bad length or body (docs/dlm-wire.md §Frames).
      this.service.options.log("error", `dlm: pid ${this.peer.pid}: ${(err as FrameError).message}; connection closed`);
      this.destroy();
      return;
    }
    for (const m of messages) this.onMessage(m);
  }

  private onMessage(m: Record<string, unknown>): void {
    let req: DlmRequest;
    try {
      req = parseRequest(m);
    } catch (err) {
      const id = requestId(m);
      if (id !== undefined) this.send({ id, status: DlmStatus.EINVAL, message: (err as RequestError).message });
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.send({ id: req.id, status: DlmStatus.EAGAIN, message: `more than ${MAX_IN_FLIGHT} requests in flight` });
      return;
    }
    this.inFlight++;
    const run = (): Promise<void> =>
      this.handle(req)
        .then((reply) => this.send({ id: req.id, status: 0, ...reply }))
        .catch((err: unknown) => this.send({ id: req.id, ...errorFields(err) }))
        .finally(() => {
          this.inFlight--;
        });
    if (req.op === "lock" || req.op === "unlock" || req.op === "cancel") this.order = this.order.then(run);
    else void run();
  }

  send(message: Reply): void {
    if (this.closed || this.socket.destroyed) return;
    if (this.socket.writableLength > MAX_QUEUED_BYTES) {
      this.service.options.log("error", `dlm: pid ${this.peer.pid} does not read its replies; connection closed`);
      this.destroy();
      return;
    }
    this.socket.write(encodeFrame(message));
  }

  recoveryEvent(name: string, fields: Reply): void {
    for (const h of this.handles.values()) if (h.name === name) this.send({ event: "recovery", handle: h.id, ...fields });
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.handles.values()) {
      try {
        this.service.tables.close(h);
      } catch {
        // released or forgotten already
      }
    }
    this.handles.clear();
    this.service.connectionClosed(this);
  }

  private async handle(req: DlmRequest): Promise<Reply> {
    switch (req.op) {
      case "hello":
        return { version: 1, pid: this.peer.pid, hostName: this.service.options.hostName };
      case "create":
        return this.create(req);
      case "open":
        return this.open(req);
      case "close":
        this.service.tables.close(this.handleOf(req.handle));
        this.handles.delete(req.handle);
        return {};
      case "release":
        return this.release(req);
      case "list":
        return { lockspaces: await this.listLockspaces() };
      case "lock":
        return this.lock(req);
      case "unlock":
        return this.unlock(req);
      case "cancel":
        return this.cancel(req);
      case "purge":
        return this.purge(req);
      case "locks":
        return { locks: this.locks(req.handle) };
    }
  }

  /** Create and release need root or the socket's group (docs/dlm.md §5.2 step 1: the kernel's CAP_SYSADMIN). */
  private requireAdmin(what: string): void {
    if (this.peer.uid === 0 || this.peer.gid === this.service.options.socketOwner.gid) return;
    throw new DlmError("EPERM", what === "create" ? "create" : "release", `${what} needs uid 0 or the socket's group`);
  }

  private async create(req: Extract<DlmRequest, { op: "create" }>): Promise<Reply> {
    this.requireAdmin("create");
    const known = this.service.rememberVolume(req.name, req.disk ? { path: req.disk.path, offset: req.disk.offset, hostId: req.hostId ?? 0 } : undefined);
    if (known === undefined) throw new DlmError("ENOENT", "create", `no volume is known for lockspace ${req.name}: give its disk`);
    const handle = await this.service.tables.create(req.name, this.procId, {
      exclusive: req.exclusive,
      noDir: req.noDir,
      timeWarn: req.timeWarn,
      ...(req.lvbLength !== undefined ? { lvbLength: req.lvbLength } : {}),
      ...(req.cluster !== undefined ? { cluster: req.cluster } : {}),
    });
    return this.opened(handle, req.recovery);
  }

  private open(req: Extract<DlmRequest, { op: "open" }>): Reply {
    return this.opened(this.service.tables.open(req.name, this.procId), req.recovery);
  }

  private opened(handle: LockspaceHandle, recovery: boolean): Reply {
    if (this.closed) {
      // The process went while its create or open ran: its handle closes as on exit (the lockspace stays joined).
      this.service.tables.close(handle);
      return {};
    }
    this.handles.set(handle.id, handle);
    if (recovery) this.service.listenRecovery(handle.name, this);
    const join = this.service.host.joined(handle.name);
    return {
      handle: handle.id,
      name: handle.name,
      hostId: join?.volume.hostId ?? 0,
      lvbLength: join?.header.lvbLen ?? 0,
      generation: (join?.lockspace.generation ?? 0n).toString(),
    };
  }

  private async release(req: Extract<DlmRequest, { op: "release" }>): Promise<Reply> {
    this.requireAdmin("release");
    const handle = this.handleOf(req.handle);
    await this.service.tables.release(handle, req.force);
    this.handles.delete(req.handle);
    return {};
  }

  private handleOf(id: number): LockspaceHandle {
    const h = this.handles.get(id);
    if (h === undefined || this.service.tables.handle(id) === undefined) throw new DlmError("ENOENT", "open", `handle ${id} is not open on this connection`);
    return h;
  }

  private joinOf(id: number): NonNullable<ReturnType<DlmService["host"]["joined"]>> {
    const h = this.handleOf(id);
    const join = this.service.host.joined(h.name);
    if (join === undefined) throw new DlmError("ENOTCONN", "lock", `lockspace ${h.name} is not joined`);
    return join;
  }

  /** The lock must be one of this process's (orphans are reached through ORPHAN or purge). */
  private requireOwnLock(join: ReturnType<DlmConnection["joinOf"]>, lkid: number): void {
    if (!join.engine.lockInfo().some((l) => l.lkid === lkid && l.pid === this.procId && !l.orphan)) fail("ENOENT", `no lock ${lkid} of this process`);
  }

  private async lock(req: Extract<DlmRequest, { op: "lock" }>): Promise<Reply> {
    const join = this.joinOf(req.handle);
    if (req.flags & LKF.CONVERT) this.requireOwnLock(join, req.lkid ?? 0);
    if (req.resource !== undefined && !(req.flags & LKF.CONVERT)) await resolve(join, req.resource);
    let lkid = 0;
    const handle = join.engine.lock({
      pid: this.procId,
      mode: req.mode,
      flags: req.flags,
      ...(req.resource ? { resource: req.resource } : {}),
      ...(req.lkid !== undefined ? { lkid: req.lkid } : {}),
      ...(req.lvb ? { lvb: req.lvb } : {}),
      ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
      ...(req.bast ? { bast: (mode: number) => this.send({ event: "bast", lkid, mode }) } : {}),
    });
    lkid = handle.lkid;
    void handle.done.then((c) => this.send({ event: "ast", ...astFields(c) }));
    return { lkid };
  }

  private async unlock(req: Extract<DlmRequest, { op: "unlock" }>): Promise<Reply> {
    const join = this.joinOf(req.handle);
    this.requireOwnLock(join, req.lkid);
    const c = await join.engine.unlock({ lkid: req.lkid, flags: req.flags, ...(req.lvb ? { lvb: req.lvb } : {}) });
    return { ast: astFields(c) };
  }

  private async cancel(req: Extract<DlmRequest, { op: "cancel" }>): Promise<Reply> {
    const join = this.joinOf(req.handle);
    this.requireOwnLock(join, req.lkid);
    return { ast: astFields(join.engine.cancel(req.lkid, { deadlock: req.deadlock })) };
  }

  /** dlm_ls_purge: orphans of `pid` (its DLM processes), or all with pid 0 (docs/dlm.md §5.10). */
  private async purge(req: Extract<DlmRequest, { op: "purge" }>): Promise<Reply> {
    const engine = this.joinOf(req.handle).engine;
    if (req.pid === 0) return { count: engine.purgeOrphans(req.nodeId, 0) };
    let count = 0;
    for (const procId of this.service.procIdsOf(req.pid)) count += engine.purgeOrphans(req.nodeId, procId);
    if (count === 0) engine.purgeOrphans(req.nodeId, -1); // a remote node id is still EOPNOTSUPP
    return { count };
  }

  private locks(handleId: number): Reply[] {
    return this.joinOf(handleId)
      .engine.lockInfo()
      .map((l) => ({ lkid: l.lkid, pid: this.service.peerPidOf(l.pid), resource: b64(l.resource), gr: l.gr, rq: l.rq, orphan: l.orphan }));
  }

  private async listLockspaces(): Promise<Reply[]> {
    const counts = new Map(this.service.tables.list().map((e) => [e.name, e.count]));
    const joins = this.service.host.all();
    // I/O counts before the membership read below, which is this request's own I/O.
    const io = joins.map((j) => ({ ...j.engine.ioCount }));
    const members = await Promise.all(joins.map((j) => j.engine.members().catch(() => undefined)));
    return joins.map((j, i) => ({
      name: j.name,
      count: counts.get(j.name) ?? 0,
      hostId: j.volume.hostId,
      generation: j.lockspace.generation.toString(),
      lockspaceId: j.header.lockspaceId.toString(16).padStart(16, "0"),
      members: members[i] ?? [j.volume.hostId],
      path: j.volume.path,
      offset: j.volume.offset,
      // Every I/O the engine issued (docs/dlm.md §6): tests count a covered grant's 0 with it.
      io: io[i],
    }));
  }
}

/** Finds (or creates) the resource's area before the engine's synchronous locate needs it. */
async function resolve(join: NonNullable<ReturnType<DlmService["host"]["joined"]>>, name: Uint8Array): Promise<void> {
  if (name.length < 1 || name.length > 64) return; // the engine gives the EINVAL
  try {
    await join.directory.resolve(name);
  } catch (err) {
    if (err instanceof DlmError) throw err;
    throw Object.assign(new Error(`resource directory: ${(err as Error).message}`), { dlmStatus: EIO });
  }
}

function errorFields(err: unknown): Reply {
  if (err instanceof DlmError) return { status: err.status, message: err.message };
  const status = (err as { dlmStatus?: number }).dlmStatus ?? EIO;
  return { status, message: (err as Error)?.message ?? String(err) };
}

function safePeer(socket: Socket): PeerCredentials {
  try {
    return peerCredentials(socket);
  } catch {
    return { pid: 0, uid: -1, gid: -1 };
  }
}
