// The stand-alone bench tools run against the built packages and print what their headers say.
// (bench/core-cpu.mjs once imported a module from a path the daemon no longer had, and nothing
// noticed.) Small sizes: this checks that each tool runs and counts, not how fast anything is.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import t from "tap";

const BENCH = fileURLToPath(new URL("..", import.meta.url));
const TOOL_TIMEOUT_MS = 120_000;

function runTool(script, args) {
  const run = spawnSync(process.execPath, [`${BENCH}${script}`, ...args], { encoding: "utf8", timeout: TOOL_TIMEOUT_MS });
  return { status: run.status, out: run.stdout, err: run.stderr };
}

t.test("core-cpu.mjs: CPU per exclusive cycle and per renewal, and the reads each cycle needs", async (t) => {
  const run = runTool("core-cpu.mjs", ["--cycles", "40", "--renewals", "40"]);
  t.equal(run.status, 0, run.err);
  const perCycle = /no geometry hint:\s+(\d+) µs CPU\/cycle\s+\((\d+) reads\/cycle/.exec(run.out);
  const hinted = /geometry hint:\s+(\d+) µs CPU\/cycle\s+\((\d+) reads\/cycle\)/.exec(
    run.out.split("\n").find((l) => l.startsWith("exclusive acquire+release, geometry hint")) ?? "",
  );
  const renewal = /delta renewal:\s+(\d+) µs CPU\/renewal/.exec(run.out);
  t.ok(perCycle && hinted && renewal, `all three rows printed:\n${run.out}`);
  // algorithms.md §4.3-4.8: a free lease's acquire reads the area three times and the release
  // reads the leader once; without a geometry hint the first read of the leader finds the
  // area's geometry (one more read).
  t.equal(Number(perCycle?.[2]), 5);
  t.equal(Number(hinted?.[2]), 4);
  for (const m of [perCycle, hinted, renewal]) t.ok(Number(m?.[1]) > 0, "a CPU figure above zero");
});

t.test("parallel-floor.mjs: python's floor, the device layer and the core, each alone and 8 at once", async (t) => {
  const run = runTool("parallel-floor.mjs", ["--seconds", "0.3", "--rounds", "1"]);
  t.equal(run.status, 0, run.err);
  for (const depth of ["python", "device", "core"]) {
    const row = new RegExp(`^${depth}\\s+1 chain ([\\d.]+) ms .*; 8 chains (\\d+) cycles/s \\(([\\d.]+) of python's\\)`, "m").exec(run.out);
    t.ok(row, `${depth} row:\n${run.out}`);
    t.ok(Number(row?.[1]) > 0 && Number(row?.[2]) > 0, `${depth}: a cycle time and a rate above zero`);
    if (depth === "python") t.equal(row?.[3], "1.00", "the floor is its own unit");
  }
});

t.test("argv options: the value after the name, the fallback without it, an error for a missing or non-numeric value", async (t) => {
  const { numberOption, stringOption } = await import("../lib/argv.mjs");
  const argv = ["node", "tool.mjs", "--seconds", "2.5", "--only", "sanlock", "--rounds"];
  t.equal(numberOption("--seconds", 5, argv), 2.5);
  t.equal(stringOption("--only", null, argv), "sanlock");
  t.equal(numberOption("--cycles", 200, argv), 200);
  t.throws(() => numberOption("--rounds", 3, argv), /--rounds needs a value/);
  t.throws(() => numberOption("--only", 3, argv), /--only takes a number, got "sanlock"/);
  t.throws(() => stringOption("--x", null, ["--x", "--y"]), /--x needs a value/);
});
