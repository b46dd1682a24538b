// Recovery inside the sanlock-ts daemon (docs/algorithms.md §7.2-7.4, §7.11): our delta record is
// overwritten behind the daemon's back, the next renewal finds it corrupt, the lockspace
// enters recovery, the holder's killpath runs once, after the grace period (-g 3) the holder
// gets SIGKILL; only then is the watchdog expiry cleared, and no delta release is written
// because the last renewal failed. Real python3-sanlock client, reset-model watchdog.
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, python, spawnPython, tempLeaseDir, waitForLine } from "../../../test/support/index.js";
import { chmodSync, existsSync, openSync, readFileSync, closeSync, readSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { startDaemon } from "../src/main.js";
import { DEFAULT_SETTINGS } from "../src/options.js";
import { createLeaseEngine, registerLeaseHandlers } from "../src/handlers/index.js";
import { RealScheduler, ResetModelDevice, WatchdogTester } from "../src/watchdog/index.js";

const MB = 1048576;
const GRACE = 3;

async function until(what: string, check: () => boolean, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function firstSector(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(512);
    readSync(fd, buf, 0, 512, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}

t.test(
  "corrupt renewal → killpath once → SIGKILL after grace → expiry cleared, no delta release",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const runDir = tempLeaseDir(t, "slts-rec-run-");
    const work = tempLeaseDir(t, "slts-rec-");
    const resets: number[] = [];
    const scheduler = new RealScheduler();
    const device = new ResetModelDevice({ scheduler, onReset: (at) => resets.push(at) });
    const watchdog = new WatchdogTester({ device, scheduler, testIntervalSeconds: 1 });
    const daemon = await startDaemon({
      settings: {
        ...DEFAULT_SETTINGS,
        useWatchdog: true,
        killGraceSeconds: GRACE,
        socketUser: "root",
        socketGroup: "root",
        ourHostName: `rec-${process.pid}`,
      },
      environment: { runDir, privileged: false },
      watchdog,
      lockspaces: (log, services) => createLeaseEngine({ log, ...services }),
      registerCommands: registerLeaseHandlers,
    });
    t.teardown(async () => {
      await daemon.server.requestShutdown(true);
      await daemon.exited;
      watchdog.shutdown();
    });

    const lsFile = join(work, "ls");
    const resFile = join(work, "res");
    for (const f of [lsFile, resFile]) {
      writeFileSync(f, "");
      truncateSync(f, MB);
    }
    const killpath = join(work, "killpath.sh");
    const marker = join(work, "killpath-ran");
    writeFileSync(killpath, `#!/bin/sh\nprintf '%s\\n' "$@" >> "$1"\n`);
    chmodSync(killpath, 0o755);

    const setup = await python(
      runDir,
      `
import sanlock
sanlock.write_lockspace(b"RECLS", "${lsFile}", iotimeout=1)
sanlock.write_resource(b"RECLS", b"R", [("${resFile}", 0)])
sanlock.add_lockspace(b"RECLS", 1, "${lsFile}", iotimeout=1)
print("ready")
`,
    );
    t.equal(setup.stdout.trim(), "ready", setup.stderr);
    const holder = spawnPython(
      t,
      runDir,
      `
import sys, sanlock
fd = sanlock.register()
sanlock.killpath("${killpath}", ["${marker}", "x"], slkfd=fd)
sanlock.acquire(b"RECLS", b"R", [("${resFile}", 0)], slkfd=fd)
print("acquired", flush=True)
sys.stdin.readline()
`,
    );
    await waitForLine(holder, "acquired");
    const exited = new Promise<NodeJS.Signals | null>((resolve) => holder.once("exit", (_c, signal) => resolve(signal)));
    let exitedAt = 0;
    void exited.then(() => (exitedAt = Date.now()));
    t.equal(watchdog.status().connections[0]?.name, "RECLS:1");

    // Someone else overwrites our delta record (host_id 1, sector 0): bad magic at the next renewal.
    const fd = openSync(lsFile, "r+");
    writeSync(fd, Buffer.alloc(512), 0, 512, 0);
    closeSync(fd);

    await until("the killpath program", () => existsSync(marker), 15_000);
    const killpathAt = Date.now();
    t.same(readFileSync(marker, "utf8").split("\n").slice(0, -1), [marker, "x"], "killpath ran with its arguments");
    t.ok((watchdog.status().connections[0]?.expire ?? 0) > 0, "expiry still in force while the holder lives");

    t.equal(await exited, "SIGKILL", "the holder survived the killpath and got SIGKILL after the grace period");
    t.ok(exitedAt - killpathAt >= (GRACE - 1) * 1000, "SIGKILL not before the grace period ran out");
    t.equal(readFileSync(marker, "utf8").split("\n").length - 1, 2, "killpath ran once");

    await until("the lockspace to be left", () => watchdog.status().connections.length === 0, 10_000);
    // The failed test at expire - 1 had closed the device; the next 1 s test passes, reopens and disarms it.
    await until("the device to be stopped", () => device.deadline === undefined, 5_000);
    t.equal(device.isOpen, false, "expiry cleared and device stopped with the magic close");
    t.same(resets, []);
    t.ok(
      firstSector(lsFile).every((b) => b === 0),
      "no delta release written after the failed renewal",
    );
    // As in sanlock, a lockspace that failed sits on the rem list until its thread is done (up to
    // the next whole second after its release), so the listing is polled for a while.
    const listed = await python(
      runDir,
      `
import sanlock, time
deadline = time.monotonic() + 5
while sanlock.get_lockspaces() and time.monotonic() < deadline:
    time.sleep(0.1)
print(len(sanlock.get_lockspaces()))
`,
    );
    t.equal(listed.stdout.trim(), "0", "the lockspace is gone");
  },
);
