/**
 * The daemon log: an in-memory ring of recent lines served by LOG_DUMP (docs/wire.md §7.6:
 * newline-separated, the last line without its newline, at most 1 MiB), plus stderr in
 * foreground (-D) mode.
 *
 * Line format follows sanlock's log.c: "YYYY-MM-DD HH:MM:SS <monotonic s> [<pid>]: <text>".
 * Lines are cut at 510 characters (sanlock's LOG_STR_LEN 512 minus "\n\0").
 */

/** LOG_DUMP returns at most this many bytes (docs/wire.md §3 "Maximum sizes"). */
export const LOG_DUMP_MAX_BYTES = 1024 * 1024;
/** Longest line kept, as sanlock's 512-byte line buffer. */
export const LOG_LINE_MAX = 510;

/** syslog priorities used by sanlock (LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7). */
export const LogLevel = { ERROR: 3, WARNING: 4, INFO: 6, DEBUG: 7 } as const;
export type LogLevelValue = (typeof LogLevel)[keyof typeof LogLevel];

export interface LogSink {
  write(line: string): void;
}

export interface DaemonLogOptions {
  /** Seconds of the monotonic clock, as logged by sanlock. */
  readonly monotonicSeconds: () => number;
  /** In foreground mode every line also goes here (sanlock -D prints all logging to stderr). */
  readonly stderr?: LogSink;
  readonly maxBytes?: number;
}

function pad2(value: number): string {
  return String(value).padStart(2, "0");
}

function wallClock(now: Date): string {
  return (
    `${now.getFullYear()}-${pad2(now.getMonth() + 1)}-${pad2(now.getDate())} ` + `${pad2(now.getHours())}:${pad2(now.getMinutes())}:${pad2(now.getSeconds())}`
  );
}

export class DaemonLog {
  private readonly lines: string[] = [];
  /** Bytes of `lines` joined with "\n" separators. */
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(private readonly options: DaemonLogOptions) {
    this.maxBytes = options.maxBytes ?? LOG_DUMP_MAX_BYTES;
  }

  error(text: string): void {
    this.add(LogLevel.ERROR, text);
  }
  warn(text: string): void {
    this.add(LogLevel.WARNING, text);
  }
  info(text: string): void {
    this.add(LogLevel.INFO, text);
  }
  debug(text: string): void {
    this.add(LogLevel.DEBUG, text);
  }

  /** Appends one line; every level is kept in memory, like sanlock's debug buffer. */
  add(_level: LogLevelValue, text: string): void {
    const prefix = `${wallClock(new Date())} ${Math.floor(this.options.monotonicSeconds())} [${process.pid}]: `;
    const line = (prefix + text.replace(/\n/g, " ")).slice(0, LOG_LINE_MAX);
    this.options.stderr?.write(`${line}\n`);
    this.push(line);
  }

  private push(line: string): void {
    const size = Buffer.byteLength(line) + (this.lines.length > 0 ? 1 : 0);
    this.lines.push(line);
    this.bytes += size;
    // Drop the oldest lines until the dump fits its limit (the newest line always fits: ≤ 510 bytes).
    while (this.bytes > this.maxBytes && this.lines.length > 1) {
      const oldest = this.lines.shift() ?? "";
      this.bytes -= Buffer.byteLength(oldest) + 1;
    }
  }

  /** The LOG_DUMP text: lines joined by "\n", no trailing newline, ≤ maxBytes. */
  dump(): Uint8Array {
    return new TextEncoder().encode(this.lines.join("\n"));
  }
}
