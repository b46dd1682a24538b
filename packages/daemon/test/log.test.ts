// The daemon log (log.ts): the LOG_DUMP ring keeps the newest lines within its byte limit, a
// caller's sink gets every line as it is logged, and the process's stderr in foreground mode
// is written by the thread pool: the lines of a turn in one write, in order, a bounded queue,
// and what is queued when the process exits still written.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { AsyncFdSink, DaemonLog, type LogSink } from "../src/log.js";
import { environmentSkip } from "../../../test/support/index.js";

const DIST_LOG = new URL("../dist/log.js", import.meta.url);
const PREFIX = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 7 \[\d+\]: /;

function recordingSink(): LogSink & { writes: string[] } {
  const writes: string[] = [];
  return { writes, write: (text: string) => void writes.push(text) };
}

const textOf = (log: DaemonLog): string => new TextDecoder().decode(log.dump());

t.test("the dump keeps the newest lines within its limit, across many drops", async (t) => {
  const maxBytes = 4096;
  const log = new DaemonLog({ monotonicSeconds: () => 7, maxBytes });
  const texts: string[] = [];
  // Enough lines that the dropped prefix is cut off several times (it is once it passes 1,024).
  for (let i = 0; i < 20_000; i++) {
    const text = `line ${i} ${"é".repeat(i % 7)}`; // multi-byte characters: the limit is in bytes
    texts.push(text);
    log.info(text);
  }
  const dump = log.dump();
  t.ok(dump.length <= maxBytes, `dump ${dump.length} bytes ≤ ${maxBytes}`);
  const lines = textOf(log).split("\n");
  t.ok(
    lines.every((line) => PREFIX.test(line)),
    "every line is whole, with sanlock's prefix",
  );
  const kept = lines.map((line) => line.replace(PREFIX, ""));
  t.same(kept, texts.slice(texts.length - kept.length), "the newest lines, oldest first");
  // One more line of the same size would not fit: the ring drops only what it must.
  const nextOlder = `${lines[0]?.match(PREFIX)?.[0]}${texts[texts.length - kept.length - 1]}`;
  t.ok(dump.length + Buffer.byteLength(nextOlder) + 1 > maxBytes, "the next older line would not have fit");
});

t.test("a caller's sink gets each line as it is logged", async (t) => {
  const sink = recordingSink();
  const log = new DaemonLog({ monotonicSeconds: () => 7, stderr: sink });
  log.error("first");
  t.equal(sink.writes.length, 1, "written before add returns");
  log.warn("second\nwith a newline");
  t.match(sink.writes, [/: first\n$/, /: second with a newline\n$/]);
});

function tempFd(t: Test): { fd: number; text: () => string } {
  const dir = mkdtempSync("/var/tmp/sanlock-ts-log-");
  const path = join(dir, "stderr");
  const fd = openSync(path, "w");
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  return { fd, text: () => readFileSync(path, "utf8") };
}

t.test("the fd sink writes a turn's lines together, in order, off the main thread", async (t) => {
  const file = tempFd(t);
  const sink = new AsyncFdSink(file.fd);
  sink.write("a\n");
  sink.write("b\n");
  t.equal(file.text(), "", "nothing is written within the turn");
  await sink.idle();
  sink.write("c\n");
  await sink.idle();
  t.equal(file.text(), "a\nb\nc\n");
  for (let i = 0; i < 1000; i++) sink.write(`line ${i}\n`);
  await sink.idle();
  t.equal(file.text(), `a\nb\nc\n${Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join("")}`, "a thousand more, in order");
});

t.test("the fd sink's queue is bounded: what does not fit is dropped and counted", async (t) => {
  const file = tempFd(t);
  const sink = new AsyncFdSink(file.fd, 20);
  for (let i = 0; i < 10; i++) sink.write(`line ${i}\n`); // 7 bytes each: 2 fit
  await sink.idle();
  t.equal(file.text(), "line 0\nline 1\nsanlock-ts: 8 log lines were not written to stderr (it was not read); LOG_DUMP has them\n");
  sink.write("after\n");
  await sink.idle();
  t.match(file.text(), /LOG_DUMP has them\nafter\n$/, "writing goes on once there is room");
});

t.test("a line longer than the fd sink's whole bound is reported as dropped, with nothing else queued", async (t) => {
  const file = tempFd(t);
  const sink = new AsyncFdSink(file.fd, 10);
  sink.write(`${"x".repeat(11)}\n`);
  await sink.idle();
  t.equal(file.text(), "sanlock-ts: 1 log lines were not written to stderr (it was not read); LOG_DUMP has them\n");
});

t.test("the fd sink stops at a descriptor that fails, without throwing", async (t) => {
  const dir = mkdtempSync("/var/tmp/sanlock-ts-log-");
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "read-only");
  closeSync(openSync(path, "w"));
  const fd = openSync(path, "r"); // writes fail with EBADF
  t.teardown(() => closeSync(fd));
  const sink = new AsyncFdSink(fd);
  sink.write("lost\n");
  await sink.idle();
  sink.write("also lost\n");
  await sink.idle();
  t.pass("no exception, and idle() still resolves");
});

t.test(
  "lines queued when the process exits are written",
  { skip: environmentSkip(!existsSync(DIST_LOG) && "packages/daemon/dist is not built (run pnpm build)") },
  async (t) => {
    for (const [how, ending] of [
      ["process.exit", "process.exit(3);"],
      ["an uncaught exception", "throw new Error('boom');"],
    ] as const) {
      const script = `import { AsyncFdSink } from ${JSON.stringify(DIST_LOG.href)};
const sink = new AsyncFdSink(2);
sink.write("last line 1\\n");
sink.write("last line 2\\n");
${ending}`;
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
      t.not(run.status, 0, `${how}: the process failed`);
      t.match(run.stderr, /last line 1\nlast line 2\n/, `${how}: both lines were written, in order`);
    }
    // Only a drop to report: the line did not fit the bound, and the note is all that is owed.
    const script = `import { AsyncFdSink } from ${JSON.stringify(DIST_LOG.href)};
const sink = new AsyncFdSink(2, 8);
sink.write("longer than eight bytes\\n");
process.exit(3);`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    t.match(run.stderr, /^sanlock-ts: 1 log lines were not written to stderr/, "a drop alone is reported at exit");
  },
);
