/**
 * The watchdog must act on time even while the daemon's main thread is busy (algorithms.md
 * §7.5, issue 14 item 5), for real: a sanlock-ts daemon process (host 1) with -w 1 and the
 * reset-model watchdog on the watchdog thread, io_timeout N = 2, and a client holding an
 * exclusive lease that ignores SIGTERM; a second daemon (host 2, -w 0) on the same lockspace.
 *
 * At a SIGUSR2 the test's launcher (below, test code only: nothing in the daemon reacts to
 * SIGUSR2) stops host 1's renewals — it ends the renewal worker thread, as a crash of it
 * would — and then busy-loops the main thread for 30 s. The watchdog's expiry stays at
 * E = L + 8N = L + 16 (L: the last renewal it was told of), so its test within [E − 10, E)
 * falls inside the stall. On the main thread that test would run only when the stall ends,
 * at ≥ L + 30 > E, and its unclean close would ping the device late: a reset at ≥ L + 90,
 * after host 2 may take the lease at L + 8N + 60 = L + 76. On its own thread it closes on
 * time and the model resets host 1 (SIGKILL to the daemon and the client) before L + 76,
 * before host 2 acquires. (With the old design the late close was followed by host 2
 * acquiring the lease while host 1's client still ran: two holders.)
 *
 * To see the test fail on the old design, run it with WDSTALL_MAIN_THREAD_TESTER=1: the
 * launcher then drives the same model from the main thread, as the daemon used to.
 *
 * Times are CLOCK_MONOTONIC seconds, the clock of delta-record timestamps, of the daemon's
 * threads, of the launcher's stall stamps and of the holders' events.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import t, { type Test } from "tap";
import { SanlockClient } from "../packages/client/src/index.js";
import { hostDeadSeconds, idRenewalFailSeconds } from "../packages/core/src/index.js";
import {
  daemonSkipReason,
  monotonicSeconds,
  readDeltaRecord,
  readResourceLeader,
  REPO_ROOT,
  sleep,
  sparseFile,
  startDaemon,
  startLeaseHolder,
  tempLeaseDir,
  TEST_DAEMON_ARGS,
} from "./support/index.js";

const IO_TIMEOUT = 2;
const EXPIRY = idRenewalFailSeconds(IO_TIMEOUT); // 16
const HOST_DEAD = hostDeadSeconds(IO_TIMEOUT); // 76
const STALL_SECONDS = 30;
/** -g 60: SIGKILL of the SIGTERM-ignoring holder comes 60 s after recovery starts (after the stall), long after the reset. */
const KILL_GRACE = 60;
const MiB = 1 << 20;
const DAEMON_DIST = join(REPO_ROOT, "packages/daemon/dist/index.js");
const OLD_DESIGN = process.env["WDSTALL_MAIN_THREAD_TESTER"] === "1";

/**
 * Host 1's daemon as runDaemonCommand would start it, with the reset model as its watchdog
 * device. Every stamp the test needs is written with writeSync(2): the main thread, which
 * relays the output of the other threads, may be busy or already killed.
 */
const LAUNCHER = String.raw`
import { writeSync } from "node:fs";
const d = await import(process.env.LAUNCH_DAEMON_URL);
const { currentRenewalThread } = await import(new URL("lockspaces/renewal-thread.js", process.env.LAUNCH_DAEMON_URL));
const { settings, warnings } = await d.resolveSettings(JSON.parse(process.env.LAUNCH_ARGV));
const now = () => Number(process.hrtime.bigint()) / 1e9;
const log = (line) => process.stderr.write(line + "\n");
let running;
const clientPids = () => running === undefined ? [] :
  running.server.clients.connections().filter((c) => c.registered && c.pid > 0).map((c) => c.pid);
let watchdog;
if (process.env.WDSTALL_MAIN_THREAD_TESTER === "1") {
  // The old design: test loop and model on this (the main) thread.
  const scheduler = new d.RealScheduler();
  const device = new d.ResetModelDevice({ scheduler, onReset: (firedAt) => {
    writeSync(2, "reset-model: watchdog fired at " + firedAt + ", killing clients " + clientPids().join(",") + " and the daemon\n");
    d.killPidsOnReset(() => [...clientPids(), process.pid])(firedAt);
  } });
  watchdog = d.createWatchdog({ useWatchdog: true, device, scheduler, log });
} else {
  watchdog = d.createWatchdog({ useWatchdog: true, resetModel: { killOnReset: true }, log });
  // The thread kills these at a reset: the registered clients, as of the last time this thread ran.
  setInterval(() => watchdog.setResetPids(clientPids()), 200).unref();
}
running = await d.startDaemon({
  settings, configWarnings: warnings, stderr: process.stderr, watchdog,
  environment: { runDir: process.env.SANLOCK_RUN_DIR, privileged: false },
  lockspaces: (log, services) => d.createLeaseEngine({ log, ...services }),
  registerCommands: d.registerLeaseHandlers,
});
writeSync(2, "launcher: watchdog " + watchdog.constructor.name + "\n");
process.on("SIGUSR2", () => {
  writeSync(2, "stall: begin at " + now() + "\n");
  void currentRenewalThread()?.kill();
  const until = now() + Number(process.env.STALL_SECONDS);
  while (now() < until) {
    // the main thread runs nothing else
  }
  writeSync(2, "stall: end at " + now() + "\n");
});
process.on("SIGTERM", () => void running.server.requestShutdown(false));
await running.exited;
`;

interface Launched {
  readonly pid: number;
  readonly runDir: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  readonly stderr: () => string;
  signal(name: NodeJS.Signals): void;
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

async function launchHost1(t: Test, dir: string): Promise<Launched> {
  const runDir = mkdtempSync(join(dir, "run-"));
  const script = join(dir, "stall-launcher.mjs");
  writeFileSync(script, LAUNCHER);
  const args = [...TEST_DAEMON_ARGS.map((arg, i, all) => (all[i - 1] === "-w" ? "1" : arg)), "-g", String(KILL_GRACE)];
  const child = spawn(process.execPath, [script], {
    env: {
      ...process.env,
      SANLOCK_PRIVILEGED: "0",
      SANLOCK_RUN_DIR: runDir,
      LAUNCH_ARGV: JSON.stringify(args),
      LAUNCH_DAEMON_URL: pathToFileURL(DAEMON_DIST).href,
      STALL_SECONDS: String(STALL_SECONDS),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    if (output.length < 512 * 1024) output += chunk.toString();
  });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once("exit", (code, signal) => {
      running = false;
      resolve({ code, signal, at: monotonicSeconds() });
    });
  });
  t.teardown(async () => {
    if (running) child.kill("SIGKILL");
    await exited;
  });
  const socket = join(runDir, "sanlock.sock");
  const deadline = Date.now() + 20_000;
  while (!(existsSync(socket) && (await canConnect(socket)))) {
    if (!running) throw new Error(`host 1 exited at start: ${output.slice(0, 2000)}`);
    if (Date.now() > deadline) throw new Error(`host 1 did not open ${socket}`);
    await sleep(100);
  }
  return { pid: child.pid ?? -1, runDir, exited, stderr: () => output, signal: (name) => void child.kill(name) };
}

/** `promise`'s value, or undefined after `ms` (the timer does not outlive the test). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function stamp(log: string, pattern: RegExp): number | undefined {
  const m = pattern.exec(log);
  return m === null ? undefined : Number(m[1]);
}

async function stallDuringExpiry(t: Test): Promise<void> {
  const dir = tempLeaseDir(t, "wdstall-");
  const paths = { lockspace: sparseFile(dir, "lockspace", MiB), resources: sparseFile(dir, "resources", MiB) };
  const ls = "WDSTALL";
  const host1 = await launchHost1(t, dir);
  const host2 = await startDaemon(t, { kind: "sanlock-ts", label: "WDSTALL host 2", dir });
  const client1 = new SanlockClient({ runDir: host1.runDir });
  const client2 = new SanlockClient({ runDir: host2.runDir });
  await client2.writeLockspace(ls, paths.lockspace, { iotimeout: IO_TIMEOUT });
  const disks = [{ path: paths.resources, offset: 0 }];
  await client2.writeResource(ls, "vm1", disks);
  await Promise.all([
    client1.addLockspace(ls, 1, paths.lockspace, { iotimeout: IO_TIMEOUT }),
    client2.addLockspace(ls, 2, paths.lockspace, { iotimeout: IO_TIMEOUT }),
  ]);
  t.match(host1.stderr(), OLD_DESIGN ? /launcher: watchdog WatchdogTester/ : /launcher: watchdog ThreadedWatchdog/);
  const holder = startLeaseHolder(t, host1, { label: "holder on host 1", lockspace: ls, resource: "vm1", disks, ignoreSigterm: true });
  await holder.waitFor("acquired", 20_000);
  // A few renewals, and time for the launcher to list the holder among the pids a reset kills.
  await sleep(3000);

  const holderGoneAt = holder.exited.then(() => monotonicSeconds());
  host1.signal("SIGUSR2");
  const taker = startLeaseHolder(t, host2, { label: "taker on host 2", lockspace: ls, resource: "vm1", disks, retrySeconds: HOST_DEAD + 40 });
  const host1Exit = await within(host1.exited, (STALL_SECONDS + EXPIRY + 60 + 40) * 1000);
  const holderExit = await within(holder.exited, 5000);
  const acquired = await taker.waitFor("acquired", (HOST_DEAD + 40) * 1000);
  const log = host1.stderr();
  const last = Number((await readDeltaRecord(paths.lockspace, 1)).leader.timestamp);
  const stallBegin = stamp(log, /stall: begin at ([\d.]+)/) ?? NaN;
  const stallEnd = stamp(log, /stall: end at ([\d.]+)/) ?? NaN;
  const firedAt = stamp(log, /reset-model: watchdog fired at ([\d.]+)/) ?? NaN;
  const sigterm = holder.events.find((e) => e.event === "sigterm");
  const closeLine = /watchdog test failed at (\d+) for WDSTALL:1: closing reset-model without disarming/.exec(log);
  t.comment(
    `last renewal ${last}; stall [${stallBegin.toFixed(1)}, ${stallEnd.toFixed(1)}); close ${closeLine?.[1]}; fired ${firedAt.toFixed(2)}; host 2 acquired ${acquired.at.toFixed(1)}`,
  );

  t.ok(stallEnd - stallBegin >= STALL_SECONDS, `host 1's main thread was busy for ${(stallEnd - stallBegin).toFixed(1)} s`);
  t.ok(last > 0 && last <= stallBegin, "its last renewal on disk is from before the stall (renewals stopped with it)");
  t.ok(
    sigterm !== undefined && sigterm.at >= stallEnd,
    "recovery (SIGTERM to the holder) could only start after the stall: the main thread really ran nothing",
  );
  t.ok(
    Number.isFinite(firedAt),
    `the reset model fired: ${log
      .split("\n")
      .filter((l) => /reset-model|watchdog/.test(l))
      .slice(-3)
      .join(" | ")}`,
  );
  const close = firedAt - 60;
  t.ok(close >= stallBegin && close < stallEnd, `the unclean close (last ping, fired − 60) at ${close.toFixed(2)} fell inside the stall`);
  t.ok(close < last + EXPIRY, `the close came before the expiry last + 8N (at expiry ${(close - last - EXPIRY).toFixed(2)} s)`);
  t.ok(
    firedAt < last + EXPIRY + 60,
    `the reset came at last renewal + ${(firedAt - last).toFixed(2)} s, strictly before last + 8N + 60 = last + ${EXPIRY + 60} s`,
  );
  t.equal(host1Exit?.signal, "SIGKILL", "host 1's daemon was killed by the modelled reset");
  t.equal(holderExit?.signal, "SIGKILL", "and so was its client");
  t.ok(host1Exit !== undefined && host1Exit.at - firedAt < 3, "at the moment of the reset");
  t.ok(acquired.at >= last + HOST_DEAD, `host 2 acquired at last + ${(acquired.at - last).toFixed(1)} s, not before host_dead_seconds`);
  t.ok(firedAt < acquired.at, "host 1 was reset before host 2 took its lease");
  const gone = await holderGoneAt;
  t.ok(gone < acquired.at, `host 1's client was gone (at last + ${(gone - last).toFixed(1)} s) before host 2's client got the lease: never two holders`);
  t.equal((await readResourceLeader(paths.resources)).ownerId, 2, "host 2 owns the lease now");
  void client1;
}

const skip = daemonSkipReason(["sanlock-ts"]) || (existsSync(DAEMON_DIST) ? false : "packages/daemon/dist is not built (run pnpm build)");
t.test(
  `host 1's main thread busy for ${STALL_SECONDS} s while its watchdog expiry comes within 10 s: the reset still comes before last + 8N + 60`,
  { skip, timeout: 200_000 },
  stallDuringExpiry,
);
