/**
 * What `sanlock client status`, `host_status`, `gets -h 1` and `renewal` print for a daemon
 * with a joined lockspace and a client holding an exclusive and a shared lease: the same
 * lines for sanlock-ts as for the real 3.8.5 daemon once what legitimately differs between two
 * daemons is masked (maskRunValues): the host name, client pids, delta-record timestamps
 * (monotonic seconds of each daemon's own renewals) and the temporary lease directory.
 * Everything else is compared as printed: host_id, generation, lver, offsets, io_timeout,
 * flags, counts and the line structure.
 */
import { join } from "node:path";
import t from "tap";
import type { Test } from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, python, runClient, spawnPython, onRealAndOurs, tempLeaseDir, waitForLine } from "../../../test/support/index.js";

const MB = 1048576;

/**
 * Masks the values of `sanlock client status|host_status|gets` that differ between two daemons
 * and runs, and nothing else (output as sanlock 3.8.5 prints it, wire.md / client.c):
 *   daemon <our_host_name>                 → daemon <name>
 *   p <pid> <name>  (pid -1 = a thread)    → p <pid> <name>    (-1 is kept)
 *   r <ls>:<res>:<path>:<off>:<lver> p <pid> → … p <pid>
 *   … timestamp <monotonic seconds> …      → timestamp <t>
 *   <work dir> (the temporary lease directory) → <dir>
 */
function maskRunValues(stdout: string, workDir: string): string {
  return stdout
    .split(workDir)
    .join("<dir>")
    .replace(/^daemon .*$/m, "daemon <name>")
    .replace(/^p \d+(?= |$)/gm, "p <pid>")
    .replace(/^(r .*) p \d+$/gm, "$1 p <pid>")
    .replace(/\btimestamp \d+\b/g, "timestamp <t>");
}

async function snapshot(t: Test, runDir: string): Promise<string[]> {
  const work = tempLeaseDir(t, "slts-status-");
  const ready = await python(
    runDir,
    `
import sanlock
open("${join(work, "ls")}", "wb").truncate(${MB})
open("${join(work, "res")}", "wb").truncate(${2 * MB})
sanlock.write_lockspace(b"ST", "${join(work, "ls")}", iotimeout=1)
sanlock.write_resource(b"ST", b"R1", [("${join(work, "res")}", 0)])
sanlock.write_resource(b"ST", b"R2", [("${join(work, "res")}", ${MB})])
sanlock.add_lockspace(b"ST", 1, "${join(work, "ls")}", iotimeout=1)
print("ready")
`,
  );
  t.equal(ready.stdout.trim(), "ready", ready.stderr);
  const holder = spawnPython(
    t,
    runDir,
    `
import sys, sanlock
fd = sanlock.register()
sanlock.acquire(b"ST", b"R1", [("${join(work, "res")}", 0)], slkfd=fd)
sanlock.acquire(b"ST", b"R2", [("${join(work, "res")}", ${MB})], slkfd=fd, shared=True)
print("acquired", flush=True)
sys.stdin.readline()
`,
  );
  await waitForLine(holder, "acquired");
  await new Promise((resolve) => setTimeout(resolve, 2500)); // a renewal has looked at the other hosts
  const outputs: string[] = [];
  for (const args of [["status"], ["host_status"], ["host_status", "-s", "ST"], ["gets", "-h", "1"]]) {
    const run = await runClient(runDir, "sanlock", ["client", ...args]);
    const masked = maskRunValues(run.stdout, work);
    outputs.push(`$ ${args.join(" ")} [exit ${run.code}]\n${masked}`);
  }
  const renewal = await runClient(runDir, "sanlock", ["client", "renewal", "-s", "ST"]);
  const lines = renewal.stdout.trim().split("\n");
  outputs.push(
    `renewal: ${lines.length >= 2 ? "≥2 lines" : lines.length} ${lines.every((l) => /^timestamp=\d+ read_ms=\d+ write_ms=\d+ next_timeouts=\d+ next_errors=\d+$/.test(l))}`,
  );
  holder.stdin?.end();
  return outputs;
}

t.test(
  "status, host_status, gets and renewal print like the real daemon",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 100_000 },
  async (t) => {
    const { real: realOut, ours: ourOut } = await onRealAndOurs(t, (runDir) => snapshot(t, runDir));
    for (let i = 0; i < realOut.length; i++) t.equal(ourOut[i], realOut[i], realOut[i]?.split("\n")[0] ?? "");
  },
);

t.test("the mask hides pids, timestamps, the host name and the lease directory, nothing else", async (t) => {
  const printed = [
    "daemon 98ee00af-6ae1-4756-b2f3-5f49760013be.vm",
    "p -1 helper",
    "p 20034 ",
    "p 20035 qemu-1",
    "s ST:1:/var/tmp/slts-status-x/ls:0",
    "r ST:R1:/var/tmp/slts-status-x/res:0:7 p 20034",
    "r ST:R2:/var/tmp/slts-status-x/res:1048576:SH p 20034",
    "lockspace ST",
    "2 timestamp 1494",
    "h 2 gen 3 timestamp 1494 LIVE",
  ].join("\n");
  t.equal(
    maskRunValues(printed, "/var/tmp/slts-status-x"),
    [
      "daemon <name>",
      "p -1 helper",
      "p <pid> ",
      "p <pid> qemu-1",
      "s ST:1:<dir>/ls:0",
      "r ST:R1:<dir>/res:0:7 p <pid>",
      "r ST:R2:<dir>/res:1048576:SH p <pid>",
      "lockspace ST",
      "2 timestamp <t>",
      "h 2 gen 3 timestamp <t> LIVE",
    ].join("\n"),
    "host_id, generation, lver and offsets stay as printed",
  );
});
