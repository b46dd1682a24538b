#!/usr/bin/env node
// The main job, as a timeline: two sanlock-ts daemons (hosts 1 and 2) share one lease file.
// A client on host 1 holds a resource lease, a client on host 2 is refused; then host 1 dies
// hard (kill -9 of its daemon and its client) and host 2 takes the lease over — but only once
// host 1's lease can have expired: host_dead_seconds = 8 × io_timeout + 60 s after host 1's
// last renewal (docs/algorithms.md §1.3, §4.4), i.e. 68 s with io_timeout 1.
//
//   node scripts/demo.mjs            run the demo (after `pnpm build`)
//   node scripts/demo.mjs --client   internal: the client process (settings in DEMO_CLIENT)
//
// Everything (daemons, clients, the temporary lease directory) is removed at the end and on Ctrl-C.
import { spawn } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLI = join(ROOT, "packages/cli/dist/main.cjs");
const CLIENT = new URL("../packages/client/dist/index.js", import.meta.url).href;

const LOCKSPACE = "demo";
const RESOURCE = "vm1";
const IO_TIMEOUT = 1;
/** 8 × io_timeout: a host that has not renewed for this long starts recovery; the watchdog's deadline counts from it. */
const RENEWAL_FAIL_SECONDS = 8 * IO_TIMEOUT;
/** The hardware watchdog fires at most 60 s after its last keepalive (docs/algorithms.md §7.5). */
const WATCHDOG_FIRE_SECONDS = 60;
const HOST_DEAD_SECONDS = RENEWAL_FAIL_SECONDS + WATCHDOG_FIRE_SECONDS;
const MiB = 1 << 20;
const SOCKET_WAIT_MS = 20_000;
/** The whole demo must finish within this; past it something is wrong and we stop. */
const DEMO_LIMIT_SECONDS = 180;

const monotonic = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (process.argv[2] === "--client") await runClient(JSON.parse(process.env.DEMO_CLIENT ?? "{}"));
else await runDemo();

// ---------------------------------------------------------------- the client process

/** Registers, acquires the resource (retrying while refused, if asked) and holds it until killed. */
async function runClient(cfg) {
  const { SanlockClient } = await import(CLIENT);
  const say = (fields) => process.stdout.write(`${JSON.stringify({ ...fields, at: monotonic() })}\n`);
  const client = new SanlockClient({ runDir: cfg.runDir });
  const registration = await client.register();
  const giveUpAt = monotonic() + cfg.retrySeconds;
  for (let attempt = 1; attempt <= 1000; attempt++) {
    try {
      await client.acquire(LOCKSPACE, RESOURCE, cfg.disks, { registration });
      say({ event: "acquired" });
      process.stdin.on("end", () => process.exit(0)); // hold until the demo ends
      process.stdin.resume();
      return;
    } catch (err) {
      say({ event: "refused", name: err.sanlockName ?? err.code, message: err.message });
      if (monotonic() >= giveUpAt) process.exit(0);
      await sleep(500);
    }
  }
}

// ---------------------------------------------------------------- the demo

async function runDemo() {
  for (const file of [CLI, fileURLToPath(CLIENT)]) {
    if (!existsSync(file)) fail(`${file} is missing: run \`pnpm build\` (or \`pnpm demo\`) first`);
  }
  const start = monotonic();
  const children = new Set();
  const dir = mkdtempSync(join(leaseDirRoot(), "sanlock-ts-demo-"));
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = (signal) => {
    console.log(`\n${signal}: stopping the daemons and clients, removing ${dir}`);
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  process.once("exit", cleanup);
  const limit = setTimeout(() => {
    console.error(`the demo took longer than ${DEMO_LIMIT_SECONDS} s; stopping`);
    process.exit(1);
  }, DEMO_LIMIT_SECONDS * 1000);
  limit.unref();

  const say = (who, text, at = monotonic()) => console.log(`${`+${(at - start).toFixed(1)}s`.padStart(8)}  ${who.padEnd(7)} ${text}`);
  const { SanlockClient } = await import(CLIENT);

  console.log("sanlock-ts demo: two hosts, one lease, one host dies.\n");
  console.log(`${"time".padStart(8)}  ${"who".padEnd(7)} event`);
  const leases = join(dir, "leases");
  writeFileSync(leases, "");
  truncateSync(leases, 2 * MiB);
  const disks = [{ path: leases, offset: MiB }];

  const host1 = await startDaemon(1, dir, children);
  say("host 1", `daemon started (pid ${host1.child.pid}), no watchdog device here (-w 0)`);
  const host2 = await startDaemon(2, dir, children);
  say("host 2", `daemon started (pid ${host2.child.pid})`);
  const client1 = new SanlockClient({ runDir: host1.runDir });
  const client2 = new SanlockClient({ runDir: host2.runDir });

  await client1.writeLockspace(LOCKSPACE, leases, { iotimeout: IO_TIMEOUT });
  await client1.writeResource(LOCKSPACE, RESOURCE, disks);
  say("setup", `lease file ${leases}: lockspace "${LOCKSPACE}" at 0 (io_timeout ${IO_TIMEOUT} s), resource "${RESOURCE}" at 1 MiB`);

  say("both", `joining lockspace "${LOCKSPACE}" as host_id 1 and 2 (a join takes 2 × io_timeout)`);
  await Promise.all([
    client1.addLockspace(LOCKSPACE, 1, leases, { iotimeout: IO_TIMEOUT }),
    client2.addLockspace(LOCKSPACE, 2, leases, { iotimeout: IO_TIMEOUT }),
  ]);
  say("both", "joined; each renews its host_id lease every 2 s");

  const holder1 = startClient(host1, disks, 0, children, (e) => {
    if (e.event === "acquired") say("host 1", `client (pid ${holder1.pid}) acquired "${RESOURCE}"`, e.at);
    else say("host 1", `client refused: ${e.message}`, e.at);
  });
  await holder1.waitFor("acquired");

  const contender = startClient(host2, disks, 0, children, (e) => {
    if (e.event === "refused") say("host 2", `client (pid ${contender.pid}) refused: ${e.name} — ${e.message}`, e.at);
    else say("host 2", `client unexpectedly acquired "${RESOURCE}"`, e.at);
  });
  await contender.exited;

  await sleep(3000);
  host1.child.kill("SIGKILL");
  holder1.child.kill("SIGKILL");
  await Promise.all([exitOf(host1.child), exitOf(holder1.child)]);
  say("host 1", `kill -9 of its daemon (pid ${host1.child.pid}) and client (pid ${holder1.pid}): no release is written`);

  const lastRenewal = readHostTimestamp(leases, 1);
  const expiry = lastRenewal + HOST_DEAD_SECONDS;
  const note = (text) => console.log(`${"".padStart(8)}  ${"".padEnd(7)} ${text}`);
  say("disk", `host 1's last renewal: +${(lastRenewal - start).toFixed(1)}s (its delta record's timestamp, whole seconds)`);
  say("host 2", `may take "${RESOURCE}" from +${(expiry - start).toFixed(1)}s on, not before: seen from host 2, a dead host`);
  note("and a stuck one look the same. A stuck host 1 stops feeding its watchdog");
  note(`${RENEWAL_FAIL_SECONDS} s (8 × io_timeout) after its last renewal, and the watchdog resets it`);
  note(
    `at most ${WATCHDOG_FIRE_SECONDS} s later: ${RENEWAL_FAIL_SECONDS} + ${WATCHDOG_FIRE_SECONDS} = ${HOST_DEAD_SECONDS} s (host_dead_seconds). This demo runs without`,
  );
  note("a watchdog device (-w 0); host 2 waits all the same, it cannot know.");

  let refusals = 0;
  const taker = startClient(host2, disks, HOST_DEAD_SECONDS + 40, children, (e) => {
    if (e.event === "acquired") {
      say("host 2", `client (pid ${taker.pid}) acquired "${RESOURCE}", ${(e.at - lastRenewal).toFixed(1)} s after host 1's last renewal`, e.at);
    } else if (refusals++ === 0) {
      say("host 2", `client (pid ${taker.pid}) refused for now: ${e.name}; it retries, and the daemon waits for host 1's lease to expire`, e.at);
    }
  });
  let lastShown = -1;
  const countdown = setInterval(() => {
    const left = expiry - monotonic();
    const whole = Math.round(left);
    if (left > 0.5 && whole !== lastShown && (whole <= 5 || whole % 10 === 0)) {
      lastShown = whole;
      say("host 2", `waiting: host 1's lease can expire in ${whole} s`);
    }
  }, 250);
  try {
    await taker.waitFor("acquired");
  } finally {
    clearInterval(countdown);
  }
  const owners = await client2.readResourceOwners(LOCKSPACE, RESOURCE, disks);
  say("disk", `owner of "${RESOURCE}" is now host_id ${owners.map((o) => o.hostId).join(", ")}`);
  console.log(`\ndone in ${(monotonic() - start).toFixed(0)} s; stopping host 2 and removing ${dir}`);
  cleanup();
  process.exit(0);
}

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

/** tmpdir if it supports O_DIRECT (tmpfs does not), else /var/tmp. */
function leaseDirRoot() {
  for (const root of [tmpdir(), "/var/tmp"]) {
    const probe = join(root, `.sanlock-ts-odirect-${process.pid}`);
    try {
      writeFileSync(probe, "");
      closeSync(openSync(probe, constants.O_RDONLY | constants.O_DIRECT));
      return root;
    } catch {
      // try the next one
    } finally {
      try {
        unlinkSync(probe);
      } catch {
        // never created
      }
    }
  }
  fail("no temporary directory supports O_DIRECT (set TMPDIR to a directory on ext4 or xfs)");
}

function exitOf(child) {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", resolve));
}

/** A sanlock-ts daemon with its own run dir, unprivileged, without watchdog; resolves when its socket answers. */
async function startDaemon(hostNumber, dir, children) {
  const runDir = join(dir, `run-host${hostNumber}`);
  mkdirSync(runDir);
  const uid = String(process.getuid?.() ?? 0);
  const gid = String(process.getgid?.() ?? 0);
  const child = spawn(process.execPath, [CLI, "daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", uid, "-G", gid], {
    env: { ...process.env, SANLOCK_RUN_DIR: runDir, SANLOCK_PRIVILEGED: "0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(child);
  let log = "";
  child.stderr.on("data", (chunk) => {
    if (log.length < 64 * 1024) log += chunk;
  });
  const socket = join(runDir, "sanlock.sock");
  const deadline = Date.now() + SOCKET_WAIT_MS;
  while (!(await answers(socket))) {
    if (child.exitCode !== null) fail(`host ${hostNumber}'s daemon exited: ${log}`);
    if (Date.now() > deadline) fail(`host ${hostNumber}'s daemon did not open ${socket}: ${log}`);
    await sleep(100);
  }
  return { child, runDir };
}

function answers(socket) {
  return new Promise((resolve) => {
    const conn = createConnection({ path: socket });
    conn.once("connect", () => {
      conn.destroy();
      resolve(true);
    });
    conn.once("error", () => resolve(false));
  });
}

/** This script as a client process on `host`; `onEvent` sees each JSON event it prints. */
function startClient(host, disks, retrySeconds, children, onEvent) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--client"], {
    env: { ...process.env, DEMO_CLIENT: JSON.stringify({ runDir: host.runDir, disks, retrySeconds }) },
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.add(child);
  child.stdin.on("error", () => undefined);
  const events = [];
  let partial = "";
  child.stdout.on("data", (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines.filter((l) => l.trim() !== "")) {
      const event = JSON.parse(line);
      events.push(event);
      onEvent(event);
    }
  });
  const exited = exitOf(child);
  const waitFor = async (name) => {
    for (;;) {
      if (events.some((e) => e.event === name)) return;
      if (child.exitCode !== null || child.signalCode !== null) fail(`client ${child.pid} exited without "${name}"`);
      await sleep(100);
    }
  };
  return { child, pid: child.pid, exited, waitFor };
}

/** Host `hostId`'s delta-record timestamp (writer's CLOCK_MONOTONIC seconds; docs/ondisk.md §4, byte 152). */
function readHostTimestamp(path, hostId) {
  const fd = openSync(path, "r");
  try {
    const first = Buffer.alloc(512);
    readSync(fd, first, 0, 512, 0);
    const sectorSize = first.readUInt32LE(12);
    const sector = Buffer.alloc(512);
    readSync(fd, sector, 0, 512, (hostId - 1) * sectorSize);
    return Number(sector.readBigUInt64LE(152));
  } finally {
    closeSync(fd);
  }
}
