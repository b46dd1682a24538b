// The metrics request, sanlock-ts's one protocol extension (docs/wire.md §15, core
// wire/extensions.ts): a SET_CONFIG naming no lockspace with data = TS_METRICS_CONFIG_CMD. The
// sanlock-ts daemon replies 0 and a JSON snapshot; the real sanlock replies an error (−ENOENT)
// and closes, so "not supported" is known at once. Both close the connection after the reply
// (class A), so the reply is read to EOF, bounded in size and time.

import { createConnection } from "node:net";
import { Cmd, HEADER_SIZE, TS_METRICS_CONFIG_CMD, TS_METRICS_MAX_PAYLOAD, buildRequest, decodeHeader, lockspace } from "@sanlock-ts/core/wire";
import { ClientError, ClientErrorCode } from "./errors.js";

export type MetricsReply =
  /** `snapshot` is the daemon's metrics (daemon metrics.ts MetricsSnapshot). */
  | { readonly supported: true; readonly snapshot: unknown }
  /** The daemon answered `result` (sanlock 3.8.5: −2): it has no metrics. */
  | { readonly supported: false; readonly result: number };

const DEFAULT_TIMEOUT_MS = 60_000;

/** Asks the daemon at `socketPath` for its metrics. */
export function requestMetrics(target: { socketPath: string; timeoutMs?: number | undefined }): Promise<MetricsReply> {
  const request = buildRequest(Cmd.SET_CONFIG, { lockspace: lockspace("") }, { data: TS_METRICS_CONFIG_CMD }).bytes;
  const limit = HEADER_SIZE + TS_METRICS_MAX_PAYLOAD;
  const timeoutMs = target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const socket = createConnection({ path: target.socketPath });
    const fail = (error: ClientError): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new ClientError(ClientErrorCode.TIMEOUT, `metrics: no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.once("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return fail(new ClientError(ClientErrorCode.PROTOCOL, `metrics: reply longer than ${limit} bytes`));
      chunks.push(chunk);
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      fail(new ClientError(ClientErrorCode.CONNECT, `cannot connect to ${target.socketPath}: ${error.code ?? error.message}`, { cause: error })),
    );
    socket.once("end", () => {
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(parseMetricsReply(new Uint8Array(Buffer.concat(chunks))));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** The reply's header and payload, read to EOF. */
export function parseMetricsReply(bytes: Uint8Array): MetricsReply {
  if (bytes.length < HEADER_SIZE) throw new ClientError(ClientErrorCode.CLOSED, `metrics: connection closed after ${bytes.length} reply bytes`);
  const header = decodeHeader(bytes.subarray(0, HEADER_SIZE));
  if (header.cmd !== Cmd.SET_CONFIG) throw new ClientError(ClientErrorCode.PROTOCOL, `metrics: reply to command ${header.cmd}`);
  const result = header.data | 0; // a signed result on the wire
  if (result !== 0) return { supported: false, result };
  const payload = bytes.subarray(HEADER_SIZE);
  if (payload.length !== header.length - HEADER_SIZE) {
    throw new ClientError(ClientErrorCode.PROTOCOL, `metrics: ${payload.length} payload bytes, header says ${header.length - HEADER_SIZE}`);
  }
  try {
    return { supported: true, snapshot: JSON.parse(new TextDecoder().decode(payload)) };
  } catch (error) {
    throw new ClientError(ClientErrorCode.PROTOCOL, `metrics: payload is not JSON: ${(error as Error).message}`);
  }
}
