/**
 * `sanlock client` (the real 3.8.5 CLI) against sanlock-ts prints what it prints against the
 * real daemon: formatting and reading areas, the resource index commands, lockspace
 * membership, and class D commands by pid (acquire / inquire / convert / release) for a
 * registered Python process.
 */
import { join } from "node:path";
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, runClient, spawnPython, onRealAndOurs, tempLeaseDir, waitForLine } from "../../../test/support/index.js";
import type { Test } from "tap";

const MB = 1048576;

/** The CLI steps; `<pid>` is replaced by the registered holder's pid. */
function steps(work: string): string[][] {
  const ls = `CLI:1:${join(work, "ls")}:0`;
  const rx = `CLI:${join(work, "rx")}:0`;
  const res = (name: string, offset: number, suffix = ""): string => `CLI:${name}:${join(work, "res")}:${offset}${suffix}`;
  return [
    ["init", "-s", `CLI:0:${join(work, "ls")}:0`, "-o", "1"],
    ["init", "-r", res("R1", 0)],
    ["init", "-r", res("R2", MB)],
    ["read", "-s", ls],
    ["read", "-r", res("R1", 0)],
    ["read", "-r", res("", 3 * MB)],
    ["align", "-s", ls],
    ["format", "-x", rx],
    ["lookup", "-x", rx],
    ["update", "-x", rx, "-e", `RXB:${3 * MB}`],
    ["add_lockspace", "-s", ls, "-o", "1"],
    ["add_lockspace", "-s", ls, "-o", "1"],
    ["inq_lockspace", "-s", ls],
    ["create", "-x", rx, "-e", "RXA"],
    ["lookup", "-x", rx, "-e", "RXA"],
    ["lookup", "-x", rx, "-e", "NOPE"],
    ["lookup", "-x", rx, "-e", `RXA:${2 * MB}`],
    ["lookup", "-x", rx, "-e", `RXZ:${2 * MB}`],
    ["update", "-x", rx, "-e", `RXB:${3 * MB}`],
    ["lookup", "-x", rx, "-e", `:${3 * MB}`],
    ["update", "-x", rx, "-e", `RXB:${3 * MB}`, "-z", "1"],
    ["delete", "-x", rx, "-e", "RXA"],
    ["rebuild", "-x", rx],
    ["lookup", "-x", rx],
    ["acquire", "-r", res("R1", 0), "-p", "<pid>"],
    ["acquire", "-r", res("R2", MB, ":SH"), "-p", "<pid>"],
    ["acquire", "-r", res("R1", 0), "-p", "<pid>"],
    ["inquire", "-p", "<pid>"],
    ["convert", "-r", res("R2", MB, ":SH"), "-p", "<pid>"],
    ["convert", "-r", res("R2", MB), "-p", "<pid>"],
    ["convert", "-r", res("R2", MB), "-p", "<pid>"],
    ["inquire", "-p", "<pid>"],
    ["read", "-r", res("R1", 0), "-h", "1"],
    ["release", "-r", res("R1", 0), "-p", "<pid>"],
    ["release", "-r", res("R1", 0), "-p", "<pid>"],
    ["release", "-p", "<pid>", "-a", "1"],
    ["inquire", "-p", "<pid>"],
    ["examine", "-s", ls],
    ["set_event", "-s", "CLI", "-i", "0", "-e", "1", "-d", "2"],
    ["rem_lockspace", "-s", ls],
    ["inq_lockspace", "-s", ls],
  ];
}

async function runSteps(t: Test, runDir: string): Promise<string[]> {
  const work = tempLeaseDir(t, "slts-cli-");
  await runClient(runDir, "/usr/bin/python3", [
    "-c",
    `
open("${join(work, "ls")}", "wb").truncate(${MB})
open("${join(work, "res")}", "wb").truncate(${4 * MB})
open("${join(work, "rx")}", "wb").truncate(${8 * MB})
`,
  ]);
  const holder = spawnPython(t, runDir, "import os, sys, sanlock\nfd = sanlock.register()\nprint('pid', os.getpid())\nsys.stdin.readline()\n");
  const pid = (await waitForLine(holder, "pid ")).split(" ")[1] ?? "0";
  const out: string[] = [];
  for (const step of steps(work)) {
    const args = step.map((a) => (a === "<pid>" ? pid : a));
    const run = await runClient(runDir, "sanlock", ["client", ...args], 30_000);
    // Timestamps are each daemon's monotonic seconds: only their presence is compared.
    // The pid is replaced only as a whole number: as a substring it could hit an offset (pid 4857
    // would turn 1048576 into 10<pid>6 for one daemon and not the other).
    const text = run.stdout
      .split(work)
      .join("<dir>")
      .replace(new RegExp(`\\b${pid}\\b`, "g"), "<pid>")
      .replace(/timestamp \d+/g, "timestamp <t>");
    out.push(`$ ${step.join(" ").split(work).join("<dir>")} [exit ${run.code}]\n${text}`);
  }
  holder.stdin?.end();
  return out;
}

t.test(
  "sanlock client prints the same against sanlock-ts as against the real daemon",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 110_000 },
  async (t) => {
    const { real: realOut, ours: ourOut } = await onRealAndOurs(t, (runDir) => runSteps(t, runDir));
    for (let i = 0; i < realOut.length; i++) t.equal(ourOut[i], realOut[i], realOut[i]?.split("\n")[0] ?? "");
  },
);
