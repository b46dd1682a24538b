// The registered connection (docs/wire.md §5.2, §5.5): REGISTER gets no reply;
// the connection then carries the "self" forms of ACQUIRE/RELEASE/INQUIRE/
// CONVERT plus KILLPATH and RESTRICT, one request at a time. While it is open
// the daemon keeps this process's leases; closing it releases them (docs/wire.md §5.7).

import { DaemonConnection, type WaitLimits } from "./connection.js";
import { requestOn, type HeaderFields, type Reply } from "./calls.js";
import { ClientError, ClientErrorCode, abortedError, throwIfAborted } from "./errors.js";
import { Cmd, buildRequest, type ReplyCmd, type RequestBodies } from "@sanlock-ts/core/wire";

export interface PerformOptions {
  signal?: AbortSignal | undefined;
  /** Limit of the wait; on expiry the connection is closed, because a late reply would desynchronise it. */
  timeoutMs?: number | undefined;
  /** Called when the caller gave up (abort) but the reply arrived afterwards with result 0. */
  onLateSuccess?: () => void;
}

export class Registration implements AsyncDisposable {
  /** Requests on this connection run strictly one after another (docs/wire.md §5.1). */
  private queue: Promise<unknown> = Promise.resolve();
  /** Set after RESTRICT_ALL succeeded: the daemon answers nothing more on this connection. */
  private restrictedAll = false;

  private constructor(private readonly conn: DaemonConnection) {}

  /** Connects and sends REGISTER; the daemon records this process's pid (SO_PEERCRED). */
  static async open(socketPath: string, limits: WaitLimits): Promise<Registration> {
    const conn = await DaemonConnection.open(socketPath, limits);
    conn.send(buildRequest(Cmd.REGISTER, {}).bytes); // no reply (docs/wire.md §7.1)
    return new Registration(conn);
  }

  /** The socket's file descriptor (what Python's register() returns), −1 if unknown. */
  get fd(): number {
    return this.conn.fd;
  }

  get isOpen(): boolean {
    return this.conn.isOpen;
  }

  /** True once RESTRICT_ALL was accepted: any further request would wait forever (docs/wire.md §5.8). */
  get restricted(): boolean {
    return this.restrictedAll;
  }

  /** Records that RESTRICT_ALL was accepted on this connection (operations.ts restrict). */
  markRestricted(): void {
    this.restrictedAll = true;
  }

  /** Runs one request on the registered connection, after the ones before it. */
  perform<C extends ReplyCmd>(cmd: C, body: RequestBodies[C], fields: HeaderFields, options: PerformOptions = {}): Promise<Reply<C>> {
    throwIfAborted(options.signal, "request on the registered connection");
    if (!this.conn.isOpen) {
      return Promise.reject(new ClientError(ClientErrorCode.NOT_OPEN, "the registered connection is closed"));
    }
    if (this.restrictedAll) {
      return Promise.reject(new ClientError(ClientErrorCode.RESTRICTED, "the registered connection is restricted (RESTRICT_ALL): the daemon would not reply"));
    }
    const run = this.queue.then(async () => {
      try {
        return await requestOn(this.conn, cmd, body, fields, { timeoutMs: options.timeoutMs });
      } catch (err) {
        // A reply that may still come would be read as the answer to the next request.
        this.conn.close();
        throw err;
      }
    });
    this.queue = run.catch(() => undefined);
    return abandonable(run, options.signal, (reply) => {
      if ((reply.header.data | 0) === 0) options.onLateSuccess?.();
    });
  }

  /** Closes the connection; the daemon then releases every lease it holds for it (docs/wire.md §5.7). */
  async close(): Promise<void> {
    this.conn.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Lets the caller stop waiting for `work` when `signal` aborts, while the work
 * itself runs to completion; `late` sees its result if it arrives after the abort.
 */
export function abandonable<T>(work: Promise<T>, signal: AbortSignal | undefined, late: (value: T) => void): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let abandoned = false;
    const onAbort = (): void => {
      abandoned = true;
      reject(abortedError("request", signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (abandoned) late(value);
        else resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (!abandoned) reject(err);
      },
    );
  });
}
