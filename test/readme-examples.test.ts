// The README's TypeScript quick start is packages/client/examples/quick-start.ts, word for word;
// this test checks that and runs the example against both daemons: a reader who copies it gets
// a joined lockspace, a held lease, and everything released at the end.
import t from "tap";
import { readFileSync } from "node:fs";
import { SanlockClient } from "../packages/client/src/index.js";
import { REPO_ROOT, daemonSkipReason, leaseFile, startDaemon, type DaemonKind } from "./client-daemons.js";

const EXAMPLE = `${REPO_ROOT}packages/client/examples/quick-start.ts`;

t.test("the README shows the example file as it is", async (t) => {
  const readme = readFileSync(`${REPO_ROOT}README.md`, "utf8");
  const example = readFileSync(EXAMPLE, "utf8");
  t.ok(readme.includes("```ts\n" + example + "```\n"), "README.md has quick-start.ts in a ts block");
});

for (const kind of ["sanlock-ts", "sanlock"] as DaemonKind[]) {
  t.test(`the quick start runs against ${kind}`, { skip: daemonSkipReason(kind), timeout: 120_000 }, async (t) => {
    const daemon = await startDaemon(t, kind);
    leaseFile(daemon.dir, "lockspace", 1 << 20);
    leaseFile(daemon.dir, "vm1.lease", 1 << 20);
    const saved = { runDir: process.env.SANLOCK_RUN_DIR, leaseDir: process.env.LEASE_DIR };
    const printed: string[] = [];
    const log = console.log;
    process.env.SANLOCK_RUN_DIR = daemon.runDir;
    process.env.LEASE_DIR = daemon.dir;
    console.log = (...args: unknown[]) => void printed.push(args.join(" "));
    try {
      // A query string per daemon: each run evaluates the module afresh.
      await import(`${EXAMPLE}?daemon=${kind}`);
    } finally {
      console.log = log;
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
