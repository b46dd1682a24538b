// `sanlock-ts client <action>` against `sanlock client <action>` 3.8.5, both
// talking to the real daemon: same stdout, same exit status. Actions that
// change state are compared in do/undo pairs run crosswise (sanlock does,
// ours undoes, ours does, sanlock undoes), so each tool sees the same state.
import t from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SanlockClient } from "../packages/client/src/index.js";
import { daemonSkipReason, OUR_CLI, retrying, sparseFile, startDaemon, type TestDaemon } from "./support/index.js";

const run = promisify(execFile);

interface Outcome {
  stdout: string;
  stderr: string;
  code: number;
}

async function invoke(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(cmd, args, { env, timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", code: typeof e.code === "number" ? e.code : -1 };
  }
}

/**
 * Output with the values that legitimately change between two runs masked:
 * delta-lease timestamps (renewed every few seconds) and lease versions
 * (every acquire increments them), and in status the nameless unregistered
 * clients, which are connections the daemon is still closing.
 */
function stable(text: string): string {
  return text
    .replace(/^p -1 \n/gm, "")
    .replace(/timestamp[ =]\d+/g, "timestamp N")
    .replace(/(:\d+):\d+(?=["\s]|$)/gm, "$1:LVER");
}

const real = (d: TestDaemon, args: string[]): Promise<Outcome> => invoke("sanlock", ["client", ...args], d.env);
const ours = (d: TestDaemon, args: string[]): Promise<Outcome> => invoke(process.execPath, [OUR_CLI, "client", ...args], d.env);

t.test("sanlock-ts client matches sanlock client", { skip: daemonSkipReason("sanlock") || daemonSkipReason("sanlock-ts") }, async (t) => {
  const d = await startDaemon(t, { kind: "sanlock" });
  const ls = sparseFile(d.dir, "ls");
  const res = sparseFile(d.dir, "res");
  const LS = `LS:1:${ls}:0`;
  const R1 = `LS:R1:${res}:0`;
  const R2 = `LS:R2:${res}:1M`;

  /** Same output and status from both tools for an action that does not change state. */
  const same = async (args: string[], expectCode?: number): Promise<Outcome> => {
    const a = await real(d, args);
    const b = await ours(d, args);
    t.equal(stable(b.stdout), stable(a.stdout), `stdout of ${args.join(" ")}`);
    t.equal(b.code, a.code, `exit status of ${args.join(" ")}`);
    if (expectCode !== undefined) t.equal(a.code, expectCode, `sanlock's exit status of ${args.join(" ")}`);
    return b;
  };

  /** A do/undo pair compared crosswise; `check` runs (with sanlock) after each "do". */
  const pair = async (doArgs: string[], undoArgs: string[], check?: string[]): Promise<void> => {
    const realDo = await real(d, doArgs);
    t.equal(realDo.code, 0, `sanlock ${doArgs.join(" ")} succeeds: ${realDo.stdout}`);
    const afterRealDo = check ? await real(d, check) : null;
    const oursUndo = await ours(d, undoArgs);
    const oursDo = await ours(d, doArgs);
    const afterOursDo = check ? await real(d, check) : null;
    const realUndo = await real(d, undoArgs);
    t.equal(stable(oursDo.stdout), stable(realDo.stdout), `stdout of ${doArgs.join(" ")}`);
    t.equal(oursDo.code, realDo.code, `exit status of ${doArgs.join(" ")}`);
    t.equal(stable(oursUndo.stdout), stable(realUndo.stdout), `stdout of ${undoArgs.join(" ")}`);
    t.equal(oursUndo.code, realUndo.code, `exit status of ${undoArgs.join(" ")}`);
    if (afterRealDo && afterOursDo) t.equal(stable(afterOursDo.stdout), stable(afterRealDo.stdout), `state after ${doArgs.join(" ")}`);
  };

  await t.test("version and formatting", async () => {
    await same(["version"], 0);
    await same(["init", "-s", `LS:0:${ls}:0`, "-o", "1"], 0);
    await same(["init", "-r", R1], 0);
    await same(["init", "-r", R2], 0);
    await same(["read", "-s", `LS:0:${ls}:0`, "-D"], 0);
    await same(["read", "-r", R1, "-D"], 0);
    await same(["read", "-r", `LS:R1:${res}:2M`], 1); // no lease there: read error -223
    await same(["align", "-s", `LS:0:${ls}:0`], 1); // positive alignment, exit 1
  });

  await t.test("lockspace join and leave", async () => {
    await same(["inq_lockspace", "-s", LS], 1);
    await pair(["add_lockspace", "-s", LS, "-o", "1"], ["rem_lockspace", "-s", LS], ["inq_lockspace", "-s", LS]);
    await same(["rem_lockspace", "-s", LS], 1); // not joined: -2
  });

  const join = await real(d, ["add_lockspace", "-s", LS, "-o", "1"]);
  t.equal(join.code, 0, "joined");
  t.teardown(() => real(d, ["rem_lockspace", "-s", LS]));

  await t.test("lockspace listings", async () => {
    const client = new SanlockClient({ runDir: d.runDir });
    await retrying(() => client.getHosts("LS"), [11]);
    await same(["inq_lockspace", "-s", LS], 0);
    await same(["gets"], 0);
    await same(["gets", "-h", "1"], 0);
    await same(["host_status", "-s", "LS"], 0);
    await same(["host_status"], 0);
    await same(["host_status", "-s", "NOPE"], 1);
    await same(["status"], 0);
    await same(["set_event", "-s", "NOPE", "-i", "1", "-e", "0x10", "-d", "7"], 1);
    await same(["set_config", "-s", "NOPE", "-u", "1"], 1);
    await same(["examine", "-r", R1], 0);
  });

  await t.test("leases of a registered pid", async (t) => {
    const client = new SanlockClient({ runDir: d.runDir });
    await using reg = await client.register();
    t.ok(reg.isOpen);
    const pid = String(process.pid);
    await same(["inquire", "-p", pid], 0);
    await pair(["acquire", "-r", R1, "-p", pid], ["release", "-r", R1, "-p", pid], ["inquire", "-p", pid]);
    await pair(["acquire", "-r", `LS:R2:${res}:1M:SH`, "-p", pid], ["release", "-r", R2, "-p", pid], ["inquire", "-p", pid, "-D"]);
    const held = await real(d, ["acquire", "-r", R1, "-p", pid]);
    t.equal(held.code, 0);
    await same(["inquire", "-p", pid, "-D"], 0);
    await same(["status"], 0);
    await same(["status", "-o", "p"], 0);
    await same(["status", "-o", "s"], 0);
    await same(["read", "-r", R1, "-h", "1"], 0);
    await same(["acquire", "-r", R1, "-p", pid], 1); // already held: -17
    await pair(["convert", "-r", `LS:R1:${res}:0:SH`, "-p", pid], ["convert", "-r", R1, "-p", pid], ["inquire", "-p", pid]);
    await same(["convert", "-r", R1, "-p", pid], 1); // already exclusive: -114
    t.equal((await real(d, ["release", "-r", R1, "-p", pid])).code, 0);
    await same(["release", "-r", R1, "-p", pid], 1); // not held: -1
    await same(["acquire", "-r", `LS:R9:${res}:2M`, "-p", pid], 1); // no lease on disk: -223
    await same(["inquire", "-p", "1"], 1); // not registered: -3
  });

  await t.test("resource index actions", async () => {
    const rx = sparseFile(d.dir, "rindex", 16 << 20);
    const X = `LS:${rx}:0`;
    await same(["format", "-x", X], 0);
    await same(["lookup", "-x", X], 0); // first free offset
    await pair(["create", "-x", X, "-e", "RX1"], ["delete", "-x", X, "-e", "RX1"], ["lookup", "-x", X, "-e", "RX1"]);
    await same(["lookup", "-x", X, "-e", "RX1"], 1); // deleted: -2
    await pair(["update", "-x", X, "-e", "RX2:2M"], ["update", "-x", X, "-e", "RX2:2M", "-z", "1"], ["lookup", "-x", X, "-e", "RX2"]);
    await same(["rebuild", "-x", X], 0);
  });

  await t.test("events, config and logs", async (t) => {
    await pair(["set_config", "-s", "LS", "-u", "1"], ["set_config", "-s", "LS", "-u", "0"]);
    await pair(["set_event", "-s", "LS", "-i", "1", "-e", "0x10", "-d", "7"], ["set_event", "-s", "LS", "-i", "1", "-e", "0", "-d", "0"]);
    const a = await real(d, ["renewal", "-s", "LS"]);
    const b = await ours(d, ["renewal", "-s", "LS"]);
    const shape = (text: string): string => text.replace(/\d+/g, "N").split("\n")[0] ?? "";
    t.equal(shape(b.stdout), shape(a.stdout), "renewal lines have sanlock's fields");
    t.equal(b.code, a.code);
    await same(["renewal", "-s", "NOPE"], 1);
    const log = await ours(d, ["log_dump"]);
    t.equal(log.code, 1, "log_dump exits 1 after a dump, like sanlock");
    t.match(log.stdout, /sanlock daemon started/, "the daemon's log is printed");
  });

  await t.test("errors name the sanlock code on stderr", async (t) => {
    const out = await ours(d, ["read", "-r", `LS:R1:${res}:2M`]);
    t.equal(out.stdout, "read error -223\n");
    t.match(out.stderr, /SANLK_LEADER_MAGIC \(-223\): Lease does not exist on storage/);
  });

  await t.test("--json prints the tables as JSON", async (t) => {
    const status = JSON.parse((await ours(d, ["status", "--json"])).stdout) as { type: string; name: string; path?: string }[];
    t.ok(
      status.some((r) => r.type === "lockspace" && r.name === "LS" && r.path === ls),
      "status --json lists the lockspace",
    );
    const gets = JSON.parse((await ours(d, ["gets", "-h", "1", "--json"])).stdout) as { lockspace: string; hosts: { hostId: number }[] }[];
    t.same(
      gets.map((g) => [g.lockspace, g.hosts.map((h) => h.hostId)]),
      [["LS", [1]]],
    );
  });

  await t.test("command holds the leases while the program runs", async (t) => {
    // The program asks the daemon, through sanlock's own CLI, what it holds: it is the lease owner (exec, as sanlock).
    const out = await ours(d, ["command", "-r", R2, "-c", "/bin/sh", "-c", "sanlock client inquire -p $$"]);
    const lines = out.stdout.split("\n");
    t.equal(lines[0], "register");
    t.match(lines[1] ?? "", /^register done \d+$/);
    t.match(lines[3] ?? "", /^acquire done 0$/);
    t.match(out.stdout, new RegExp(`"LS:R2:${res.replace(/[/.]/g, "\\$&")}:1048576:\\d+"`), "the program sees the lease held");
    t.equal(out.code, 0);
    const after = await real(d, ["read", "-r", R2, "-h", "1"]);
    t.notMatch(after.stdout, /^h /m, "no owner after the program ended");
  });

  await t.test("shutdown -f 1 -w 1 waits for the daemon to exit", async (t) => {
    const out = await ours(d, ["shutdown", "-f", "1", "-w", "1"]);
    t.equal(out.stdout, "shutdown force 1 wait 1\nshutdown done 0\n");
    t.equal(out.code, 0);
    t.equal((await real(d, ["status"])).code, 1, "the daemon is gone");
  });
});

t.test("without a daemon both report the connect error", { skip: daemonSkipReason("sanlock") || daemonSkipReason("sanlock-ts") }, async (t) => {
  const env = { ...process.env, SANLOCK_RUN_DIR: "/var/tmp/no-such-sanlock-run-dir" };
  for (const args of [["status"], ["gets"], ["version"], ["shutdown"], ["add_lockspace", "-s", "LS:1:/x:0"], ["inquire", "-p", "1"], ["bogus"]]) {
    const a = await invoke("sanlock", ["client", ...args], env);
    const b = await invoke(process.execPath, [OUR_CLI, "client", ...args], env);
    t.equal(b.stdout, a.stdout, `stdout of ${args.join(" ")}`);
    t.equal(b.code, a.code, `exit status of ${args.join(" ")}`);
  }
});
