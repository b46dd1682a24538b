// DLM locks across two sanlock-ts daemons (processes) sharing one volume, driven by the
// `sanlock-ts dlm` command line as a script would (issue 18's done-when): for every pair of modes,
// host 1 holds one and host 2 asks the other with --noqueue; the answer is the kernel's
// compatibility matrix, written out here from the kernel's table (not from our engine). Then the
// README's TypeScript example (two hosts, PR/EX, a value block, a BAST) runs against the same pair.
import t from "tap";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OUR_CLI, REPO_ROOT, daemonSkipReason, runClient, sparseFile, startDaemon, tempLeaseDir, until } from "./support/index.js";

const MODES = ["NL", "CR", "CW", "PR", "PW", "EX"] as const;
/** __dlm_compat_matrix (fs/dlm/lock.c), rows: granted, columns: requested; 1 = compatible. */
const KERNEL_MATRIX: Record<(typeof MODES)[number], string> = {
  NL: "111111",
  CR: "111110",
  CW: "111000",
  PR: "110100",
  PW: "110000",
  EX: "100000",
};

const skip = daemonSkipReason("sanlock-ts");

function cli(runDir: string, args: string[]): ReturnType<typeof runClient> {
  return runClient(runDir, process.execPath, [OUR_CLI, ...args], 60_000);
}

/** `dlm lock ... --hold 0` in the background; resolves once it printed its grant. */
function holdLock(t: { teardown(fn: () => unknown): void }, runDir: string, mode: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [OUR_CLI, "dlm", "lock", "vg1", "lv7", mode, "--hold", "0"], {
    env: { ...process.env, SANLOCK_RUN_DIR: runDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => child.kill("SIGKILL"));
  let out = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  return until(`host 1 holds ${mode}`, () => (out.includes("granted") ? child : undefined), 30_000);
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

t.test("two daemons, one DLM volume: the CLI gives the kernel's compatibility matrix across hosts", { skip, timeout: 300_000 }, async (t) => {
  const dir = tempLeaseDir(t, "dlm-cli-");
  const volume = sparseFile(dir, "dlm.vol", 64 << 20);
  const host1 = await startDaemon(t, { kind: "sanlock-ts", dir, label: "host 1" });
  const host2 = await startDaemon(t, { kind: "sanlock-ts", dir, label: "host 2" });
  const formatted = await cli(host1.runDir, ["dlm", "format", volume, "-s", "vg1", "-o", "1", "--num-hosts", "8", "--poll-ms", "500"]);
  t.equal(formatted.code, 0, `format: ${formatted.stdout}${formatted.stderr}`);
  for (const [host, id] of [
    [host1, "1"],
    [host2, "2"],
  ] as const) {
    const joined = await cli(host.runDir, ["dlm", "join", "vg1", "-i", id, "--disk", volume]);
    t.equal(joined.stdout, `Joining lockspace "vg1" permission 600\ndone\n`, `host ${id} joined`);
  }
  // Membership is what host 2's watcher has seen of the delta leases: host 1 shows at its next renewal read.
  const members = await until(
    "host 2 lists both hosts",
    async () => {
      const ls = JSON.parse((await cli(host2.runDir, ["dlm", "ls", "--json"])).stdout) as { members: number[] }[];
      return ls[0]?.members.length === 2 ? ls[0].members : undefined;
    },
    20_000,
    500,
  );
  t.same(members, [1, 2], "host 2 sees both hosts as members");

  const wrong: string[] = [];
  for (const held of MODES) {
    const holder = await holdLock(t, host1.runDir, held);
    for (const [j, requested] of MODES.entries()) {
      const r = await cli(host2.runDir, ["dlm", "lock", "vg1", "lv7", requested, "--noqueue", "--json"]);
      const answer = JSON.parse(r.stdout.trim()) as { status: number };
      const expected = KERNEL_MATRIX[held][j] === "1" ? 0 : 11;
      if (answer.status !== expected || r.code !== (expected === 0 ? 0 : 1)) wrong.push(`${held}/${requested}: ${r.stdout.trim()} exit ${r.code}`);
    }
    holder.kill("SIGTERM");
    t.equal(await exited(holder), 0, `host 1 unlocked ${held} and exited`);
  }
  t.same(wrong, [], "36 pairs: granted exactly when the kernel's matrix says compatible, else EAGAIN");

  const holder = await holdLock(t, host1.runDir, "PR");
  const debug = await cli(host1.runDir, ["dlm", "lockdebug", "vg1"]);
  t.match(debug.stdout, /^Resource len {2}3 {2}"lv7"\nGranted Queue\n[0-9a-f]{8} PR\n/m, `lockdebug shows host 1's PR in the granted queue: ${debug.stdout}`);
  holder.kill("SIGTERM");
  await exited(holder);

  const dump = await cli(host1.runDir, ["dlm", "dump", volume]);
  t.match(dump.stdout, /^0004194304 vg1 lv7 \d{4} \d+ "lv7"$/m, "dlm dump shows the resource created on first use, in rindex entry 0");

  // The README's example: host 1 writes a value under EX, keeps PR; host 2 reads it, asks EX, host 1's BAST unlocks.
  const example = join(REPO_ROOT, "packages/client/examples/dlm-two-hosts.ts");
  const saved = { ...process.env };
  Object.assign(process.env, { HOST1_RUN_DIR: host1.runDir, HOST2_RUN_DIR: host2.runDir, DLM_VOLUME: volume });
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void printed.push(args.join(" "));
  try {
    await import(`${example}?run=1`);
  } finally {
    console.log = log;
    for (const key of ["HOST1_RUN_DIR", "HOST2_RUN_DIR", "DLM_VOLUME"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
  t.same(printed, ['host 2 read "generation 42"', "host 1: another host waits for EX", "host 2 holds EX"], "the example's lines");
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  t.ok(readme.includes(`\`\`\`ts\n${readFileSync(example, "utf8")}\`\`\`\n`), "README.md shows the example as it is");
  // The example's create counted on top of `dlm join`'s; its release leaves the join's count (dlm_release_lockspace).
  const after = JSON.parse((await cli(host1.runDir, ["dlm", "ls", "--json"])).stdout) as { name: string; count: number }[];
  t.same(
    after.map((l) => [l.name, l.count]),
    [["vg1", 1]],
    "the example's release took back its own create only",
  );
  t.match((await cli(host1.runDir, ["dlm", "leave", "vg1"])).stdout, /done/, "dlm leave");
  t.same(JSON.parse((await cli(host1.runDir, ["dlm", "ls", "--json"])).stdout), [], "host 1 left the lockspace");
});
