// The watchdog inside the sanlock-ts daemon (docs/algorithms.md §7.5, §7.11 rules 1, 2, 5):
// -w 1 without a device refuses to start; a joined lockspace registers its expiry
// last_success + 8N before ADD_LOCKSPACE answers, renewals advance it, REM_LOCKSPACE clears
// it and the device is then stopped with the magic close. Uses the reset model as device.
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, python, tempLeaseDir } from "../../../test/support/index.js";
import type { Test } from "tap";
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDaemonCommand, startDaemon } from "../src/main.js";
import { DEFAULT_SETTINGS } from "../src/options.js";
import { createLeaseEngine, registerLeaseHandlers } from "../src/handlers/index.js";
import { RealScheduler, ResetModelDevice, WatchdogTester } from "../src/watchdog/index.js";

const MB = 1048576;

// Where /dev/watchdog exists the test must not arm a real watchdog.
const realWatchdog = existsSync("/dev/watchdog") && "this machine has /dev/watchdog";
t.test("-w 1 with no watchdog device: a clear error and exit status 1", { skip: realWatchdog }, async (t) => {
  const runDir = mkdtempSync(join(tmpdir(), "slts-wd-"));
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  let stderr = "";
  const status = await runDaemonCommand(
    ["-D", "-w", "1", "--config", join(runDir, "absent.conf")],
    { ...process.env, SANLOCK_RUN_DIR: runDir, SANLOCK_PRIVILEGED: "0" },
    { write: (line: string) => void (stderr += line) },
  );
  t.equal(status, 1);
  t.match(stderr, /watchdog device \/dev\/watchdog does not exist.*-w 0/);
  t.notOk(existsSync(join(runDir, "sanlock.sock")), "no socket was opened");
});

async function startWithWatchdog(t: Test) {
  const runDir = tempLeaseDir(t, "slts-wd-run-");
  const resets: number[] = [];
  const scheduler = new RealScheduler();
  const device = new ResetModelDevice({ scheduler, onReset: (at) => resets.push(at) });
  // 1 s tests so that io_timeout 1 (8N = 8 < 10) is not reset by wdmd's 10 s rule.
  const watchdog = new WatchdogTester({ device, scheduler, testIntervalSeconds: 1 });
  const daemon = await startDaemon({
    settings: { ...DEFAULT_SETTINGS, useWatchdog: true, socketUser: "root", socketGroup: "root", ourHostName: `wd-${process.pid}` },
    environment: { runDir, privileged: false },
    watchdog,
    lockspaces: (log, services) => createLeaseEngine({ log, ...services }),
    registerCommands: registerLeaseHandlers,
  });
  t.teardown(async () => {
    await daemon.server.requestShutdown(true);
    await daemon.exited;
    watchdog.shutdown(); // stops the test timer if the daemon did not
  });
  return { runDir, daemon, watchdog, device, resets };
}

t.test(
  "join registers the expiry, renewals advance it, removal clears it and disarms",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const { runDir, watchdog, device, resets, daemon } = await startWithWatchdog(t);
    const work = tempLeaseDir(t, "slts-wd-ls-");
    const lsFile = join(work, "ls");
    writeFileSync(lsFile, "");
    truncateSync(lsFile, MB);
    const join1 = await python(
      runDir,
      `
import sanlock, time
sanlock.write_lockspace(b"WDLS", "${lsFile}", iotimeout=1)
sanlock.add_lockspace(b"WDLS", 1, "${lsFile}", iotimeout=1)
print("joined")
`,
    );
    t.equal(join1.stdout.trim(), "joined", join1.stderr);
    const first = watchdog.status().connections;
    t.equal(first.length, 1, "registered before add_lockspace returned");
    const c0 = first[0];
    t.equal(c0?.name, "WDLS:1");
    t.equal((c0?.expire ?? 0) - (c0?.renewal ?? 0), 8, "expire = last_success + 8N");
    t.equal(device.isOpen, true, "device armed at the first join");
    // Renewals every 2N = 2 s advance the expiry.
    await new Promise((r) => setTimeout(r, 4500));
    const later = watchdog.status().connections[0];
    t.ok((later?.renewal ?? 0) > (c0?.renewal ?? 0), "a renewal advanced last_success");
    t.equal((later?.expire ?? 0) - (later?.renewal ?? 0), 8);
    const rem = await python(
      runDir,
      `
import sanlock
sanlock.rem_lockspace(b"WDLS", 1, "${lsFile}")
print("removed")
`,
    );
    t.equal(rem.stdout.trim(), "removed", rem.stderr);
    t.same(watchdog.status().connections, [], "the connection is gone with its expiry cleared");
    t.equal(device.isOpen, false);
    t.equal(device.deadline, undefined, "stopped with the magic close: the model will not fire");
    t.same(resets, []);
    t.ok(daemon.server, "daemon still running");
  },
);
