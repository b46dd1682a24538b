// Test helper (not a test): loads the socket exchanges recorded from the real
// sanlock 3.8.5 (test/vectors/wire-captures.json, described in docs/wire.md §12
// and test/vectors/README.md) as byte arrays, independently of the codec.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface CapturedWrite {
  direction: "C→D" | "D→C";
  /** Size of the write as it was recorded. */
  size: number;
  label: string;
  bytes: Uint8Array;
}

/** Writes of every docs/wire.md §12.x subsection, keyed by "12.3" etc. */
export type Captures = Map<string, CapturedWrite[]>;

const FIXTURE = fileURLToPath(new URL("../vectors/wire-captures.json", import.meta.url));

interface FixtureWrite {
  direction: CapturedWrite["direction"];
  size: number;
  label: string;
  hex: string[];
}
interface Fixture {
  sections: Record<string, { title: string; writes: FixtureWrite[] }>;
}

export function loadCaptures(): Captures {
  const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as Fixture;
  const captures: Captures = new Map();
  for (const [section, { writes }] of Object.entries(fixture.sections)) {
    captures.set(
      section,
      writes.map((w) => {
        const bytes = Uint8Array.from(Buffer.from(w.hex.join(""), "hex"));
        if (bytes.byteLength !== w.size) throw new Error(`wire-captures.json §${section} "${w.label}": ${bytes.byteLength} bytes, size says ${w.size}`);
        return { direction: w.direction, size: w.size, label: w.label, bytes };
      }),
    );
  }
  return captures;
}

/** The writes of one subsection, failing loudly if the fixture lacks it. */
export function capture(captures: Captures, section: string): CapturedWrite[] {
  const writes = captures.get(section);
  if (!writes) throw new Error(`test/vectors/wire-captures.json has no §${section}`);
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
