// The readable record of a simulated run: who read or wrote what, when (true time and the host's
// own clock), and what each host did. A bounded window of recent lines is kept for failure reports;
// every line also feeds a running digest so that two runs can be compared for determinism cheaply.

export interface TraceOptions {
  /** Keep at most this many most recent lines (older ones only count toward the digest). */
  readonly keepLines: number;
  /** Called with every line as it is written (e.g. to stream a full trace). */
  readonly sink?: (line: string) => void;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class Trace {
  private readonly lines: string[] = [];
  private digestState = FNV_OFFSET;
  private count = 0;

  constructor(private readonly options: TraceOptions) {
    if (!(options.keepLines >= 0)) throw new RangeError("keepLines must be >= 0");
  }

  /** Appends one line: `t=<true time> <who> <text>`. */
  log(trueTime: number, who: string, text: string): void {
    const line = `t=${trueTime.toFixed(4).padStart(10)} ${who.padEnd(8)} ${text}`;
    this.count++;
    for (let i = 0; i < line.length; i++) {
      this.digestState = Math.imul(this.digestState ^ line.charCodeAt(i), FNV_PRIME);
    }
    this.digestState = Math.imul(this.digestState ^ 10, FNV_PRIME);
    if (this.options.keepLines > 0) {
      this.lines.push(line);
      if (this.lines.length > this.options.keepLines) this.lines.splice(0, this.lines.length - this.options.keepLines);
    }
    this.options.sink?.(line);
  }

  /** FNV-1a over every line logged so far, as 8 hex digits. */
  digest(): string {
    return (this.digestState >>> 0).toString(16).padStart(8, "0");
  }

  get totalLines(): number {
    return this.count;
  }

  /** The most recent lines still kept (oldest first). */
  recent(max = this.options.keepLines): string[] {
    return this.lines.slice(Math.max(0, this.lines.length - max));
  }
}
