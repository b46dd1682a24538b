/**
 * What `sanlock client status`, `host_status`, `gets -h 1` and `renewal` print for a daemon
 * with a joined lockspace and a client holding an exclusive and a shared lease: the same
 * lines for sanlock-ts as for the real 3.8.5 daemon once numbers (pids, times, fds) and the
 * lease directory are masked.
 */
import { join } from "node:path";
import t from "tap";
import type { Test } from "tap";
import { hasSanlock, python, runClient, spawnPython, startOurDaemon, startRealDaemon, tempDir, waitForLine } from "./handlers-daemon.js";

const MB = 1048576;

async function snapshot(t: Test, runDir: string): Promise<string[]> {
  const work = tempDir(t, "slts-status-");
  const ready = await python(runDir, `
import sanlock
open("${join(work, "ls")}", "wb").truncate(${MB})
open("${join(work, "res")}", "wb").truncate(${2 * MB})
sanlock.write_lockspace(b"ST", "${join(work, "ls")}", iotimeout=1)
sanlock.write_resource(b"ST", b"R1", [("${join(work, "res")}", 0)])
sanlock.write_resource(b"ST", b"R2", [("${join(work, "res")}", ${MB})])
sanlock.add_lockspace(b"ST", 1, "${join(work, "ls")}", iotimeout=1)
print("ready")
`);
  t.equal(ready.stdout.trim(), "ready", ready.stderr);
  const holder = spawnPython(t, runDir, `
import sys, sanlock
fd = sanlock.register()
sanlock.acquire(b"ST", b"R1", [("${join(work, "res")}", 0)], slkfd=fd)
sanlock.acquire(b"ST", b"R2", [("${join(work, "res")}", ${MB})], slkfd=fd, shared=True)
print("acquired", flush=True)
sys.stdin.readline()
`);
  await waitForLine(holder, "acquired");
  await new Promise((resolve) => setTimeout(resolve, 2500)); // a renewal has looked at the other hosts
  const outputs: string[] = [];
  for (const args of [["status"], ["host_status"], ["host_status", "-s", "ST"], ["gets", "-h", "1"]]) {
    const run = await runClient(runDir, "sanlock", ["client", ...args]);
    // Host names and numbers differ per daemon and run; the line structure must not.
    const masked = run.stdout.split(work).join("<dir>")
      .replace(/^daemon .*$/m, "daemon <name>")
      .replace(/\d+/g, "N");
    outputs.push(`$ ${args.join(" ")} [exit ${run.code}]\n${masked}`);
  }
  const renewal = await runClient(runDir, "sanlock", ["client", "renewal", "-s", "ST"]);
  const lines = renewal.stdout.trim().split("\n");
  outputs.push(`renewal: ${lines.length >= 2 ? "≥2 lines" : lines.length} ${lines.every((l) => /^timestamp=\d+ read_ms=\d+ write_ms=\d+ next_timeouts=\d+ next_errors=\d+$/.test(l))}`);
  holder.stdin?.end();
  return outputs;
}

t.test("status, host_status, gets and renewal print like the real daemon", { skip: !hasSanlock && "sanlock not installed", timeout: 100_000 }, async (t) => {
  const ours = await startOurDaemon(t);
  const real = await startRealDaemon(t);
  const [realOut, ourOut] = await Promise.all([snapshot(t, real), snapshot(t, ours.runDir)]);
  for (let i = 0; i < realOut.length; i++) t.equal(ourOut[i], realOut[i], realOut[i]?.split("\n")[0] ?? "");
});
