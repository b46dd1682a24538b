/**
 * Daemons as processes of their own, for every test that talks to a daemon over its socket: a
 * test can kill -9 them, SIGSTOP/SIGCONT them and watch the lease storage while it does.
 *
 * - startDaemon: a sanlock-ts daemon (`node packages/cli/dist/main.cjs daemon`) or the
 *   real sanlock 3.8.5 daemon, unprivileged, -w 0 unless told otherwise, on a private run
 *   dir; resolves once its socket accepts connections. A sanlock-ts daemon can instead run
 *   with the reset-model watchdog (the test stand-in for a hardware watchdog).
 * - startLeaseHolder: a client process (Node, @sanlock-ts/client from dist/) that registers,
 *   acquires one resource (retrying while refused, if asked) and holds it until killed or
 *   told to release; it reports every step as a JSON line stamped with CLOCK_MONOTONIC
 *   seconds, the clock both daemons write into delta records (docs/ondisk.md §4 `timestamp`).
 * - readDeltaRecord / readResourceLeader: what a host's delta lease or a resource leader
 *   holds on disk right now (buffered reads: O_DIRECT writes invalidate the page cache).
 *
 * Everything started here is killed in the test's teardown, also when the test fails;
 * a stopped (SIGSTOP) process is killed too (SIGKILL ends stopped processes).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { decodeLeader, type LeaderRecord } from "../../packages/core/src/index.js";
import { CLIENT_DIST, OUR_CLI, REPO_ROOT, type DaemonKind } from "./env.js";
import { tempLeaseDir, type Teardown } from "./files.js";
import { monotonicSeconds, sleep } from "./wait.js";

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of `sanlock daemon` for an unprivileged test daemon without a watchdog. */
export const TEST_DAEMON_ARGS: readonly string[] = ["-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"];
const START_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
/** Captured output per process is bounded so a chatty daemon cannot grow memory. */
const MAX_CAPTURE_CHARS = 256 * 1024;
/** A holder reports at most this many events (each refused retry is one). */
const MAX_HOLDER_EVENTS = 2000;

// ---------------------------------------------------------------- processes

/** A child process whose exit is awaited and whose output is kept (bounded). */
class Tracked {
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | undefined;
  output = "";

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      });
      // A spawn failure (ENOENT) emits "error" and no "exit".
      child.once("error", () => {
        this.status ??= { code: -1, signal: null };
        resolve(this.status);
      });
    });
    const keep = (chunk: Buffer): void => {
      if (this.output.length < MAX_CAPTURE_CHARS) this.output += chunk.toString();
    };
    child.stderr?.on("data", keep);
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error("process did not start");
    return pid;
  }

  get running(): boolean {
    return this.status === undefined;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** kill -9 and wait until the kernel reaped it. */
  async kill9(): Promise<ExitStatus> {
    this.signal("SIGKILL");
    return this.exited;
  }
}

// ---------------------------------------------------------------- daemons

export interface TestDaemon {
  readonly kind: DaemonKind;
  /** For messages: "host 1 (sanlock-ts)". */
  readonly label: string;
  readonly pid: number;
  readonly runDir: string;
  readonly socketPath: string;
  /** The test's lease directory the run dir is in (removed in teardown when startDaemon made it). */
  readonly dir: string;
  /** Environment that points the sanlock CLI, our CLI and python3-sanlock at this daemon. */
  readonly env: NodeJS.ProcessEnv;
  readonly exited: Promise<ExitStatus>;
  readonly running: boolean;
  /** What the daemon wrote to stderr so far (its -D log), bounded. */
  log(): string;
  /** kill -9; resolves once it is gone. */
  kill9(): Promise<ExitStatus>;
  /** SIGSTOP: the process stops running, its timers and threads included. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
}

/**
 * The sanlock-ts daemon with the reset-model watchdog, the daemon's test backend for the
 * hardware watchdog (docs/algorithms.md §7.5): the daemon as `runDaemonCommand` builds it, plus
 * `watchdog` — a WatchdogTester over a ResetModelDevice whose reset SIGKILLs the registered
 * clients and then the daemon itself, as a hardware reset would end them all. Written to an
 * .mjs file and run from there (not with `node -e`: the daemon's renewal worker threads would
 * inherit `--input-type` and fail); the daemon's arguments come in LAUNCH_ARGV (JSON).
 */
const RESET_MODEL_LAUNCHER = String.raw`
const d = await import(process.env.LAUNCH_DAEMON_URL);
const { settings, warnings } = await d.resolveSettings(JSON.parse(process.env.LAUNCH_ARGV));
let running;
let dlm;
const clientPids = () => running === undefined ? [] : [
  ...running.server.clients.connections().filter((c) => c.registered && c.pid > 0).map((c) => c.pid),
  ...[...(dlm?.connections ?? [])].map((c) => c.peer.pid).filter((pid) => pid > 0 && pid !== process.pid),
];
const scheduler = new d.RealScheduler();
const device = new d.ResetModelDevice({
  scheduler,
  onReset: (firedAt) => {
    process.stderr.write("reset-model: watchdog fired at " + firedAt + ", killing clients " + clientPids().join(",") + " and the daemon\n");
    d.killPidsOnReset(() => [...clientPids(), process.pid])(firedAt);
  },
});
const watchdog = d.createWatchdog({ useWatchdog: true, device, scheduler, log: (line) => process.stderr.write(line + "\n") });
running = await d.startDaemon({
  settings, configWarnings: warnings, stderr: process.stderr, watchdog,
  environment: { runDir: process.env.SANLOCK_RUN_DIR, privileged: false },
  lockspaces: (log, services) => d.createLeaseEngine({ log, ...services, lockspaceFailed: (ls, reason) => dlm?.lockspaceFailed(ls, reason) }),
  registerCommands: d.registerLeaseHandlers,
});
dlm = await d.startDlmService(running.server, process.env.SANLOCK_RUN_DIR);
process.on("SIGTERM", () => void running.server.requestShutdown(false));
await running.exited;
`;
const DAEMON_DIST = join(REPO_ROOT, "packages/daemon/dist/index.js");

/** The launcher as a file in `dir` (removed with it). */
function writeLauncher(dir: string): string {
  const path = join(dir, "reset-model-daemon.mjs");
  writeFileSync(path, RESET_MODEL_LAUNCHER);
  return path;
}

export interface DaemonStartOptions {
  readonly kind: DaemonKind;
  /** For messages; default the kind. */
  readonly label?: string;
  /** Parent of the run dir (a test's lease dir); default a new one, removed in teardown. */
  readonly dir?: string;
  /** Replaces TEST_DAEMON_ARGS. */
  readonly args?: readonly string[];
  /** Added to the environment (SANLOCK_RUN_DIR and SANLOCK_PRIVILEGED=0 are always set). */
  readonly env?: Readonly<Record<string, string>>;
  /** sanlock-ts only: run with the reset-model watchdog (give -w 1 in `args`). */
  readonly resetModelWatchdog?: boolean;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/**
 * Starts a daemon of either kind as a process of its own, on a private run dir, and resolves once
 * its socket accepts connections. It is killed (-9) in teardown, also when it is stopped.
 */
export async function startDaemon(t: Teardown, options: DaemonStartOptions): Promise<TestDaemon> {
  const dir = options.dir ?? tempLeaseDir(t, "daemon-");
  const label = options.label ?? options.kind;
  const runDir = mkdtempSync(join(dir, "run-"));
  const env = { ...process.env, ...options.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir };
  const args = options.args ?? TEST_DAEMON_ARGS;
  if (options.resetModelWatchdog && options.kind !== "sanlock-ts") throw new Error("the reset-model watchdog is a sanlock-ts test backend");
  const [command, argv] =
    options.kind === "sanlock"
      ? ["sanlock", ["daemon", ...args]]
      : options.resetModelWatchdog
        ? [process.execPath, [writeLauncher(dir)]]
        : [process.execPath, [OUR_CLI, "daemon", ...args]];
  if (options.resetModelWatchdog) Object.assign(env, { LAUNCH_ARGV: JSON.stringify(args), LAUNCH_DAEMON_URL: pathToFileURL(DAEMON_DIST).href });
  const tracked = new Tracked(spawn(command, argv, { env, stdio: ["ignore", "ignore", "pipe"] }));
  t.teardown(() => tracked.kill9());
  const socketPath = join(runDir, "sanlock.sock");
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(existsSync(socketPath) && (await canConnect(socketPath)))) {
    if (!tracked.running) throw new Error(`${label} exited at start: ${tracked.output.slice(0, 2000)}`);
    if (Date.now() > deadline) throw new Error(`${label} did not open ${socketPath} within ${START_TIMEOUT_MS} ms: ${tracked.output.slice(0, 2000)}`);
    await sleep(POLL_MS);
  }
  return {
    kind: options.kind,
    label,
    pid: tracked.pid,
    runDir,
    socketPath,
    dir,
    env,
    exited: tracked.exited,
    get running() {
      return tracked.running;
    },
    log: () => tracked.output,
    kill9: () => tracked.kill9(),
    pause: () => tracked.signal("SIGSTOP"),
    resume: () => tracked.signal("SIGCONT"),
  };
}

// ---------------------------------------------------------------- lease holders

export interface HolderEvent {
  /** acquired | refused (one failed attempt) | gave-up | released | sigterm | failed (not a daemon refusal) */
  readonly event: string;
  /** CLOCK_MONOTONIC seconds in the holder when it happened. */
  readonly at: number;
  readonly errno?: number;
  readonly name?: string;
  readonly message?: string;
  readonly attempt?: number;
}

export interface HolderOptions {
  readonly label: string;
  readonly lockspace: string;
  readonly resource: string;
  readonly disks: readonly { path: string; offset: number }[];
  readonly shared?: boolean;
  /** Keep retrying a refused acquire (0.5 s apart) for this long; 0 = one attempt. */
  readonly retrySeconds?: number;
  /** Report SIGTERM but keep running (a process the kill sequence must SIGKILL, docs/algorithms.md §7.3). */
  readonly ignoreSigterm?: boolean;
}

export interface LeaseHolder {
  readonly label: string;
  readonly pid: number;
  readonly events: readonly HolderEvent[];
  readonly exited: Promise<ExitStatus>;
  readonly running: boolean;
  readonly exitStatus: ExitStatus | undefined;
  /** Resolves with the first event named `name`; rejects after `ms` or if the holder exits first. */
  waitFor(name: string, ms: number): Promise<HolderEvent>;
  /** Asks the holder to release its lease and exit. */
  release(): void;
  kill9(): Promise<ExitStatus>;
}

/**
 * The holder program. Node ESM, run with `node --input-type=module -e`; its settings come in
 * HOLDER_CONFIG (JSON) and the client's module URL in HOLDER_CLIENT_URL. It exits when its
 * stdin closes, so it never outlives the test process by accident.
 */
const HOLDER_PROGRAM = String.raw`
const { SanlockClient } = await import(process.env.HOLDER_CLIENT_URL);
const cfg = JSON.parse(process.env.HOLDER_CONFIG);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const say = (fields) => process.stdout.write(JSON.stringify({ ...fields, at: now() }) + "\n");
process.on("SIGTERM", () => {
  say({ event: "sigterm" });
  if (!cfg.ignoreSigterm) process.exit(143);
});
const client = new SanlockClient({ runDir: cfg.runDir });
const registration = await client.register();
const giveUpAt = now() + cfg.retrySeconds;
let acquired = false;
for (let attempt = 1; attempt <= cfg.maxAttempts; attempt++) {
  try {
    await client.acquire(cfg.lockspace, cfg.resource, cfg.disks, { registration, shared: cfg.shared });
    say({ event: "acquired", attempt });
    acquired = true;
    break;
  } catch (err) {
    if (typeof err.errno !== "number") {
      say({ event: "failed", message: String(err && err.message) });
      process.exit(3);
    }
    say({ event: "refused", attempt, errno: err.errno, name: err.sanlockName, message: err.message });
    if (now() >= giveUpAt) break;
    await new Promise((r) => setTimeout(r, 500));
  }
}
if (!acquired) {
  say({ event: "gave-up" });
  process.exit(0);
}
process.stdin.setEncoding("utf8");
let input = "";
process.stdin.on("data", async (chunk) => {
  input += chunk;
  if (!input.includes("release")) return;
  input = "";
  await client.release(cfg.lockspace, cfg.resource, cfg.disks, { registration });
  say({ event: "released" });
  await registration.close();
  process.exit(0);
});
process.stdin.on("end", () => process.exit(0));
`;

/** Starts a client process that acquires `options.resource` through `daemon`; killed (-9) in teardown. */
export function startLeaseHolder(t: Teardown, daemon: { runDir: string }, options: HolderOptions): LeaseHolder {
  const retrySeconds = options.retrySeconds ?? 0;
  const config = {
    runDir: daemon.runDir,
    lockspace: options.lockspace,
    resource: options.resource,
    disks: options.disks,
    shared: options.shared ?? false,
    ignoreSigterm: options.ignoreSigterm ?? false,
    retrySeconds,
    maxAttempts: retrySeconds === 0 ? 1 : Math.min(MAX_HOLDER_EVENTS - 10, Math.ceil(retrySeconds * 2) + 10),
  };
  const child = spawn(process.execPath, ["--input-type=module", "-e", HOLDER_PROGRAM], {
    env: { ...process.env, HOLDER_CONFIG: JSON.stringify(config), HOLDER_CLIENT_URL: pathToFileURL(CLIENT_DIST).href },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const tracked = new Tracked(child);
  t.teardown(() => tracked.kill9());
  const events: HolderEvent[] = [];
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (events.length >= MAX_HOLDER_EVENTS || line.trim() === "") continue;
      try {
        events.push(JSON.parse(line) as HolderEvent);
      } catch {
        events.push({ event: "unparsed", at: monotonicSeconds(), message: line.slice(0, 200) });
      }
    }
  });
  // The holder's stdin is its lifeline; a write after it died must not crash the test.
  child.stdin?.on("error", () => undefined);
  const waitFor = async (name: string, ms: number): Promise<HolderEvent> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = events.find((e) => e.event === name);
      if (found !== undefined) return found;
      if (!tracked.running || Date.now() > deadline) {
        const why = tracked.running ? `within ${ms} ms` : `before it exited (${JSON.stringify(tracked.exitStatus)})`;
        throw new Error(`${options.label}: no "${name}" ${why}; events ${JSON.stringify(events.slice(-5))}; stderr ${tracked.output.slice(0, 1000)}`);
      }
      await sleep(POLL_MS);
    }
  };
  return {
    label: options.label,
    pid: tracked.pid,
    events,
    exited: tracked.exited,
    get running() {
      return tracked.running;
    },
    get exitStatus() {
      return tracked.exitStatus;
    },
    waitFor,
    release: () => void child.stdin?.write("release\n"),
    kill9: () => tracked.kill9(),
  };
}

// ---------------------------------------------------------------- what is on disk

async function readBytes(path: string, offset: number, length: number): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const bytes = new Uint8Array(length);
    const { bytesRead } = await handle.read(bytes, 0, length, offset);
    if (bytesRead !== length) throw new Error(`${path}: short read of ${bytesRead}/${length} bytes at ${offset}`);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Sector size recorded in the lockspace's first leader (docs/ondisk.md §2.2). */
async function lockspaceSectorSize(path: string, offset: number): Promise<number> {
  const first = await readBytes(path, offset, 512);
  const sectorSize = new DataView(first.buffer).getUint32(12, true);
  if (sectorSize !== 512 && sectorSize !== 4096) throw new Error(`${path}: lockspace sector size ${sectorSize} is not 512 or 4096`);
  return sectorSize;
}

/** Host `hostId`'s delta record (decoded) and the whole sector's raw bytes. */
export async function readDeltaRecord(path: string, hostId: number, offset = 0): Promise<{ leader: LeaderRecord; sector: Uint8Array }> {
  const sectorSize = await lockspaceSectorSize(path, offset);
  const sector = await readBytes(path, offset + (hostId - 1) * sectorSize, sectorSize);
  return { leader: decodeLeader(sector, 0, { kind: "delta" }), sector };
}

/** The paxos leader of a resource lease (sector 0 of its area). */
export async function readResourceLeader(path: string, offset = 0): Promise<LeaderRecord> {
  return decodeLeader(await readBytes(path, offset, 512), 0, { kind: "paxos" });
}

/** Raw bytes of a range (e.g. a whole lease area) for "nothing changed" comparisons. */
export function readArea(path: string, offset: number, length: number): Promise<Uint8Array> {
  return readBytes(path, offset, length);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
