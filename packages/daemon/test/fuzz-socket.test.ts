/**
 * Bad input, at scale (issue 14 item 6): many concurrent connections send random and mutated
 * messages to a running sanlock-ts daemon (a separate process) over its real socket, while a
 * python3-sanlock client holds a lease in a joined lockspace.
 *
 * Inputs come from fuzz-gen.ts: valid requests built by the client's wire encoders and then
 * mutated (lengths, commands, magic, counts such as num_disks / resource counts / max_resources,
 * truncation, bit flips, garbage or more messages after them), plus pure random bytes; they are
 * delivered whole, in random chunks, byte by byte, or cut off by closing mid-message.
 *
 * What bounds a bad connection: the daemon, like sanlock 3.8.5, waits for the rest of a partial
 * message without a timeout (sanlock blocks in recv(MSG_WAITALL); ours waits without blocking
 * anything else), and keeps a connection open after a header it drops (bad magic, unknown
 * command: docs/wire.md §5.4). What it must do is finish once the peer has said everything: after
 * our shutdown(SHUT_WR) every connection is closed by the daemon within BOUND_MS (the
 * queued requests, each a few disk I/Os, are handled first). A connection whose first framed
 * message earns a reply (docs/wire.md §5.4: a request with a reply, a payload rejected with a
 * result, a payload cut short → −ENOTCONN) must get that reply, with its command, first.
 *
 * Afterwards: the daemon process is alive and answers; the lease is still held (inquire,
 * read_resource_owners, the on-disk leader still names host 1 with a non-zero timestamp and the
 * lver it had); the lockspace kept renewing (our delta record's timestamp advanced during the
 * run and advances again after it); no handler threw.
 *
 * CI runs FUZZ_SECONDS=15 (default) with FUZZ_CONNECTIONS=24 concurrent connections. A long run:
 *   FUZZ_SECONDS=600 FUZZ_SEED=12345 npx tap --disable-coverage -t 900 packages/daemon/test/fuzz-socket.test.ts
 * The seed is printed; FUZZ_SEED=<seed> replays a run, FUZZ_CASE=<case seed> one failing case.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import type { Test } from "tap";
import t from "tap";
import { Cmd, HEADER_SIZE, WIRE_MAGIC, buildRequest, decodeHeader, hasReply } from "@sanlock-ts/client";
import { ZeroScanner } from "@sanlock-ts/core";
import {
  daemonSkipReason,
  environmentSkip,
  HAVE_REAL_SANLOCK,
  OUR_CLI,
  python,
  readDeltaRecord,
  readResourceLeader,
  sleep,
  sparseFile,
  spawnPython,
  tempLeaseDir,
  TEST_DAEMON_ARGS,
  waitForLine,
} from "../../../test/support/index.js";
import { caseSeed, frame, makeCase, type FuzzCase, type FuzzTargets } from "./fuzz-gen.js";

const SECONDS = Number(process.env["FUZZ_SECONDS"] ?? 15);
const CONNECTIONS = Number(process.env["FUZZ_CONNECTIONS"] ?? 24);
const SEED = process.env["FUZZ_SEED"] !== undefined ? Number(process.env["FUZZ_SEED"]) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const ONE_CASE = process.env["FUZZ_CASE"] !== undefined ? Number(process.env["FUZZ_CASE"]) >>> 0 : undefined;
/** After our SHUT_WR, the daemon closes within this (a hang is "never"; this is far above any I/O). */
const BOUND_MS = 30_000;
const LS = "FUZZLS";
const RES = "FUZZRES";
const MB = 1048576;
/**
 * The lockspace's io_timeout: renewals every 2 × 3 s, failure only after 8 × 3 s without one, so
 * a loaded 2-CPU machine cannot fail the lockspace by starving the renewal thread (with 1 s, a
 * starved renewal thread for 8 s would end the lockspace: a timing failure, not a fuzz finding).
 */
const IO_TIMEOUT = 3;

/** Log lines that mean a handler threw or the framing failed internally: bugs, even if the daemon lives on. */
const THREW = / ci \d+ failed: |internal decode failure/;
/** Log lines about the daemon or a lockspace ending, kept whole for the report when the daemon exits. */
const NOTABLE = /shutdown|exiting|removed|renewal|lockspace .* fail|signal/i;

interface FuzzedDaemon {
  readonly runDir: string;
  readonly socketPath: string;
  readonly running: boolean;
  /** How the process ended ("" while running). */
  readonly exitStatus: string;
  /** Log lines matching NOTABLE (the first 50). */
  readonly notable: string[];
  /** Every log line matching THREW (the first 50), and the last 8 KB of the log. */
  readonly threw: string[];
  tail(): string;
}

/**
 * Our daemon as a process of its own (`sanlock-ts daemon -D -w 0`), so a crash shows as an exit.
 * Its whole log is scanned as it streams (a capture bounded from the start would miss late lines).
 */
async function startFuzzedDaemon(t: Test, dir: string): Promise<FuzzedDaemon> {
  const runDir = mkdtempSync(join(dir, "run-"));
  const child = spawn(process.execPath, [OUR_CLI, "daemon", ...TEST_DAEMON_ARGS], {
    env: { ...process.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let exited = false;
  let exitStatus = "";
  const gone = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = true;
      exitStatus = `code ${code} signal ${signal}`;
      resolve();
    }),
  );
  t.teardown(async () => {
    if (!exited) {
      child.kill("SIGKILL");
      await gone;
    }
  });
  const threw: string[] = [];
  const notable: string[] = [];
  let tail = "";
  let partial = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (THREW.test(line) && threw.length < 50) threw.push(line.slice(0, 600));
      if (NOTABLE.test(line) && notable.length < 50) notable.push(line.slice(0, 600));
    }
    tail = (tail + chunk.toString()).slice(-8192);
  });
  const socketPath = join(runDir, "sanlock.sock");
  for (let i = 0; !existsSync(socketPath); i++) {
    if (exited || i > 200) throw new Error(`the daemon did not start: ${tail}`);
    await sleep(100);
  }
  return {
    runDir,
    socketPath,
    threw,
    notable,
    tail: () => tail,
    get running() {
      return !exited;
    },
    get exitStatus() {
      return exitStatus;
    },
  };
}

interface Outcome {
  readonly received: Uint8Array;
  /** The daemon closed (FIN or reset) before the bound. */
  readonly closed: boolean;
  /** We still waited at the bound: the connection hung. */
  readonly hung: boolean;
  /**
   * A write of ours failed (EPIPE/ECONNRESET: the daemon had closed, as class A commands do
   * after their reply). Node then discards what was still unread, the reply included.
   */
  readonly errored: boolean;
}

/** Opens a connection, delivers the case's bytes, half-closes (unless aborting) and waits for the daemon to close. */
function runCase(socketPath: string, c: FuzzCase): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket: Socket = createConnection(socketPath);
    const chunks: Buffer[] = [];
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let errored = false;
    const finish = (closed: boolean, hung: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: new Uint8Array(Buffer.concat(chunks)), closed, hung, errored });
    };
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => finish(true, false));
    socket.on("error", () => {
      errored = true;
      finish(true, false);
    });
    socket.on("close", () => finish(true, false));
    const write = (bytes: Uint8Array): Promise<void> =>
      new Promise((ok) => {
        if (done || socket.destroyed || bytes.length === 0) return ok();
        socket.write(bytes, () => ok());
      });
    const deliver = async (): Promise<void> => {
      const d = c.delivery;
      const bytes = c.bytes;
      if (d.kind === "whole") {
        await write(bytes);
      } else if (d.kind === "chunks") {
        let at = 0;
        for (const n of d.sizes) {
          await write(bytes.subarray(at, at + n));
          at += n;
          if (d.pauseMs > 0) await sleep(d.pauseMs);
        }
      } else if (d.kind === "slow") {
        for (let i = 0; i < d.slowBytes; i++) {
          await write(bytes.subarray(i, i + 1));
          await sleep(d.pauseMs);
        }
        await write(bytes.subarray(d.slowBytes));
      } else {
        await write(bytes.subarray(0, d.cut));
        return finish(false, false);
      }
      if (done) return;
      socket.end();
      timer = setTimeout(() => finish(false, true), BOUND_MS);
    };
    socket.once("connect", () => void deliver());
  });
}

/** The reply the first framed message must earn, or null when none is due (docs/wire.md §5.4). */
function expectedFirstReply(c: FuzzCase): number | null {
  if (c.delivery.kind === "abort") return null;
  const first = frame(c.bytes, true)[0];
  if (first === undefined) return null;
  if (first.type === "request") return hasReply(first.request.cmd) ? first.request.cmd : null;
  if (first.type === "error" && first.header !== null && first.error.result !== undefined) return first.header.cmd;
  return null;
}

/** One VERSION request on a fresh connection: the reply's data2 (the daemon's version), or null if none came within the bound. */
function version(socketPath: string): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    let got = Buffer.alloc(0);
    const finish = (value: number | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), BOUND_MS);
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= HEADER_SIZE) finish(decodeHeader(new Uint8Array(got.subarray(0, HEADER_SIZE))).data2);
    });
    socket.on("error", () => finish(null));
    socket.write(buildRequest(Cmd.VERSION, {}).bytes);
  });
}

function describe(c: FuzzCase): string {
  const head = Buffer.from(c.bytes.subarray(0, 64)).toString("hex");
  return `case seed ${c.seed} (FUZZ_CASE=${c.seed}): ${c.recipe.join(", ")}; ${c.bytes.length} bytes, delivery ${JSON.stringify(c.delivery).slice(0, 120)}; first bytes ${head}`;
}

t.test(
  "socket fuzz: the daemon survives, answers or closes every connection, the held lease stays held",
  {
    skip: daemonSkipReason(["sanlock-ts"]) || environmentSkip(!HAVE_REAL_SANLOCK && "python3-sanlock not installed"),
    timeout: (SECONDS + 180) * 1000,
  },
  async (t) => {
    t.comment(`fuzz seed ${SEED} (FUZZ_SEED=${SEED}), ${SECONDS} s, ${CONNECTIONS} connections`);
    const dir = tempLeaseDir(t, "slts-fuzz-");
    const daemon = await startFuzzedDaemon(t, dir);
    const lsFile = sparseFile(dir, "lockspace", MB);
    const resFile = sparseFile(dir, "resource", MB);
    const scratch = sparseFile(dir, "scratch", 2 * MB);
    const zero = sparseFile(dir, "zero", MB);
    const ready = await python(
      daemon.runDir,
      `
import sanlock
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=${IO_TIMEOUT})
sanlock.write_resource(b"${LS}", b"${RES}", [("${resFile}", 0)])
sanlock.add_lockspace(b"${LS}", 1, "${lsFile}", iotimeout=${IO_TIMEOUT})
print("ready")
`,
    );
    t.equal(ready.stdout.trim(), "ready", ready.stderr);
    const holder = spawnPython(
      t,
      daemon.runDir,
      `
import sys, sanlock
fd = sanlock.register()
sanlock.acquire(b"${LS}", b"${RES}", [("${resFile}", 0)], slkfd=fd)
print("acquired", flush=True)
sys.stdin.readline()
`,
    );
    await waitForLine(holder, "acquired");
    const leaderBefore = await readResourceLeader(resFile);
    const deltaBefore = (await readDeltaRecord(lsFile, 1)).leader;
    t.equal(leaderBefore.ownerId, 1, "host 1 owns the resource before the fuzz");

    const targets: FuzzTargets = {
      lockspace: LS,
      resource: RES,
      protectedPaths: [lsFile, resFile],
      scratchPath: scratch,
      zeroPath: zero,
      holderPid: holder.pid ?? -2,
    };
    const socketPath = daemon.socketPath;
    const failures: string[] = [];
    const stats = { cases: 0, bytes: 0, replies: 0, hung: 0, aborted: 0, probes: 0, slowestProbeMs: 0 };
    const deadline = Date.now() + SECONDS * 1000;
    let next = 0;

    const check = async (c: FuzzCase): Promise<void> => {
      const outcome = await runCase(socketPath, c);
      stats.cases++;
      stats.bytes += c.bytes.length;
      if (c.delivery.kind === "abort") stats.aborted++;
      if (outcome.hung) {
        stats.hung++;
        failures.push(`no reply-or-close within ${BOUND_MS} ms after SHUT_WR: ${describe(c)}; received ${outcome.received.length} bytes`);
        return;
      }
      const want = expectedFirstReply(c);
      if (want === null || (outcome.errored && outcome.received.length === 0)) return;
      const reply = outcome.received.length >= HEADER_SIZE ? decodeHeader(outcome.received.subarray(0, HEADER_SIZE)) : null;
      if (reply === null || reply.magic !== WIRE_MAGIC || reply.cmd !== want) {
        failures.push(
          `expected a reply to cmd ${want} first, got ${reply === null ? `${outcome.received.length} bytes` : `cmd ${reply.cmd} result ${reply.data}`}: ${describe(c)}`,
        );
      } else {
        stats.replies++;
      }
    };

    if (ONE_CASE !== undefined) {
      const c = makeCase(ONE_CASE, targets);
      t.comment(describe(c));
      await check(c);
    } else {
      const worker = async (): Promise<void> => {
        while (Date.now() < deadline && failures.length < 20 && daemon.running) await check(makeCase(caseSeed(SEED, next++), targets));
      };
      const prober = async (): Promise<void> => {
        while (Date.now() < deadline && daemon.running) {
          const started = Date.now();
          const result = await version(socketPath);
          stats.probes++;
          stats.slowestProbeMs = Math.max(stats.slowestProbeMs, Date.now() - started);
          if (result === null) failures.push(`VERSION got no reply within ${BOUND_MS} ms during the fuzz`);
          await sleep(1000);
        }
      };
      await Promise.all([prober(), ...Array.from({ length: CONNECTIONS }, worker)]);
    }
    t.comment(`seed ${SEED}: ${JSON.stringify(stats)}`);

    if (failures.length > 0 || daemon.threw.length > 0 || !daemon.running) t.comment(`daemon log (end):\n${daemon.tail()}`);
    if (!daemon.running) t.comment(`daemon exited at ${new Date().toISOString()}; notable log lines:\n${daemon.notable.join("\n")}`);
    t.ok(daemon.running, `the daemon process is alive${daemon.running ? "" : ` (it exited: ${daemon.exitStatus})`}`);
    t.same(failures, [], `every connection answered or closed (seed ${SEED})`);
    t.equal(await version(socketPath), 0x03080500, "the daemon still answers VERSION");
    const zeroBytes = readFileSync(zero);
    t.ok(new ZeroScanner(zeroBytes).isZero(0, zeroBytes.length), "the zero file is still all zeros (isSafe kept writing commands off it)");
    t.same(daemon.threw, [], "no handler threw (each bad request got an error result, not an exception)");

    const state = await python(
      daemon.runDir,
      `
import sanlock
print([(r["resource"], r["flags"]) for r in sanlock.inquire(pid=${holder.pid})])
print([o["host_id"] for o in sanlock.read_resource_owners(b"${LS}", b"${RES}", [("${resFile}", 0)])])
print(sanlock.inq_lockspace(b"${LS}", 1, "${lsFile}"))
`,
    );
    t.equal(state.stdout, `[(b'${RES}', 1)]\n[1]\nTrue\n`, `the holder still holds the lease, the lockspace is joined: ${state.stderr}`);
    const leaderAfter = await readResourceLeader(resFile);
    t.match(
      { ownerId: leaderAfter.ownerId, lver: leaderAfter.lver, released: leaderAfter.timestamp === 0n },
      { ownerId: 1, lver: leaderBefore.lver, released: false },
      "the on-disk leader still names host 1, same lver, not released",
    );
    const deltaAfter = (await readDeltaRecord(lsFile, 1)).leader;
    t.equal(deltaAfter.ownerId, 1, "our delta lease still names host 1");
    if (ONE_CASE === undefined) {
      t.ok(deltaAfter.timestamp > deltaBefore.timestamp, `the delta lease renewed during the fuzz (${deltaBefore.timestamp} → ${deltaAfter.timestamp})`);
    }
    // And it keeps renewing (every 2 × io_timeout): wait for one more renewal.
    let deltaLater = deltaAfter;
    for (let i = 0; i < 300 && deltaLater.timestamp <= deltaAfter.timestamp; i++) {
      await sleep(200);
      deltaLater = (await readDeltaRecord(lsFile, 1)).leader;
    }
    t.ok(deltaLater.timestamp > deltaAfter.timestamp, "the delta lease renews after the fuzz");
    holder.stdin?.end();
  },
);
