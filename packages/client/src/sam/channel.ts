// The supervisor ↔ instance channel (docs/sam.md §3): ASCII lines ending in "\n" over the
// socketpair the instance inherits as fd 3, so that a shell program can `echo HB >&3`.
// Every line has a length limit; a longer one closes the channel (a broken peer).

import type { Duplex } from "node:stream";

/** The channel's descriptor in every instance, and the variables that describe it. */
export const CHANNEL_FD = 3;
export const ENV_FD = "SANLOCK_TS_SAM_FD";
export const ENV_INSTANCE = "SANLOCK_TS_SAM_INSTANCE";
export const ENV_INTERVAL = "SANLOCK_TS_SAM_INTERVAL_MS";
export const ENV_SUPERVISOR_PID = "SANLOCK_TS_SAM_SUPERVISOR_PID";
export const SAM_ENV_NAMES: readonly string[] = [ENV_FD, ENV_INSTANCE, ENV_INTERVAL, ENV_SUPERVISOR_PID];

export const PROTOCOL_VERSION = 1;
/** "no value" in DATA and LEASES lines. */
export const NONE = "-";

/** Lines from the instance (docs/sam.md §3.2). */
export const Request = {
  START: "START",
  STOP: "STOP",
  STORE: "STORE",
  WARN: "WARN",
  LEASES: "LEASES",
  FINALIZE: "FINALIZE",
  HB: "HB",
  FAILED: "FAILED",
} as const;
export type RequestWord = (typeof Request)[keyof typeof Request];
/** The requests that get no reply (SAM's HB and MARK_FAILED). */
export const UNANSWERED: ReadonlySet<string> = new Set([Request.HB, Request.FAILED]);

/** The longest line a channel accepts: base64 of `maxDataBytes` plus the word. */
export function lineLimit(maxDataBytes: number): number {
  return Math.ceil(maxDataBytes / 3) * 4 + 64;
}

export function encodeData(data: Uint8Array | undefined): string {
  return data === undefined ? NONE : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

/** The bytes of a DATA/STORE value; undefined for "-"; null when it is not base64. */
export function decodeData(text: string): Uint8Array | undefined | null {
  if (text === NONE) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Splits a line into its word and the rest ("STORE abc=" → ["STORE", "abc="]). */
export function splitLine(line: string): [string, string] {
  const space = line.indexOf(" ");
  return space < 0 ? [line, ""] : [line.slice(0, space), line.slice(space + 1)];
}

/** Line framing on a stream: `onLine` per complete line, `onClose` once at EOF or error. */
export class LineChannel {
  private partial = "";
  private closed = false;

  constructor(
    private readonly stream: Duplex,
    private readonly maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onClose: (reason: string) => void,
  ) {
    stream.setEncoding("latin1");
    stream.on("data", (chunk: string) => this.onData(chunk));
    stream.on("end", () => this.close("end of file"));
    stream.on("close", () => this.close("closed"));
    stream.on("error", (err: Error) => this.close(err.message));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Writes one line; false when the channel is closed. */
  send(line: string): boolean {
    if (this.closed || line.includes("\n")) return false;
    this.stream.write(`${line}\n`);
    return true;
  }

  close(reason = "closed here"): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
    this.onClose(reason);
  }

  private onData(chunk: string): void {
    if (this.closed) return;
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop() ?? "";
    if (this.partial.length > this.maxLineBytes) {
      this.close(`a line longer than ${this.maxLineBytes} bytes`);
      return;
    }
    for (const line of lines) {
      if (this.closed) return;
      this.onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
    }
  }
}
