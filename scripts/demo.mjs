#!/usr/bin/env node
// The main job: initialise a lockspace and a resource lease in a temporary file with the
// sanlock-ts CLI, exactly as `sanlock direct init` would, and print their dump and leaders.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../packages/cli/dist/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sanlock-ts-demo-"));
const leases = join(dir, "leases");
const MiB = 1024 * 1024;

function run(...args) {
  console.log(`$ sanlock-ts ${args.join(" ")}`);
  const out = execFileSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  process.stdout.write(out);
  console.log();
}

try {
  // Lockspace area at 0, resource lease at 1 MiB: each area is one alignment (1M at 512-byte sectors).
  writeFileSync(leases, Buffer.alloc(0));
  execFileSync("truncate", ["-s", String(2 * MiB), leases]);
  run("direct", "init", "-s", `demo:0:${leases}:0`);
  run("direct", "init", "-r", `demo:vm1:${leases}:${MiB}`);
  run("direct", "dump", `${leases}:0:${2 * MiB}`);
  run("direct", "read_leader", "-s", `demo:1:${leases}:0`);
  run("direct", "read_leader", "-r", `demo:vm1:${leases}:${MiB}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
