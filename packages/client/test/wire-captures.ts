// Test helper (not a test): parses the captured exchanges of spec/wire.md §12
// into byte arrays, independently of the codec. Each "C→D"/"D→C" line starts a
// write; hexdump lines ("0010: 20 00 ...", "*" = repeat the previous line up
// to the next offset) or a quoted text with "\0" give its bytes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface CapturedWrite {
  direction: "C→D" | "D→C";
  /** Size announced on the write's line. */
  size: number;
  label: string;
  bytes: Uint8Array;
}

/** Writes of every §12.x subsection, keyed by "12.3" etc. */
export type Captures = Map<string, CapturedWrite[]>;

const SPEC = fileURLToPath(new URL("../../../../shared/spec/wire.md", import.meta.url));

export function loadCaptures(): Captures {
  const text = readFileSync(SPEC, "utf8");
  const start = text.indexOf("## 12. Captured exchanges");
  const end = text.indexOf("## 13.");
  if (start < 0 || end < 0) throw new Error("spec/wire.md: §12 not found");
  return parseSection(text.slice(start, end).split("\n"));
}

function parseSection(lines: string[]): Captures {
  const captures: Captures = new Map();
  let writes: CapturedWrite[] | null = null;
  let current: { write: Omit<CapturedWrite, "bytes">; dump: DumpBuilder } | null = null;
  const flush = (): void => {
    if (current && writes) writes.push({ ...current.write, bytes: current.dump.finish() });
    current = null;
  };
  for (const line of lines) {
    const heading = /^### (12\.\d+) /.exec(line);
    if (heading?.[1]) {
      flush();
      writes = [];
      captures.set(heading[1], writes);
      continue;
    }
    const write = /^(C→D|D→C)\s+(\d+) bytes?\s+(.*)$/.exec(line);
    if (write) {
      flush();
      const [, direction, size, label] = write;
      const entry = { direction: direction as CapturedWrite["direction"], size: Number(size), label: label ?? "" };
      const quoted = /"(.*)"\s*$/.exec(label ?? "");
      if (quoted?.[1] !== undefined && writes) {
        writes.push({ ...entry, bytes: new TextEncoder().encode(quoted[1].replace(/\\0/g, "\0")) });
      } else {
        current = { write: entry, dump: new DumpBuilder() };
      }
      continue;
    }
    if (current && /^\s+\*\s*$/.test(line)) {
      current.dump.repeat();
      continue;
    }
    const dump = /^\s+([0-9a-f]{4}):((?: [0-9a-f]{2})+)/.exec(line);
    if (current && dump?.[1] && dump[2]) {
      current.dump.line(parseInt(dump[1], 16), dump[2].trim().split(" ").map((h) => parseInt(h, 16)));
      continue;
    }
    if (current && line.trim() !== "") flush();
  }
  flush();
  return captures;
}

class DumpBuilder {
  private readonly bytes: number[] = [];
  private last: number[] = [];
  private repeating = false;

  line(offset: number, values: number[]): void {
    if (this.repeating) {
      while (this.bytes.length < offset) this.bytes.push(...this.last);
      this.repeating = false;
    }
    if (this.bytes.length !== offset) throw new Error(`hexdump offset ${offset} after ${this.bytes.length} bytes`);
    this.bytes.push(...values);
    this.last = values;
  }

  repeat(): void {
    this.repeating = true;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** The writes of one subsection, failing loudly if the spec lacks it. */
export function capture(captures: Captures, section: string): CapturedWrite[] {
  const writes = captures.get(section);
  if (!writes) throw new Error(`spec/wire.md §${section} has no captures`);
  return writes;
}

/** Concatenation of the writes in one direction (the stream as the peer reads it). */
export function stream(writes: CapturedWrite[], direction: CapturedWrite["direction"]): Uint8Array {
  const parts = writes.filter((w) => w.direction === direction).map((w) => w.bytes);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
