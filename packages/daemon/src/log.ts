/**
 * The daemon log: an in-memory ring of recent lines served by LOG_DUMP (docs/wire.md §7.6:
 * newline-separated, the last line without its newline, at most 1 MiB), plus stderr in
 * foreground (-D) mode.
 *
 * Line format follows sanlock's log.c: "YYYY-MM-DD HH:MM:SS <monotonic s> [<pid>]: <text>".
 * Lines are cut at 510 characters (sanlock's LOG_STR_LEN 512 minus "\n\0").
 */

import { write, writeSync } from "node:fs";

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

/** Sinks with lines not yet written; the one process "exit" listener writes them. */
const unwrittenSinks = new Set<AsyncFdSink>();
let exitListenerInstalled = false;

function writeUnwrittenAtExit(): void {
  for (const sink of unwrittenSinks) sink.writeQueuedNow();
}

/** Lines queued for stderr beyond this many bytes are dropped (and counted) until it is read again. */
export const MAX_QUEUED_STDERR_BYTES = 1024 * 1024;
/** A write that found a non-blocking descriptor full is tried again after this long. */
const RETRY_FULL_MS = 10;

/**
 * The sink of the process's stderr in foreground (-D) mode: lines are written by the thread
 * pool (fs.write), one write at a time, each carrying every line queued since the last. Why
 * not process.stderr: node writes to a pipe synchronously, so a reader that falls behind (the
 * journal, a parent busy elsewhere) stopped the main thread, and one write per line cost a
 * system call per Paxos step. Under 8 busy clients (bench --steps parallel, one run each) 433
 * cycles/s with a write per line, 532 with the daemon's stderr on /dev/null, 417-469 with this
 * sink (three runs; the disk's floor moves between runs). Lines keep their order; what is queued when
 * the process exits (process.exit, an uncaught exception) is written synchronously by an
 * "exit" listener. The queue is bounded (MAX_QUEUED_STDERR_BYTES): a stderr nobody reads costs
 * lines, counted in a note, never memory or the daemon; LOG_DUMP keeps them all. A caller's
 * own sink (the embedded daemon's) is not wrapped: it gets each line as it is logged.
 */
export class AsyncFdSink implements LogSink {
  private queued: string[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  private writing = false;
  private scheduled = false;
  /** The descriptor failed (closed reader, bad fd): nothing more is written. */
  private broken = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly fd: number,
    private readonly maxQueuedBytes = MAX_QUEUED_STDERR_BYTES,
  ) {
    if (!exitListenerInstalled) {
      exitListenerInstalled = true;
      process.on("exit", writeUnwrittenAtExit);
    }
  }

  write(line: string): void {
    if (this.broken) return;
    // Unwritten (queued lines or a drop count to report) from now on: the exit listener writes it.
    if (this.queued.length === 0 && this.dropped === 0) unwrittenSinks.add(this);
    if (this.queuedBytes + line.length > this.maxQueuedBytes) {
      // Counted and reported with the next write; scheduled here too, so that the note is
      // written even when nothing else is queued (a line longer than the whole bound).
      this.dropped++;
    } else {
      this.queued.push(line);
      this.queuedBytes += line.length;
    }
    // The first line of a turn schedules the write for the turn's end, so that the turn's lines share it.
    if (!this.writing && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.startWrite());
    }
  }

  /** Resolves once every line queued so far has been written (or dropped). */
  idle(): Promise<void> {
    if (!this.writing && !this.scheduled && this.queued.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** At exit: what is queued, written synchronously (a write still in the thread pool may land after it). */
  writeQueuedNow(): void {
    const text = this.takeQueued();
    if (text === "" || this.broken) return;
    try {
      writeSync(this.fd, text);
    } catch {
      // stderr is gone: nothing more can be said
    }
  }

  private takeQueued(): string {
    let text = this.queued.join("");
    if (this.dropped > 0) text += `sanlock-ts: ${this.dropped} log lines were not written to stderr (it was not read); LOG_DUMP has them\n`;
    this.queued = [];
    this.queuedBytes = 0;
    this.dropped = 0;
    unwrittenSinks.delete(this);
    return text;
  }

  private startWrite(): void {
    this.scheduled = false;
    if (this.writing) return;
    const text = this.takeQueued();
    if (text === "" || this.broken) {
      this.settle();
      return;
    }
    this.writing = true;
    this.writeFrom(Buffer.from(text), 0);
  }

  private writeFrom(bytes: Buffer, offset: number): void {
    write(this.fd, bytes, offset, bytes.length - offset, null, (error, written) => {
      if (error && (error as NodeJS.ErrnoException).code === "EAGAIN") {
        setTimeout(() => this.writeFrom(bytes, offset), RETRY_FULL_MS);
        return;
      }
      if (error) this.broken = true;
      else if (offset + written < bytes.length) {
        this.writeFrom(bytes, offset + written);
        return;
      }
      this.writing = false;
      if (this.queued.length > 0 || this.dropped > 0) this.startWrite();
      else this.settle();
    });
  }

  private settle(): void {
    if (this.writing || this.scheduled || this.queued.length > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

export class DaemonLog {
  /**
   * The ring: lines[head..] are kept, oldest first. Dropping advances head instead of
   * Array.shift (which copies the array: its cost grew with the ~10,000 lines a full 1 MiB
   * ring holds, 0.7 s of 13 s of main-thread time under 8 busy clients); the dropped prefix
   * is cut off once it is the larger half.
   */
  private lines: string[] = [];
  /** UTF-8 size of each line in `lines`, so that a line is measured once. */
  private sizes: number[] = [];
  private head = 0;
  /** Bytes of lines[head..] joined with "\n" separators. */
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
    const size = Buffer.byteLength(line);
    this.bytes += size + (this.lines.length > this.head ? 1 : 0);
    this.lines.push(line);
    this.sizes.push(size);
    // Drop the oldest lines until the dump fits its limit (the newest line always fits: ≤ 510 bytes).
    while (this.bytes > this.maxBytes && this.lines.length - this.head > 1) {
      this.bytes -= (this.sizes[this.head] ?? 0) + 1;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** The LOG_DUMP text: lines joined by "\n", no trailing newline, ≤ maxBytes. */
  dump(): Uint8Array {
    return new TextEncoder().encode(this.lines.slice(this.head).join("\n"));
  }
}
