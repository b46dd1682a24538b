#!/usr/bin/env node
// Runs every test with tap and ends with the plain line "N passed, N failed" that CI reads.
// tap's own closing comment "# { total, pass, fail, ... }" counts assertions; we restate it.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const tap = spawn("node_modules/.bin/tap", ["--reporter=tap", ...process.argv.slice(2)], {
  stdio: ["ignore", "pipe", "inherit"],
});
let summary = null;
const lines = createInterface({ input: tap.stdout });
lines.on("line", (line) => {
  process.stdout.write(`${line}\n`);
  const m = /^# \{ (.*) \}$/.exec(line);
  if (m)
    summary = Object.fromEntries(
      m[1]
        .split(", ")
        .map((kv) => kv.split(": "))
        .map(([k, v]) => [k, Number(v)]),
    );
});
tap.on("close", (code) => {
  const passed = summary?.pass ?? 0;
  const failed = summary === null ? 1 : (summary.fail ?? 0);
  const skipped = (summary?.skip ?? 0) + (summary?.todo ?? 0);
  const exitCode = code === 0 && failed === 0 && summary !== null ? 0 : 1;
  if (summary === null) console.log("tap printed no summary: counting the run as one failure");
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  process.exit(exitCode);
});
