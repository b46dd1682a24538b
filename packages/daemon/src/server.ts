/**
 * The socket server: accepts connections, takes each request from the shared framing
 * (MessageReader), checks it as the 3.8.5 daemon does (docs/wire.md §5.4), and dispatches it (docs/wire.md §5.1).
 *
 * - bad magic, a protocol major ≠ 0 (except VERSION), an unknown command (the framing drops
 *   these), or any request on a RESTRICT_ALL connection: no reply, connection kept;
 * - a payload the framing rejects with a result (−ERANGE, −E2BIG...): that result is replied;
 * - a payload cut short by the peer: −ENOTCONN where a reply is still possible, then close;
 * - class A: handled, then the connection is closed (REG_EVENT may keep it);
 * - class B: handled, connection kept;
 * - class C/D: handled under the worker limit (-t), connection kept.
 * A handler that throws never takes the daemon down: the error is logged and that
 * connection is closed.
 */
import type { Server, Socket } from "node:net";
import { RestrictFlag, cmdClass, cmdName, type CmdNumber, type WireEvent, type WireHeader, type WireRequest } from "@sanlock-ts/core/wire";
import { ClientTable, type Connection } from "./connection.js";
import { type CommandRegistry, WorkerLimit, makeContext, replyBytes } from "./dispatch.js";
import { defaultCommandRegistry } from "./commands/index.js";
import { lookupTarget } from "./commands/target.js";
import type { DaemonLog } from "./log.js";
import type { DaemonSettings } from "./options.js";
import { closeKeepingSocketFile, listenOnRunDir, type SocketOwner } from "./run-dir.js";
import { socketFd } from "./peer-cred.js";
import { monotonicSeconds, type DaemonState, type LockspaceHooks } from "./status.js";

/** How long shutdown waits for handlers still writing (SHUTDOWN_WAIT replies) before closing. */
export const SHUTDOWN_DRAIN_MS = 2000;

export interface DaemonServerOptions {
  readonly runDir: string;
  readonly settings: DaemonSettings;
  readonly ourHostName: string;
  readonly socketOwner: SocketOwner;
  readonly log: DaemonLog;
  readonly lockspaces: LockspaceHooks;
  readonly registry?: CommandRegistry;
}

export class DaemonServer implements DaemonState {
  readonly settings: DaemonSettings;
  readonly ourHostName: string;
  readonly log: DaemonLog;
  readonly socketOwner: SocketOwner;
  readonly registry: CommandRegistry;
  lockspaces: LockspaceHooks;
  clients!: ClientTable;
  /** Resolves when the daemon has shut down (listener and all connections closed). */
  readonly exited: Promise<void>;

  private server: Server | undefined;
  private readonly workers: WorkerLimit;
  /** Handlers currently running (not idle connections waiting for a header). */
  private readonly activeHandlers = new Set<Promise<void>>();
  private shutdownPromise: Promise<void> | undefined;
  private markExited!: () => void;
  private stopping = false;

  private constructor(private readonly options: DaemonServerOptions) {
    this.settings = options.settings;
    this.ourHostName = options.ourHostName;
    this.log = options.log;
    this.socketOwner = options.socketOwner;
    this.registry = options.registry ?? defaultCommandRegistry();
    this.lockspaces = options.lockspaces;
    this.workers = new WorkerLimit(options.settings.maxWorkerThreads);
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
    });
  }

  /** Creates `<run_dir>/sanlock.sock` and starts accepting. */
  static async listen(options: DaemonServerOptions): Promise<DaemonServer> {
    const daemon = new DaemonServer(options);
    daemon.server = await listenOnRunDir(options.runDir, options.socketOwner, (socket) => daemon.accept(socket));
    const listenerFd = (daemon.server as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    daemon.clients = new ClientTable(listenerFd);
    return daemon;
  }

  get shuttingDown(): boolean {
    return this.shutdownPromise !== undefined;
  }

  monotime(): number {
    return monotonicSeconds();
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    let fd: number;
    try {
      fd = socketFd(socket);
    } catch {
      socket.destroy();
      return;
    }
    const conn = this.clients.add(socket, fd);
    if (conn === undefined) {
      this.log.error(`client_add: all client slots in use, closing fd ${fd}`);
      socket.destroy();
      return;
    }
    void this.serve(conn)
      .catch((error: unknown) => {
        this.log.error(`ci ${conn.ci} fd ${conn.fd}: ${(error as Error).message}`);
      })
      .finally(() => this.connectionGone(conn));
  }

  private connectionGone(conn: Connection): void {
    conn.close();
    this.clients.remove(conn);
    if (conn.registered) {
      conn.pidDead = true;
      this.log.debug(`client_pid_dead ${conn.ci},${conn.fd},${conn.pid} cmd_active ${conn.cmdActive} suspend 0`);
      this.lockspaces.clientGone(conn);
    }
  }

  /** Handles requests on one connection until it closes. */
  private async serve(conn: Connection): Promise<void> {
    for (;;) {
      const event = await conn.nextEvent();
      if (event === null || this.stopping) return;
      const keep = event.type === "request" ? await this.onRequest(conn, event.request) : await this.onFramingError(conn, event);
      if (!keep || conn.isClosed) return;
    }
  }

  /** docs/wire.md §5.4 error cases the framing reports; returns whether the connection stays open. */
  private async onFramingError(conn: Connection, event: WireEvent): Promise<boolean> {
    if (event.type !== "error") return false; // reply/record events only occur on the client side
    const { error, header, fatal } = event;
    this.log.error(`ci ${conn.ci} fd ${conn.fd}: ${error.message}`);
    if (header !== null && error.result !== undefined && !(conn.restricted & RestrictFlag.ALL)) {
      if (this.isKnown(header)) conn.cmdLast = header.cmd;
      await conn.write(replyBytes(header, this.targetError(conn, header) ?? error.result));
    }
    return !fatal;
  }

  /** Class D: the daemon finds the target client before reading the payload (docs/wire.md §5.5), so its error wins. */
  private targetError(conn: Connection, header: WireHeader): number | undefined {
    if (!this.isKnown(header) || cmdClass(header.cmd as CmdNumber) !== "D") return undefined;
    const found = lookupTarget({ header, conn, daemon: this });
    return "error" in found ? found.error : undefined;
  }

  private isKnown(header: WireHeader): boolean {
    return this.registry.has(header.cmd);
  }

  /** Runs the handler; returns whether the connection stays open. */
  private async onRequest(conn: Connection, request: WireRequest): Promise<boolean> {
    if (conn.restricted & RestrictFlag.ALL) {
      this.log.debug(`ci ${conn.ci} restricted, ignoring cmd ${request.cmd}`);
      return true;
    }
    const spec = this.registry.get(request.cmd);
    if (spec === undefined) {
      this.log.error(`ci ${conn.ci} fd ${conn.fd} no handler for cmd ${request.cmd}`);
      return true;
    }
    const cls = cmdClass(request.cmd);
    conn.cmdLast = request.cmd;
    if (!conn.registered && spec.clientName !== undefined) conn.name = spec.clientName;
    const ctx = makeContext(request, conn, this);
    const run = async (): Promise<void> => {
      try {
        await spec.handle(ctx);
      } catch (error) {
        this.handlerFailed(conn, request.cmd, error);
      }
    };
    const handling = cls === "C" || cls === "D" ? this.workers.run(run) : run();
    this.activeHandlers.add(handling);
    try {
      await handling;
    } finally {
      this.activeHandlers.delete(handling);
    }
    if (cls === "A") return ctx.kept;
    return !conn.isClosed;
  }

  private handlerFailed(conn: Connection, cmd: number, error: unknown): void {
    this.log.error(`${cmdName(cmd)} ci ${conn.ci} failed: ${(error as Error).stack ?? String(error)}`);
    conn.close();
  }

  /**
   * Shutdown (docs/wire.md §8.3): stop accepting, remove lockspaces when forced, let SHUTDOWN_WAIT
   * handlers send their replies, then close every connection. The socket file is left
   * behind, as sanlock leaves it. Resolves when lockspaces are gone ("about to exit").
   */
  requestShutdown(force: boolean): Promise<void> {
    if (this.shutdownPromise === undefined) {
      this.log.warn(`shutdown requested${force ? " (force)" : ""}`);
      this.shutdownPromise = this.runShutdown(force);
    }
    return this.shutdownPromise;
  }

  private async runShutdown(force: boolean): Promise<void> {
    if (force) await this.lockspaces.removeAll();
    this.stopping = true;
    // Let SHUTDOWN_WAIT handlers (awaiting this promise) write their reply before closing.
    setImmediate(() => void this.finish());
  }

  private async finish(): Promise<void> {
    const server = this.server;
    const closed = server === undefined ? Promise.resolve() : closeKeepingSocketFile(server, this.options.runDir);
    const pending = Promise.allSettled([...this.activeHandlers]);
    await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_DRAIN_MS).unref())]);
    for (const conn of this.clients.connections()) conn.close();
    for (const conn of this.clients.connections()) conn.socket.destroy();
    await closed;
    this.log.warn("sanlock daemon exiting");
    this.markExited();
  }
}
