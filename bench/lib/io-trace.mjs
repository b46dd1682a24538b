// Counts the disk I/Os a daemon issues on one lease file, with strace attached to the running
// daemon (all threads). Covers both I/O paths in use: libaio's io_submit (sanlock) and
// pread64/pwrite64/preadv/pwritev (libuv's thread pool in sanlock-ts).
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const TRACED_CALLS = "io_submit,pread64,pwrite64,preadv,pwritev,preadv2,pwritev2";
const ATTACH_TIMEOUT_MS = 10_000;
/** strace prints "attached" before the tracee runs on; give its threads a moment more. */
const ATTACH_SETTLE_MS = 200;
const MAX_TRACE_LINES = 2_000_000;

export const HAVE_STRACE = spawnSync("strace", ["-V"]).status === 0;

/**
 * Parses one strace line (from `strace -ttt -y`, one file per thread) into the I/Os it
 * issued on a file whose path contains `pathPart`: [{ t, kind: "read"|"write", bytes, offset }].
 * io_submit yields one I/O per iocb; a pread/pwrite counts its requested length.
 */
export function parseTraceLine(line, pathPart) {
  const m = /^(\d+\.\d+) (\w+)\((.*)$/.exec(line);
  if (!m) return [];
  const [, ts, call, rest] = m;
  const t = Number(ts);
  if (!rest.includes(pathPart)) return [];
  if (call === "io_submit") return parseIoSubmit(t, rest, pathPart);
  const firstArg = /^\d+<([^>]*)>/.exec(rest);
  if (!firstArg?.[1].includes(pathPart)) return [];
  const kind = call.startsWith("pread") ? "read" : call.startsWith("pwrite") ? "write" : null;
  if (kind === null) return [];
  if (call === "pread64" || call === "pwrite64") {
    // ..., COUNT, OFFSET) = RET — the buffer may hold any text, so read from the end.
    const tail = [...rest.matchAll(/, (\d+), (\d+)\)\s+= (-?\d+)/g)].at(-1);
    return [{ t, kind, bytes: tail ? Number(tail[1]) : NaN, offset: tail ? Number(tail[2]) : NaN }];
  }
  // preadv(fd, [iovecs], IOVCNT, OFFSET) = RET
  const ret = /, (\d+)\)\s+= (-?\d+)/.exec(rest.slice(-80));
  return [{ t, kind, bytes: ret && Number(ret[2]) >= 0 ? Number(ret[2]) : NaN, offset: ret ? Number(ret[1]) : NaN }];
}

function parseIoSubmit(t, rest, pathPart) {
  const ios = [];
  for (const iocb of rest.split("{aio_data=").slice(1)) {
    const op = /aio_lio_opcode=IOCB_CMD_(\w+)/.exec(iocb)?.[1];
    const file = /aio_fildes=\d+<([^>]*)>/.exec(iocb)?.[1];
    const bytes = /aio_nbytes=(\d+)/.exec(iocb)?.[1];
    const offset = /aio_offset=(\d+)/.exec(iocb)?.[1];
    if (!op || !file?.includes(pathPart)) continue;
    const kind = op.startsWith("PREAD") ? "read" : op.startsWith("PWRITE") ? "write" : null;
    if (kind) ios.push({ t, kind, bytes: bytes === undefined ? NaN : Number(bytes), offset: offset === undefined ? NaN : Number(offset) });
  }
  return ios;
}

/**
 * Attaches strace to `pid` (every thread, and threads created later), writing one file per
 * thread under `dir` (which must be empty of other "trace." files). Resolves once attached;
 * the returned stop() detaches and resolves with every I/O on files matching `pathPart`.
 */
export async function startTrace(pid, dir, pathPart) {
  if (!HAVE_STRACE) throw new Error("strace is not installed");
  const prefix = join(dir, "trace");
  const child = spawn("strace", ["-f", "-ff", "-ttt", "-y", "-s", "1", "-e", `trace=${TRACED_CALLS}`, "-o", prefix, "-p", String(pid)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strace did not attach to ${pid}: ${stderr.slice(0, 500)}`)), ATTACH_TIMEOUT_MS);
    child.stderr.on("data", (c) => {
      stderr += c.toString();
      if (/attached/.test(stderr)) {
        clearTimeout(timer);
        setTimeout(resolve, ATTACH_SETTLE_MS);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`strace exited with ${code}: ${stderr.slice(0, 500)}`));
    });
  });
  return {
    async stop() {
      child.kill("SIGINT");
      await exited;
      return readTrace(dir, pathPart);
    },
    kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

function readTrace(dir, pathPart) {
  const ios = [];
  let lines = 0;
  for (const name of readdirSync(dir).filter((n) => n.startsWith("trace."))) {
    for (const line of readFileSync(join(dir, name), "utf8").split("\n")) {
      if (++lines > MAX_TRACE_LINES) throw new Error(`trace has more than ${MAX_TRACE_LINES} lines`);
      ios.push(...parseTraceLine(line, pathPart));
    }
  }
  return ios.sort((a, b) => a.t - b.t);
}

/**
 * Splits I/Os by the worker's wall-clock marks [[op, t], ..., ["end", t]]: an I/O belongs to
 * the last mark at or before it (so I/O a daemon issues after replying still counts for the
 * operation that caused it). Returns per-op averages over the marks of that op.
 */
export function ioPerOperation(ios, marks) {
  const totals = new Map();
  for (const [op] of marks.slice(0, -1)) {
    const entry = totals.get(op) ?? { count: 0, reads: 0, readBytes: 0, writes: 0, writeBytes: 0 };
    entry.count += 1;
    totals.set(op, entry);
  }
  for (const io of ios) {
    let owner = -1;
    for (let i = 0; i < marks.length - 1 && marks[i][1] <= io.t; i++) owner = i;
    if (owner < 0 || io.t >= marks[marks.length - 1][1]) continue;
    const entry = totals.get(marks[owner][0]);
    if (io.kind === "read") {
      entry.reads += 1;
      entry.readBytes += io.bytes;
    } else {
      entry.writes += 1;
      entry.writeBytes += io.bytes;
    }
  }
  const perOp = {};
  for (const [op, e] of totals) {
    perOp[op] = { reads: e.reads / e.count, readBytes: e.readBytes / e.count, writes: e.writes / e.count, writeBytes: e.writeBytes / e.count };
  }
  return perOp;
}

/**
 * The rate, per minute, of I/Os that repeat at their own offset (lease renewals: each lockspace
 * reads its area and writes its host's sector every 2N+0.5 s), from each offset's own period:
 * (n - 1) I/Os over the time from its first to its last in the window, summed over offsets.
 * Counting the I/Os in the window instead is off by up to a whole round when the lockspaces
 * renew in step (joined together): a 20 s window holds 7, 8 or 9 rounds of 2.5 s.
 */
export function periodicIoPerMinute(ios) {
  const byOffset = new Map();
  for (const io of ios) {
    const key = `${io.kind}@${io.offset}`;
    const times = byOffset.get(key) ?? [];
    times.push(io.t);
    byOffset.set(key, times);
  }
  let perSecond = 0;
  for (const times of byOffset.values()) {
    if (times.length < 2) continue;
    times.sort((a, b) => a - b);
    const span = times.at(-1) - times[0];
    if (span > 0) perSecond += (times.length - 1) / span;
  }
  return perSecond * 60;
}

/**
 * How late each renewal came (docs/algorithms.md §2.3: a lockspace renews 2N + 0.5 s after its
 * last success at the earliest): for every offset written more than once (each lockspace's own
 * host sector), each gap between consecutive writes minus `periodSeconds`, in ms, sorted. A gap
 * is measured between the issue times the trace shows, so both daemons are timed alike.
 */
export function renewalLatenessMs(ios, periodSeconds) {
  const byOffset = new Map();
  for (const io of ios) {
    if (io.kind !== "write") continue;
    const times = byOffset.get(io.offset) ?? [];
    times.push(io.t);
    byOffset.set(io.offset, times);
  }
  const lateness = [];
  for (const times of byOffset.values()) {
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) lateness.push((times[i] - times[i - 1] - periodSeconds) * 1000);
  }
  return lateness.sort((a, b) => a - b);
}
