// The two ways a call reaches the daemon (docs/wire.md §5.1, §14.2): a fresh
// connection per call (what libsanlock does for everything except the
// registered connection), closed after the reply; and a request on a
// connection the caller keeps (the registered connection). No argument
// checking here: callers pass values already validated.

import { DaemonConnection, type WaitLimits } from "./connection.js";
import { ClientError, ClientErrorCode, SanlockError } from "./errors.js";
import {
  buildRequest,
  cmdName,
  type CmdNumber,
  type ReplyBodies,
  type ReplyCmd,
  type RequestBodies,
  type StateRecord,
  type WireHeader,
} from "@sanlock-ts/core/wire";

/** Where and how long: the socket, and the limits of the wait for a reply. */
export interface CallTarget {
  socketPath: string;
  /** Limit of a wait for a reply; undefined for calls that are meant to wait (acquire, sync add...). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface HeaderFields {
  cmdFlags?: number;
  data?: number;
  data2?: number;
  length?: number;
}

export interface Reply<C extends ReplyCmd> {
  header: WireHeader;
  body: ReplyBodies[C];
}

/** A reply's result: the header's data field read as i32 (docs/wire.md §9.1). */
export function headerResult(header: WireHeader): number {
  return header.data | 0;
}

/** Throws SanlockError for a negative result (docs/wire.md §9.1). */
export function checkResult(cmd: number, header: WireHeader): number {
  return checkResultValue(cmd, headerResult(header));
}

export function checkResultValue(cmd: number, result: number): number {
  if (result < 0) throw new SanlockError(cmd, result);
  return result;
}

/** Sends one request on `conn` and waits for its reply. */
export async function requestOn<C extends ReplyCmd>(
  conn: DaemonConnection,
  cmd: C,
  body: RequestBodies[C],
  fields: HeaderFields,
  limits: WaitLimits,
): Promise<Reply<C>> {
  conn.send(buildRequest(cmd, body, fields).bytes, cmd);
  const event = await conn.next(limits);
  if (event === null) {
    throw new ClientError(ClientErrorCode.CLOSED, `${cmdName(cmd)}: the daemon closed the connection without replying`);
  }
  if (event.type !== "reply") {
    throw new ClientError(ClientErrorCode.PROTOCOL, `${cmdName(cmd)}: expected a reply, got ${event.type}`);
  }
  return { header: event.reply.header, body: event.reply.body as ReplyBodies[C] };
}

/** One request on a fresh connection, closed after the reply. */
export async function callOnce<C extends ReplyCmd>(target: CallTarget, cmd: C, body: RequestBodies[C], fields: HeaderFields = {}): Promise<Reply<C>> {
  const conn = await DaemonConnection.open(target.socketPath, target);
  try {
    return await requestOn(conn, cmd, body, fields, target);
  } finally {
    conn.close();
  }
}

/** A request the daemon never answers (SHUTDOWN, docs/wire.md §7.4): sent, then the connection is closed. */
export async function sendOnly<C extends CmdNumber>(target: CallTarget, cmd: C, body: RequestBodies[C], fields: HeaderFields = {}): Promise<void> {
  const conn = await DaemonConnection.open(target.socketPath, target);
  try {
    conn.send(buildRequest(cmd, body, fields).bytes);
    // Wait for the daemon to close it (it does for SHUTDOWN), bounded by the target's limits.
    while ((await conn.next(target)) !== null);
  } finally {
    conn.close();
  }
}

/** Most records a stream reply may carry: 2000 hosts + renewals + clients, with room to spare. */
const MAX_STREAM_RECORDS = 100_000;

/** STATUS / HOST_STATUS / RENEWAL: the reply header, then records until EOF (docs/wire.md §13.2). */
export async function callStream(
  target: CallTarget,
  cmd: 5 | 15 | 34,
  body: RequestBodies[5 | 15 | 34],
  fields: HeaderFields = {},
): Promise<{ header: WireHeader; records: StateRecord[] }> {
  const conn = await DaemonConnection.open(target.socketPath, target);
  try {
    const reply = await requestOn(conn, cmd as 5, body as RequestBodies[5], fields, target);
    const records: StateRecord[] = [];
    for (let i = 0; i <= MAX_STREAM_RECORDS; i++) {
      const event = await conn.next(target);
      if (event === null || event.type === "stream-end") return { header: reply.header, records };
      if (event.type !== "record") {
        throw new ClientError(ClientErrorCode.PROTOCOL, `${cmdName(cmd)}: expected a record, got ${event.type}`);
      }
      records.push(event.record);
    }
    throw new ClientError(ClientErrorCode.PROTOCOL, `${cmdName(cmd)}: more than ${MAX_STREAM_RECORDS} records`);
  } finally {
    conn.close();
  }
}
