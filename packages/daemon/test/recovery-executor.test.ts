// The kill executor and the recovery state machine against real processes (docs/algorithms.md §7.3, §7.4):
// a `sleep` that dies of SIGTERM, one that ignores SIGTERM and needs SIGKILL, a killpath
// script that records its arguments; then a whole recovery run over such processes.
import t from "tap";
import type { Test } from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { LockspaceRecovery, ProcessKillExecutor, type RecoveryHolder } from "../src/recovery/index.js";
import { NoWatchdog } from "../src/watchdog/index.js";
import { tempLeaseDir } from "../../../test/support/index.js";

const SIGTERM_BIT = 1n << 14n; // signal 15 in /proc/<pid>/status SigIgn

interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  alive: boolean;
}

function start(t: Test, command: string, args: string[]): Child {
  const proc = spawn(command, args, { stdio: "ignore" });
  const pid = proc.pid;
  if (pid === undefined) throw new Error(`cannot start ${command}`);
  const child: Child = {
    process: proc,
    pid,
    alive: true,
    exited: new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        child.alive = false;
        resolve(signal ?? code);
      }),
    ),
  };
  t.teardown(() => {
    if (child.alive) proc.kill("SIGKILL");
  });
  return child;
}

async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Start a `sleep` that ignores SIGTERM, and wait until the disposition is in place. */
async function startTermIgnorer(t: Test): Promise<Child> {
  const child = start(t, "sh", ["-c", 'trap "" TERM; exec sleep 30']);
  await until("SIGTERM ignored", async () => {
    const status = await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
    const comm = await readFile(`/proc/${child.pid}/comm`, "utf8").catch(() => "");
    const ign = /SigIgn:\s*([0-9a-f]+)/.exec(status)?.[1];
    return comm.trim() === "sleep" && ign !== undefined && (BigInt(`0x${ign}`) & SIGTERM_BIT) !== 0n;
  });
  return child;
}

t.test("SIGTERM ends a plain sleep", async (t) => {
  const child = start(t, "sleep", ["30"]);
  new ProcessKillExecutor().signal(child.pid, "SIGTERM");
  t.equal(await child.exited, "SIGTERM");
});

t.test("a process ignoring SIGTERM survives it and dies of SIGKILL", async (t) => {
  const child = await startTermIgnorer(t);
  const killer = new ProcessKillExecutor();
  killer.signal(child.pid, "SIGTERM");
  killer.signal(child.pid, "SIGKILL");
  t.equal(await child.exited, "SIGKILL", "killed by SIGKILL, not by the SIGTERM sent first");
});

t.test("signals to gone, zero, negative or own pids are harmless no-ops", async (t) => {
  const lines: string[] = [];
  const killer = new ProcessKillExecutor({ log: (l) => lines.push(l) });
  const child = start(t, "true", []);
  await child.exited;
  killer.signal(child.pid, "SIGKILL"); // ESRCH (or reused pid: never ours)
  killer.signal(0, "SIGKILL");
  killer.signal(-1, "SIGKILL");
  killer.signal(process.pid, "SIGKILL");
  t.equal(lines.filter((l) => l.startsWith("refusing")).length, 3);
});

t.test("a killpath script runs with its parsed arguments and the pid", async (t) => {
  const dir = tempLeaseDir(t, "slts-");
  const script = join(dir, "killpath.sh");
  const out = join(dir, "out");
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" > "$1.tmp" && mv "$1.tmp" "$1"\n`);
  chmodSync(script, 0o755);
  const killer = new ProcessKillExecutor();
  t.equal(killer.runKillpath(script, `${out} two\\ words`, 4321), true);
  await until("killpath output", () => existsSync(out));
  t.same(readFileSync(out, "utf8").split("\n").slice(0, -1), [out, "two words", "4321"]);
});

t.test("a missing killpath program is reported, not thrown", async (t) => {
  const lines: string[] = [];
  const killer = new ProcessKillExecutor({ log: (l) => lines.push(l) });
  t.equal(killer.runKillpath(join(tempLeaseDir(t, "slts-"), "absent"), "", undefined), true);
  await until("spawn error", () => lines.length > 0);
  t.match(lines[0], /failed to start: ENOENT/);
  await until("running count back to 0", () => killer.runningKillpaths === 0);
});

t.test("recovery over real processes, N = 1, grace 2: SIGTERM, then SIGKILL, then leave", async (t) => {
  const polite = start(t, "sleep", ["30"]);
  const stubborn = await startTermIgnorer(t);
  const children = [polite, stubborn];
  const holders = (): RecoveryHolder[] => children.filter((c) => c.alive).map((c) => ({ key: c.pid, pid: c.pid, restrictFlags: 0 }));
  const events: string[] = [];
  const watchdog = new NoWatchdog();
  const connection = watchdog.register("ls", 100, 1);
  const recovery = new LockspaceRecovery({
    name: "ls",
    ioTimeout: 1,
    killGraceSeconds: 2,
    lastSuccess: 100,
    watchdog: {
      name: connection.name,
      get expire() {
        return connection.expire;
      },
      renewed: (s) => connection.renewed(s),
      clearExpiry: () => {
        events.push("clearExpiry");
        connection.clearExpiry();
      },
      close: () => connection.close(),
    },
    killer: new ProcessKillExecutor(),
    hooks: {
      holders,
      stopRenewals: async () => {
        events.push("stopRenewals");
      },
      releaseDeltaLease: async () => {
        events.push("releaseDeltaLease");
      },
    },
  });
  t.equal(recovery.tick(107).phase, "live", "gap 7 < 8N");
  recovery.onRenewalResult({ ok: false, corrupt: false });
  t.equal(recovery.tick(108).phase, "recovery", "gap 8 = 8N");
  t.equal(await polite.exited, "SIGTERM");
  t.equal(stubborn.alive, true);
  recovery.tick(109); // still in grace (109 < 100 + 8 + 2): SIGTERM again, ignored
  t.equal(recovery.killProgress(stubborn.pid).attempts, 2);
  t.equal(recovery.tick(110).phase, "recovery", "110: grace over, SIGKILL");
  t.equal(await stubborn.exited, "SIGKILL");
  t.same(events, [], "expiry kept while a holder lived");
  t.equal(connection.expire, 108);
  t.equal(recovery.tick(110.2).phase, "leaving");
  const outcome = await recovery.left;
  t.same(outcome, { deltaReleased: false }, "last renewal attempt failed: no delta release");
  t.same(events, ["clearExpiry", "stopRenewals"]);
  t.equal(recovery.phase, "left");
});
