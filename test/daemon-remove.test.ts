/**
 * Leaving a lockspace that still has lease holders (wire.md §7.3, §8.1, §8.3), against both
 * the real sanlock 3.8.5 daemon and sanlock-ts: REM_LOCKSPACE kills the holder (SIGKILL),
 * waits for it, releases its lease and the host_id on disk, then answers 0; REM_UNUSED
 * refuses with −EBUSY while a lease is held; a forced shutdown also kills holders.
 */
import { join } from "node:path";
import t from "tap";
import {
  environmentSkip,
  HAVE_REAL_SANLOCK,
  python,
  runClient,
  spawnPython,
  onRealAndOurs,
  startInProcessDaemon,
  tempLeaseDir,
  waitForLine,
} from "./support/index.js";
import type { Test } from "tap";

const LS = "REMLS";
const MB = 1048576;

interface Outcome {
  unused: string;
  rem: string;
  holderSignal: NodeJS.Signals | null;
  owners: string;
  hostRecord: string;
}

async function scenario(t: Test, runDir: string): Promise<Outcome> {
  const work = tempLeaseDir(t, "slts-rem-");
  const lsFile = join(work, "ls");
  const resFile = join(work, "res");
  const setup = await python(
    runDir,
    `
import sanlock
open("${lsFile}", "wb").truncate(${MB})
open("${resFile}", "wb").truncate(${MB})
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=1)
sanlock.write_resource(b"${LS}", b"R", [("${resFile}", 0)])
sanlock.add_lockspace(b"${LS}", 1, "${lsFile}", iotimeout=1)
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
sanlock.acquire(b"${LS}", b"R", [("${resFile}", 0)], slkfd=fd)
print("acquired", flush=True)
sys.stdin.readline()
`,
  );
  await waitForLine(holder, "acquired");
  const exited = new Promise<NodeJS.Signals | null>((resolve) => holder.once("exit", (_c, signal) => resolve(signal)));
  const call = (code: string): Promise<string> =>
    python(
      runDir,
      `
import sanlock
try:
    print(${code})
except sanlock.SanlockException as e:
    print("err", e.errno)
`,
    ).then((r) => r.stdout.trim());
  const unused = await call(`sanlock.rem_lockspace(b"${LS}", 1, "${lsFile}", unused=True)`);
  const rem = await call(`sanlock.rem_lockspace(b"${LS}", 1, "${lsFile}")`);
  const holderSignal = await exited;
  const owners = await call(
    `[(o["host_id"], o["generation"], o["timestamp"] != 0) for o in sanlock.read_resource_owners(b"${LS}", b"R", [("${resFile}", 0)])]`,
  );
  // The delta release: host_id 1's record timestamp is 0 again (read with the CLI's direct dump).
  const dump = await runClient(runDir, "sanlock", ["direct", "dump", `${lsFile}:0`]);
  // Columns: offset, lockspace, host name (differs per daemon: left out), timestamp, owner id.
  const fields =
    dump.stdout
      .split("\n")
      .find((l) => /^\s*00000000\s/.test(l))
      ?.trim()
      .split(/\s+/) ?? [];
  const hostRecord = [fields[0], fields[1], fields[3], fields[4]].join(" ");
  return { unused, rem, holderSignal, owners, hostRecord };
}

t.test(
  "REM_LOCKSPACE with a holder: same outcome as the real daemon",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 110_000 },
  async (t) => {
    const { real: realOutcome, ours: ourOutcome } = await onRealAndOurs(t, (runDir) => scenario(t, runDir));
    t.equal(realOutcome.unused, "err 16", "real: REM_UNUSED refused while a lease is held");
    t.equal(realOutcome.holderSignal, "SIGKILL", "real: the holder was killed");
    t.match(realOutcome.hostRecord, /^00000000 REMLS 0000000000 /, "real: host_id released (timestamp 0)");
    // The removal counts as a failure of the lockspace: the killed holder's lease is dropped
    // without disk I/O (still owned on disk; free for others once the host_id is released).
    t.same(ourOutcome, realOutcome, "sanlock-ts: same results, the holder killed, host_id released");
  },
);

t.test("forced shutdown kills the holders and exits", { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 60_000 }, async (t) => {
  const ours = await startInProcessDaemon(t);
  const work = tempLeaseDir(t, "slts-shut-");
  const lsFile = join(work, "ls");
  const ready = await python(
    ours.runDir,
    `
import sanlock
open("${lsFile}", "wb").truncate(${MB})
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=1)
open("${lsFile}.res", "wb").truncate(${MB})
sanlock.write_resource(b"${LS}", b"R", [("${lsFile}.res", 0)])
sanlock.add_lockspace(b"${LS}", 1, "${lsFile}", iotimeout=1)
print("ready")
`,
  );
  t.equal(ready.stdout.trim(), "ready", ready.stderr);
  const holder = spawnPython(
    t,
    ours.runDir,
    `
import sys, sanlock
fd = sanlock.register()
sanlock.acquire(b"${LS}", b"R", [("${lsFile}.res", 0)], slkfd=fd)
print("acquired", flush=True)
sys.stdin.readline()
`,
  );
  await waitForLine(holder, "acquired");
  const exited = new Promise<NodeJS.Signals | null>((resolve) => holder.once("exit", (_c, signal) => resolve(signal)));
  const shutdown = await runClient(ours.runDir, "sanlock", ["client", "shutdown", "-f", "1", "-w", "1"]);
  t.match(shutdown.stdout, /shutdown done 0/, "SHUTDOWN_WAIT answered once the lockspace was gone");
  t.equal(await exited, "SIGKILL", "the holder was killed");
  await ours.daemon.exited;
  t.pass("the daemon exited");
});

/**
 * While REM_LOCKSPACE kills the holders, sanlock marks the lockspace space_dead=1 killing_pids=1
 * (main.c: "set killing_pids check 0 remove 1"); SAM's QUORUM reads those fields to stop starting
 * new instances on a lockspace that is leaving. SET_CONFIG USED holds the removal in that phase.
 */
async function removingFields(t: Test, runDir: string): Promise<string[]> {
  const work = tempLeaseDir(t, "slts-remf-");
  const lsFile = join(work, "ls");
  const ready = await python(
    runDir,
    `
import sanlock
open("${lsFile}", "wb").truncate(${MB})
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=1)
sanlock.add_lockspace(b"${LS}", 1, "${lsFile}", iotimeout=1)
print("ready")
`,
  );
  t.equal(ready.stdout.trim(), "ready", ready.stderr);
  const fields = async (): Promise<string> => {
    const st = await runClient(runDir, "sanlock", ["client", "status", "-D"]);
    // The lockspace's record: "s NAME:..." and then one indented "key=value" line per field.
    const block = st.stdout.split(/\n(?=\S)/).find((b) => b.startsWith(`s ${LS}:`)) ?? "";
    return ["space_dead", "killing_pids"].map((k) => new RegExp(`^\\s+(${k}=\\d+)$`, "m").exec(block)?.[1] ?? `${k}?`).join(" ");
  };
  const seen = [await fields()];
  t.equal((await runClient(runDir, "sanlock", ["client", "set_config", "-s", LS, "-u", "1"])).code, 0);
  const rem = runClient(runDir, "sanlock", ["client", "rem_lockspace", "-s", `${LS}:1:${lsFile}:0`]);
  // The first look at a removal comes a second after the request (both daemons' main loops).
  for (let i = 0; i < 50 && seen.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await fields();
    if (now !== seen[0]) seen.push(now);
  }
  t.equal((await runClient(runDir, "sanlock", ["client", "set_config", "-s", LS, "-u", "0"])).code, 0);
  t.match((await rem).stdout, /rem_lockspace done 0/, "the removal ends once USED is cleared");
  return seen;
}

t.test(
  "a removal in progress shows space_dead=1 killing_pids=1, as the real daemon's STATUS",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 60_000 },
  async (t) => {
    const { real: realSeen, ours: ourSeen } = await onRealAndOurs(t, (runDir) => removingFields(t, runDir));
    t.same(realSeen, ["space_dead=0 killing_pids=0", "space_dead=1 killing_pids=1"], "real: joined, then removing");
    t.same(ourSeen, realSeen, "sanlock-ts: the same two states");
  },
);
