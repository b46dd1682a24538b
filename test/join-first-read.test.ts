/**
 * The first look at other hosts after a join, through the real python3-sanlock binding, on
 * sanlock-ts and on the real sanlock 3.8.5 as the reference (sanlock's own
 * test_acquire_release_resource relies on it): right after add_lockspace returns, get_hosts
 * fails with EAGAIN (no host status yet); a second later it lists host 1 as HOST_LIVE. On
 * sanlock-ts the join's own renewal read is kept and examined, not dropped: the daemon never
 * logs "renewal read(s) before the join finished" (io_timeout 1 and 10).
 */
import { spawnSync } from "node:child_process";
import t, { type Test } from "tap";
import { type DaemonKind, daemonSkipReason, sparseFile, startDaemon, tempLeaseDir } from "./support/index.js";

const MiB = 1 << 20;
const PYTHON = "/usr/bin/python3";

const PROBE = `
import errno, json, sys, time, sanlock
path, io = sys.argv[1], int(sys.argv[2])
sanlock.write_lockspace(b"JOINLS", path, iotimeout=io)
sanlock.add_lockspace(b"JOINLS", 1, path, iotimeout=io)
try:
    sanlock.get_hosts(b"JOINLS", 1)
    first = 0
except sanlock.SanlockException as e:
    first = e.errno
time.sleep(1)
host = sanlock.get_hosts(b"JOINLS", 1)[0]
print(json.dumps({"first": first, "flags": host["flags"], "live": sanlock.HOST_LIVE, "generation": host["generation"]}))
`;

interface Probe {
  first: number;
  flags: number;
  live: number;
  generation: number;
}

async function joinAndLook(t: Test, kind: DaemonKind, ioTimeout: number): Promise<void> {
  const dir = tempLeaseDir(t, "join-first-read-");
  const path = sparseFile(dir, "lockspace", MiB);
  const daemon = await startDaemon(t, { kind, label: `${kind} daemon`, dir });
  const run = spawnSync(PYTHON, ["-c", PROBE, path, String(ioTimeout)], {
    env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir },
    encoding: "utf8",
    timeout: 120_000,
  });
  t.equal(run.status, 0, `probe exits 0 ${run.stderr}`);
  const probe = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as Probe;
  t.equal(probe.first, 11, "get_hosts right after add_lockspace: EAGAIN");
  t.equal(probe.flags, probe.live, "a second later: host 1 is HOST_LIVE");
  t.equal(probe.generation, 1, "in generation 1");
  if (kind === "sanlock-ts") t.notMatch(daemon.log(), /before the join finished/, "no renewal read is dropped at the join");
}

for (const kind of ["sanlock-ts", "sanlock"] as const) {
  t.test(`${kind}: get_hosts after a join`, { skip: daemonSkipReason([kind]) }, async (t) => {
    t.jobs = 2;
    t.test("io_timeout 1", (t) => joinAndLook(t, kind, 1));
    t.test("io_timeout 10", (t) => joinAndLook(t, kind, 10));
  });
}
