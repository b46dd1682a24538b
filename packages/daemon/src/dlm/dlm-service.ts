/**
 * The DLM service of the daemon (docs/dlm.md §5.2, §5.10, §5.11; protocol docs/dlm-wire.md): the
 * `<run_dir>/dlm.sock` listener, the DLM lockspaces joined here, and what happens to their
 * processes when our lockspace fails. Each connection is one DLM process (dlm-connection.ts).
 */
import type { Server, Socket } from "node:net";
import { DlmError, DlmLockspaces, type RecoveryCallbacks } from "@sanlock-ts/core/dlm";
import type { Lockspace } from "../lockspaces/lockspace.js";
import type { LockspaceSet } from "../lockspaces/lockspace-set.js";
import { listenOnRunDir, type SocketOwner } from "../run-dir.js";
import { DaemonDlmHost, type DlmVolume } from "./dlm-host.js";
import { DlmConnection } from "./dlm-connection.js";

export const DLM_SOCKET_NAME = "dlm.sock";
/** Most DLM connections at once (a limit on everything; sanlock's client table is 1,000 too). */
export const MAX_DLM_CONNECTIONS = 1000;

export interface DlmServiceOptions {
  readonly runDir: string;
  readonly socketOwner: SocketOwner;
  readonly lockspaces: LockspaceSet;
  readonly hostName: string;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
  /** Ends a DLM process whose lockspace failed (docs/dlm.md §5.11); default SIGKILL. */
  readonly killProcess?: (pid: number) => void;
}

/** A lockspace that failed: it is held until every process that had a lock is gone. */
interface Failing {
  readonly connections: Set<DlmConnection>;
  /** Orphans existed: the lockspace is never left cleanly and the watchdog fires (docs/dlm.md §5.11). */
  readonly orphans: boolean;
}

export class DlmService {
  readonly host: DaemonDlmHost;
  readonly tables: DlmLockspaces;
  readonly connections = new Set<DlmConnection>();
  private readonly volumes = new Map<string, DlmVolume>();
  private readonly recoveryListeners = new Map<string, Set<DlmConnection>>();
  private readonly failing = new Map<string, Failing>();
  /** Peer pid of every DLM process id ever used (orphans keep theirs after the connection closed). */
  private readonly peerPids = new Map<number, number>();
  private nextProcId = 1;
  private server: Server | undefined;

  private constructor(readonly options: DlmServiceOptions) {
    this.host = new DaemonDlmHost({
      lockspaces: options.lockspaces,
      hostName: options.hostName,
      log: options.log,
      volumeOf: (name) => this.volumes.get(name),
      recoveryOf: (name) => this.recoveryFanOut(name),
      heldByDlm: (name) => this.held(name),
    });
    this.tables = new DlmLockspaces(this.host);
  }

  static async listen(options: DlmServiceOptions): Promise<DlmService> {
    const service = new DlmService(options);
    service.server = await listenOnRunDir(options.runDir, options.socketOwner, (socket) => service.accept(socket), DLM_SOCKET_NAME);
    return service;
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= MAX_DLM_CONNECTIONS) {
      this.options.log("error", `dlm: more than ${MAX_DLM_CONNECTIONS} connections, one refused`);
      socket.destroy();
      return;
    }
    const procId = this.nextProcId++;
    const conn = new DlmConnection(this, socket, procId);
    this.peerPids.set(procId, conn.peer.pid);
    this.connections.add(conn);
  }

  /** The connection closed: its handles close (process exit, docs/dlm.md §5.10). */
  connectionClosed(conn: DlmConnection): void {
    this.connections.delete(conn);
    for (const listeners of this.recoveryListeners.values()) listeners.delete(conn);
    for (const f of this.failing.values()) f.connections.delete(conn);
    if (!this.processHasOrphans(conn.procId)) this.peerPids.delete(conn.procId);
  }

  private processHasOrphans(procId: number): boolean {
    return this.host.all().some((j) => j.engine.lockInfo().some((l) => l.pid === procId && l.orphan));
  }

  /** The pid a DLM process id stands for (0 when unknown). */
  peerPidOf(procId: number): number {
    return this.peerPids.get(procId) ?? 0;
  }

  /** DLM process ids whose peer is `pid`. */
  procIdsOf(pid: number): number[] {
    return [...this.peerPids].filter(([, p]) => p === pid).map(([id]) => id);
  }

  /** The volume to join `name` on: given now, or remembered from an earlier create. */
  rememberVolume(name: string, volume: DlmVolume | undefined): DlmVolume | undefined {
    if (!this.leftFailing(name)) throw new DlmError("EBUSY", "create", `lockspace ${name} failed and is still leaving`);
    if (volume !== undefined && this.host.joined(name) === undefined) this.volumes.set(name, volume);
    return this.volumes.get(name);
  }

  listenRecovery(name: string, conn: DlmConnection): void {
    let set = this.recoveryListeners.get(name);
    if (!set) {
      set = new Set();
      this.recoveryListeners.set(name, set);
    }
    set.add(conn);
  }

  private recoveryFanOut(name: string): RecoveryCallbacks {
    const send = (fields: Record<string, unknown>): void => {
      for (const conn of this.recoveryListeners.get(name) ?? []) conn.recoveryEvent(name, fields);
    };
    return {
      prep: () => send({ kind: "prep" }),
      slot: (s) => send({ kind: "slot", nodeId: s.nodeId, slot: s.slot }),
      done: (d) => send({ kind: "done", slots: d.slots, ourSlot: d.ourSlot, generation: d.generation }),
    };
  }

  /** While joined, and after a failure until its processes are gone, the sanlock lockspace stays. */
  private held(name: string): boolean {
    const f = this.failing.get(name);
    if (f) return f.orphans || f.connections.size > 0;
    const join = this.host.joined(name);
    if (join === undefined) return false;
    if (!join.lockspace.removeRequested) return true;
    // A removal (REM_LOCKSPACE, forced shutdown) treats DLM processes as lease holders: they are
    // killed, and the engine stops once no lock is left, before the delta release.
    if (join.engine.lockInfo().length > 0) {
      this.lockspaceFailed(join.lockspace, "lockspace removal");
      return true;
    }
    this.forgetLockspace(name);
    return false;
  }

  private forgetLockspace(name: string): void {
    this.host.forget(name);
    this.tables.forget(name);
    this.volumes.delete(name);
  }

  /** A create may join again once a failed lockspace has left the daemon's lists. */
  private leftFailing(name: string): boolean {
    if (!this.failing.has(name)) return true;
    if (this.options.lockspaces.anyList(name) !== undefined) return false;
    this.failing.delete(name);
    return true;
  }

  /**
   * docs/dlm.md §5.11: our lockspace entered recovery. Pending requests complete ENOTCONN, every
   * process with a DLM lock or request is killed, and the lockspace is held until they are gone
   * (with orphans: for ever, so the watchdog fires as for sanlock's used_by_orphans).
   */
  lockspaceFailed(ls: Lockspace, reason: string): void {
    const join = this.host.joined(ls.name);
    if (join === undefined) return;
    const locks = join.engine.lockInfo();
    const orphans = locks.some((l) => l.orphan);
    const procIds = new Set(locks.filter((l) => !l.orphan).map((l) => l.pid));
    const victims = new Set([...this.connections].filter((c) => procIds.has(c.procId)));
    this.failing.set(ls.name, { connections: victims, orphans });
    this.options.log("error", `dlm lockspace ${ls.name} failed (${reason}): ${victims.size} processes killed${orphans ? ", orphans hold it" : ""}`);
    this.forgetLockspace(ls.name);
    for (const conn of victims) {
      const pid = conn.peer.pid;
      if (pid === process.pid) {
        this.options.log("error", `dlm: not killing our own pid ${pid}; closing its connection`);
        conn.destroy();
        continue;
      }
      (this.options.killProcess ?? ((p) => process.kill(p, "SIGKILL")))(pid);
    }
  }

  /** Stops listening; connections close (their processes' locks go as on exit). */
  async close(): Promise<void> {
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    // server.close() resolves only once every connection has closed.
    for (const conn of [...this.connections]) conn.destroy();
    await closed;
    for (const join of this.host.all()) join.engine.stop();
  }
}
