#!/usr/bin/env node
// Daemon start-up time: from spawn() to the first GET_LOCKSPACES request answered on the new
// socket, for sanlock-ts (`node packages/cli/dist/main.cjs daemon ...`) and the real sanlock 3.8.5,
// same options and environment as `pnpm bench` (lib/daemons.mjs: unprivileged, -w 0 -l 0 -h 0
// -U root -G root, private run dir). Runs alternate between the two daemons.
//
//   node bench/startup.mjs [--runs N] [--only sanlock-ts|sanlock]
//
// The probe connects every 2 ms and sends a 32-byte GET_LOCKSPACES header (cmd 22), the request
// `sanlock client gets` / python's sanlock.get_lockspaces() make; it counts once a reply header
// with the wire magic comes back. Each daemon is stopped (SIGTERM, process group) before the next
// run starts. Prints every sample and the median, min and max.
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { DAEMON_KINDS, skipReason } from "./lib/daemons.mjs";
import { median } from "./lib/stats.mjs";

const WIRE_MAGIC = 0x04282010;
const GET_LOCKSPACES = 22;
const HEADER_SIZE = 32;
const POLL_MS = 2;
const TIMEOUT_MS = 30_000;

function parseOptions(argv) {
  const opts = { runs: 10, only: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") continue;
    if (argv[i] === "--runs") opts.runs = Number(argv[++i]);
    else if (argv[i] === "--only") opts.only = argv[++i];
    else throw new Error(`unknown option ${argv[i]} (use --runs N, --only sanlock-ts|sanlock)`);
  }
  if (!(Number.isInteger(opts.runs) && opts.runs > 0)) throw new Error("--runs takes a positive integer");
  return opts;
}

function header(cmd) {
  const b = Buffer.alloc(HEADER_SIZE);
  b.writeUInt32LE(WIRE_MAGIC, 0);
  b.writeUInt32LE(0x00000001, 4); // version 0.1
  b.writeUInt32LE(cmd, 8);
  b.writeUInt32LE(0, 12); // cmd_flags
  b.writeUInt32LE(HEADER_SIZE, 16); // length
  b.writeUInt32LE(1, 20); // seq
  b.writeInt32LE(0, 24); // data
  b.writeInt32LE(-1, 28); // data2
  return b;
}

/** One GET_LOCKSPACES round trip; resolves true when a reply header came back. */
function answered(path) {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    let got = Buffer.alloc(0);
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => sock.write(header(GET_LOCKSPACES)));
    sock.on("data", (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= HEADER_SIZE) done(got.readUInt32LE(0) === WIRE_MAGIC);
    });
    sock.once("error", () => done(false));
    sock.once("end", () => done(got.length >= HEADER_SIZE));
  });
}

async function oneStart(kind) {
  const runDir = mkdtempSync("/var/tmp/bench-startup-");
  const [cmd, args] = DAEMON_KINDS[kind].command();
  const socketPath = join(runDir, "sanlock.sock");
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, {
    env: { ...process.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir },
    stdio: ["ignore", "ignore", "ignore"],
    detached: true,
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let ms;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode} before answering`);
      if (await answered(socketPath)) {
        ms = Number(process.hrtime.bigint() - t0) / 1e6;
        break;
      }
      if (Number(process.hrtime.bigint() - t0) / 1e6 > TIMEOUT_MS) throw new Error(`${kind} did not answer within ${TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    const group = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* gone */
      }
    };
    const kill = setTimeout(() => group("SIGKILL"), 5000);
    group("SIGTERM");
    await exited;
    clearTimeout(kill);
    group("SIGKILL"); // sanlock's helper process
    rmSync(runDir, { recursive: true, force: true });
  }
  return ms;
}

const opts = parseOptions(process.argv.slice(2));
const kinds = Object.keys(DAEMON_KINDS).filter((k) => (opts.only === null || k === opts.only) && !skipReason(k));
const samples = Object.fromEntries(kinds.map((k) => [k, []]));
for (let run = 0; run < opts.runs; run++) {
  const order = run % 2 === 0 ? kinds : [...kinds].reverse();
  for (const kind of order) samples[kind].push(await oneStart(kind));
}
for (const kind of kinds) {
  const s = samples[kind];
  console.log(
    `${DAEMON_KINDS[kind].label.padEnd(14)} start-up to first reply, ${s.length} runs: median ${median(s).toFixed(1)} ms, ` +
      `min ${Math.min(...s).toFixed(1)}, max ${Math.max(...s).toFixed(1)}  [${s.map((x) => x.toFixed(0)).join(" ")}]`,
  );
}
