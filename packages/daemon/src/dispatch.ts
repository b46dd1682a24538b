/**
 * Command registry and per-request context (docs/wire.md §5.1, §5.5).
 *
 * The connection's framing delivers whole decoded requests; the server checks them and
 * calls the handler registered for the command, which sends its reply through the context.
 * The session, info, config and shutdown commands are registered by commands/index.ts; the
 * lockspace, resource and disk commands by handlers/index.ts (the lease daemon registers them;
 * a command with no handler is answered as sanlock answers an unknown one, docs/wire.md §5.4).
 */
import { Cmd, cmdClass, encodeEchoReply, type CmdClass, type CmdNumber, type RequestBodies, type WireHeader, type WireRequest } from "@sanlock-ts/core/wire";
import type { Connection } from "./connection.js";
import type { DaemonState } from "./status.js";

export interface ReplyOptions {
  /** Reply data2 (default 0). */
  readonly data2?: number;
  readonly payload?: Uint8Array;
  /** Overrides the reply length (quirks: LOG_DUMP keeps the request's, GET_LVB errors announce more). */
  readonly length?: number;
}

export interface CommandContext<C extends CmdNumber = CmdNumber> {
  readonly header: WireHeader;
  readonly body: RequestBodies[C];
  readonly conn: Connection;
  readonly daemon: DaemonState;
  /** Sends the echo reply header (docs/wire.md §3) with `data` = result, then `payload`. */
  reply(result: number, options?: ReplyOptions): Promise<boolean>;
  /** Sends raw bytes on the request connection (record streams, docs/wire.md §7.5). */
  send(bytes: Uint8Array): Promise<boolean>;
  /** For class A handlers that keep the connection (REG_EVENT's event channel, docs/wire.md §8.4). */
  keepOpen(): void;
}

export type CommandHandler<C extends CmdNumber = CmdNumber> = (ctx: CommandContext<C>) => Promise<void>;

export interface CommandSpec {
  readonly cmd: CmdNumber;
  /** Name shown for the request connection in STATUS (docs/wire.md §5.3); undefined keeps the current name. */
  readonly clientName: string | undefined;
  readonly handle: CommandHandler;
}

/** Names sanlock gives to connections by command (docs/wire.md §5.3); other class A/C commands show "cmd<N>". */
const CONNECTION_NAMES: Readonly<Partial<Record<number, string>>> = {
  [Cmd.STATUS]: "status",
  [Cmd.HOST_STATUS]: "host_status",
  [Cmd.RENEWAL]: "renewal",
  [Cmd.LOG_DUMP]: "log_dump",
  [Cmd.GET_LOCKSPACES]: "get_lockspaces",
  [Cmd.GET_HOSTS]: "get_hosts",
  [Cmd.REG_EVENT]: "reg_event",
  [Cmd.END_EVENT]: "end_event",
  [Cmd.SET_CONFIG]: "set_config",
  [Cmd.SHUTDOWN]: "shutdown",
  [Cmd.ADD_LOCKSPACE]: "add_lockspace",
  [Cmd.INQ_LOCKSPACE]: "inq_lockspace",
  [Cmd.REM_LOCKSPACE]: "rem_lockspace",
};

/** STATUS name of a connection carrying `cmd`; undefined for class B/D (they keep their name). */
export function connectionNameFor(cmd: CmdNumber): string | undefined {
  const cls = cmdClass(cmd);
  if (cls === "B" || cls === "D") return undefined;
  return CONNECTION_NAMES[cmd] ?? `cmd${cmd}`;
}

export class CommandRegistry {
  private readonly specs = new Map<number, CommandSpec>();

  /** Registers (or replaces) the handler of `cmd`. */
  register<C extends CmdNumber>(cmd: C, handle: CommandHandler<C>): void {
    this.specs.set(cmd, { cmd, clientName: connectionNameFor(cmd), handle: handle as unknown as CommandHandler });
  }

  get(cmd: number): CommandSpec | undefined {
    return this.specs.get(cmd);
  }

  has(cmd: number): boolean {
    return this.specs.has(cmd);
  }
}

/** Limits concurrent class C/D handlers to the worker count (-t); excess requests queue (docs/wire.md §5.1). */
export class WorkerLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`worker limit ${limit} must be ≥ 1`);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** The echo reply (docs/wire.md §3), built by the codec. */
export function replyBytes(request: WireHeader, result: number, options: ReplyOptions = {}): Uint8Array {
  return encodeEchoReply(request, result, options.payload, {
    ...(options.data2 !== undefined ? { data2: options.data2 } : {}),
    ...(options.length !== undefined ? { length: options.length } : {}),
  });
}

export function makeContext(request: WireRequest, conn: Connection, daemon: DaemonState): CommandContext & { kept: boolean } {
  const ctx = {
    header: request.header,
    body: request.body,
    conn,
    daemon,
    kept: false,
    reply(result: number, options: ReplyOptions = {}): Promise<boolean> {
      return conn.write(replyBytes(request.header, result, options));
    },
    send(bytes: Uint8Array): Promise<boolean> {
      return conn.write(bytes);
    },
    keepOpen(): void {
      ctx.kept = true;
    },
  };
  return ctx;
}

export function classOf(cmd: CmdNumber): CmdClass {
  return cmdClass(cmd);
}
