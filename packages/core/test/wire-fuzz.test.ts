// Time-boxed fuzz test (~5 s): random and mutated streams fed in random
// chunks to every reader side. Asserts the readers never throw, only emit
// typed WireErrors, and never hold more than one message's worth of bytes.
// Inputs derive from FUZZ_SEED and the iteration number, so a failure report
// "seed S iteration I" reproduces exactly (set FUZZ_SEED=S).
import t from "tap";
import { Cmd, MAX_MESSAGE_SIZE, MessageReader, WireError, type CmdNumber, type ReaderSide } from "../src/wire/index.js";
import { capture, loadCaptures, stream } from "../../../test/support/wire-captures.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed1234) >>> 0;
const TIME_BOX_MS = 5000;
const MAX_ITERATIONS = 1_000_000;

/** mulberry32: small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const captures = loadCaptures();
const SECTIONS = ["12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8", "12.9", "12.10", "12.11", "12.12", "12.13", "12.14", "12.15"];
const REQUEST_CORPUS = SECTIONS.map((s) => stream(capture(captures, s), "C→D")).filter((b) => b.byteLength > 0);
const REPLY_CORPUS: [CmdNumber[], Uint8Array][] = [
  [[Cmd.ADD_LOCKSPACE], stream(capture(captures, "12.2"), "D→C")],
  [[Cmd.INQUIRE], stream(capture(captures, "12.5"), "D→C")],
  [[Cmd.GET_HOSTS, Cmd.GET_HOSTS], stream(capture(captures, "12.6"), "D→C")],
  [[Cmd.GET_LOCKSPACES], stream(capture(captures, "12.7"), "D→C")],
  [[Cmd.STATUS], stream(capture(captures, "12.10"), "D→C")],
  [[Cmd.HOST_STATUS], stream(capture(captures, "12.11"), "D→C")],
  [[Cmd.LOOKUP_RINDEX], stream(capture(captures, "12.15"), "D→C")],
];
const EVENT_RECORD = capture(captures, "12.13")[8]!.bytes;

function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  const out = input.slice();
  const edits = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < edits && out.byteLength > 0; i++) {
    const at = Math.floor(rand() * out.byteLength);
    const kind = rand();
    if (kind < 0.5) out[at] = Math.floor(rand() * 256);
    else if (kind < 0.8 && at + 4 <= out.byteLength) {
      // a whole u32 field set to an interesting value (counts, lengths, str_len, num_disks)
      const values = [0, 1, 5, 9, 0x7fffffff, 0xffffffff, 4097, 0x100000, Math.floor(rand() * 0xffffffff)];
      new DataView(out.buffer).setUint32(at & ~3, values[Math.floor(rand() * values.length)]!, true);
    } else {
      return out.subarray(0, at); // truncate
    }
  }
  return out;
}

function randomBytes(rand: () => number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(rand() * 256);
  // Often start with the magic so the reader gets past the first check.
  if (size >= 4 && rand() < 0.7) out.set([0x10, 0x20, 0x28, 0x04], 0);
  return out;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

interface Case {
  side: ReaderSide;
  expect: CmdNumber[];
  input: Uint8Array;
}

function makeCase(rand: () => number): Case {
  const side = pick(rand, ["daemon", "client", "event"] as const);
  if (rand() < 0.25) {
    const expect = side === "client" ? [pick(rand, Object.values(Cmd))] : [];
    return { side, expect, input: randomBytes(rand, Math.floor(rand() * 3000)) };
  }
  if (side === "daemon") {
    const parts = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(rand, REQUEST_CORPUS));
    return { side, expect: [], input: mutate(rand, Uint8Array.from(parts.flatMap((p) => [...p]))) };
  }
  if (side === "client") {
    const [expect, bytes] = pick(rand, REPLY_CORPUS);
    return { side, expect, input: mutate(rand, bytes) };
  }
  return { side, expect: [], input: mutate(rand, Uint8Array.from([...EVENT_RECORD, ...EVENT_RECORD])) };
}

/** Runs one case; returns a problem description or null. */
function runCase(rand: () => number, c: Case): string | null {
  const reader = new MessageReader({ side: c.side });
  for (const cmd of c.expect) reader.expectReply(cmd);
  let at = 0;
  while (at < c.input.byteLength) {
    const size = 1 + Math.floor(rand() * Math.min(2048, c.input.byteLength - at));
    const events = reader.push(c.input.subarray(at, at + size));
    at += size;
    for (const e of events) if (e.type === "error" && !(e.error instanceof WireError)) return "untyped error";
    if (reader.buffered > MAX_MESSAGE_SIZE) return `buffered ${reader.buffered} bytes`;
  }
  for (const e of reader.end()) if (e.type === "error" && !(e.error instanceof WireError)) return "untyped error at end";
  return null;
}

t.test(`fuzz readers for ${TIME_BOX_MS} ms (seed 0x${SEED.toString(16)})`, (t) => {
  const deadline = Date.now() + TIME_BOX_MS;
  let iterations = 0;
  let failure: string | null = null;
  for (; iterations < MAX_ITERATIONS && Date.now() < deadline; iterations++) {
    const rand = prng((SEED ^ Math.imul(iterations, 0x9e3779b1)) >>> 0);
    const c = makeCase(rand);
    try {
      const problem = runCase(rand, c);
      if (problem) failure = `seed ${SEED} iteration ${iterations} (${c.side}): ${problem}`;
    } catch (err) {
      failure = `seed ${SEED} iteration ${iterations} (${c.side}): threw ${String(err)}`;
    }
    if (failure) break;
  }
  t.equal(failure, null, failure ?? `${iterations} cases without a throw or unbounded buffering`);
  t.ok(iterations > 100, `ran ${iterations} cases`);
  t.end();
});
