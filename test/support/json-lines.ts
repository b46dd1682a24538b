/**
 * JSON lines a child process writes (supervise --json events, SAM scripts), collected as they
 * arrive. Lines that are not JSON objects are kept only in the text. Both are bounded, so a
 * runaway child cannot exhaust the test's memory.
 */
import type { Readable } from "node:stream";

export interface JsonLines<T> {
  /** The objects so far, in order. */
  readonly items: T[];
  /** Everything the stream carried so far (up to `maxTextChars`), for a failure message. */
  text(): string;
}

export function collectJsonLines<T>(stream: Readable, maxItems = 10_000, maxTextChars = 200_000): JsonLines<T> {
  const items: T[] = [];
  let text = "";
  let partial = "";
  stream.on("data", (chunk: Buffer) => {
    const s = chunk.toString();
    if (text.length < maxTextChars) text += s;
    const lines = (partial + s).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{") || items.length >= maxItems) continue;
      try {
        items.push(JSON.parse(line) as T);
      } catch {
        // a line that only looks like JSON stays in the text
      }
    }
  });
  return { items, text: () => text };
}

/** Whether a process with this pid exists (signal 0: no signal is sent). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
