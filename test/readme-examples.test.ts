// The READMEs' TypeScript examples are files under packages/*/examples, shown word for word;
// this test checks that and runs them: the client quick start against both daemons (a reader who
// copies it gets a joined lockspace, a held lease, and everything released at the end), and the
// core example on its memory device.
import t from "tap";
import { readFileSync } from "node:fs";
import { SanlockClient } from "../packages/client/src/index.js";
import { type DaemonKind, daemonSkipReason, REPO_ROOT, sparseFile, startDaemon } from "./support/index.js";

const EXAMPLE = `${REPO_ROOT}packages/client/examples/quick-start.ts`;
const CORE_EXAMPLE = `${REPO_ROOT}packages/core/examples/areas.ts`;

t.test("the READMEs show the example files as they are", async (t) => {
  const shown: [string, string][] = [
    ["README.md", EXAMPLE],
    ["packages/client/README.md", EXAMPLE],
    ["packages/core/README.md", CORE_EXAMPLE],
  ];
  for (const [readme, example] of shown) {
    const text = readFileSync(`${REPO_ROOT}${readme}`, "utf8");
    t.ok(text.includes(`\`\`\`ts\n${readFileSync(example, "utf8")}\`\`\`\n`), `${readme} shows ${example.slice(REPO_ROOT.length)} in a ts block`);
  }
});

/** Imports `module` afresh (the query string makes a new module) with console.log captured. */
async function runPrinting(module: string, query: string): Promise<string[]> {
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void printed.push(args.join(" "));
  try {
    await import(`${module}?${query}`);
  } finally {
    console.log = log;
  }
  return printed;
}

t.test("the core example formats a lockspace and a resource in memory", async (t) => {
  const printed = await runPrinting(CORE_EXAMPLE, "run=1");
  t.equal(printed[0], "host_id 1: timestamp 0, io_timeout 10", "host_id 1 is free, with the io_timeout written");
  t.match(printed.slice(1).join("\n"), /^01048576 +demo +vm1 0000000000 0000 0000 0$/m, "the dump shows the resource lease at 1 MiB");
});

for (const kind of ["sanlock-ts", "sanlock"] as DaemonKind[]) {
  t.test(`the quick start runs against ${kind}`, { skip: daemonSkipReason(kind), timeout: 120_000 }, async (t) => {
    const daemon = await startDaemon(t, { kind: kind });
    sparseFile(daemon.dir, "lockspace", 1 << 20);
    sparseFile(daemon.dir, "vm1.lease", 1 << 20);
    const saved = { runDir: process.env.SANLOCK_RUN_DIR, leaseDir: process.env.LEASE_DIR };
    process.env.SANLOCK_RUN_DIR = daemon.runDir;
    process.env.LEASE_DIR = daemon.dir;
    let printed: string[];
    try {
      printed = await runPrinting(EXAMPLE, `daemon=${kind}`);
    } finally {
      process.env.SANLOCK_RUN_DIR = saved.runDir;
      process.env.LEASE_DIR = saved.leaseDir;
      if (saved.runDir === undefined) delete process.env.SANLOCK_RUN_DIR;
      if (saved.leaseDir === undefined) delete process.env.LEASE_DIR;
    }
    t.same(printed, ["holding demo:vm1"], "the lease was acquired");
    const client = new SanlockClient({ runDir: daemon.runDir });
    t.same(await client.getLockspaces(), [], "the lockspace was left at the end");
    t.same(await client.readResourceOwners("demo", "vm1", [{ path: `${daemon.dir}/vm1.lease`, offset: 0 }]), [], "vm1 has no owner on disk");
    const onDisk = await client.readResource(`${daemon.dir}/vm1.lease`);
    t.equal(onDisk.resource, "vm1", "the resource area was formatted");
  });
}
