/**
 * The embedded daemon seen from outside, and a daemon you can see into (README "The daemon
 * inside an appliance", "What is my daemon doing"). One file, so that the example appliance's
 * child process joins its lockspace while the in-process daemon runs its own case.
 *
 * - The example appliance (packages/daemon/examples/appliance.mjs) runs startEmbeddedDaemon with
 *   a shared socket, joins a lockspace and holds a lease; the real `sanlock client status` (3.8.5)
 *   and python3-sanlock, pointed at its run dir, see that lockspace and that lease held by the
 *   appliance's pid. SIGTERM then stops it cleanly: lease released, lockspace left, exit 0.
 * - A daemon started in this process (io_timeout 1) with subscribers on its diagnostics channels:
 *   every renewal of the RENEWAL history reaches the renewal channel with the worker's measured
 *   lateness and duration; `sanlock-ts client metrics --json` reports histograms (count and sum)
 *   equal to what the channels carried up to the snapshot; `--prometheus` prints them.
 * - Against the real sanlock 3.8.5, `sanlock-ts client metrics` says "not supported by this
 *   daemon" and fails at once instead of waiting.
 */
import t from "tap";
import { execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { SanlockClient } from "../packages/client/src/index.js";
import { startEmbeddedDaemon } from "../packages/daemon/src/embedded/index.js";
import { subscribeTo, type ChannelKey, type ChannelMessages } from "../packages/daemon/src/diagnostics.js";
import {
  daemonSkipReason,
  environmentSkip,
  monotonicSeconds,
  OUR_CLI,
  renewalHistory,
  REPO_ROOT,
  sleep,
  sparseFile,
  startDaemon,
  tempLeaseDir,
} from "./support/index.js";

const MiB = 1 << 20;
const IO_TIMEOUT = 1;
const RENEWALS_WATCHED = 3;

interface Seen<K extends ChannelKey> {
  readonly message: ChannelMessages[K];
  /** Monotonic seconds when it was published (the daemon's snapshot has a `now` on the same clock). */
  readonly at: number;
}

function collect<K extends ChannelKey>(t: { teardown(fn: () => unknown): void }, key: K): Seen<K>[] {
  const seen: Seen<K>[] = [];
  t.teardown(subscribeTo(key, (message) => void seen.push({ message, at: monotonicSeconds() })));
  return seen;
}

function cli(args: string[], runDir: string): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const started = monotonicSeconds();
  return new Promise((resolve) =>
    execFile(process.execPath, [OUR_CLI, ...args], { env: { ...process.env, SANLOCK_RUN_DIR: runDir }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr, seconds: monotonicSeconds() - started }),
    ),
  );
}

interface HistogramJson {
  labels: Record<string, string>;
  count: number;
  sum: number;
}

function histogram(snapshot: { histograms: Record<string, HistogramJson[]> }, name: string, lockspace: string): HistogramJson | undefined {
  return snapshot.histograms[name]?.find((h) => h.labels["lockspace"] === lockspace);
}

const EXAMPLE = `${REPO_ROOT}packages/daemon/examples/appliance.mjs`;
const PYTHON = "/usr/bin/python3";
const havePythonSanlock = spawnSync(PYTHON, ["-c", "import sanlock"]).status === 0;

function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(" ")}: ${error.message} ${stderr}`)) : resolve(stdout),
    ),
  );
}

const sumOf = (values: number[]): number => values.reduce((a, b) => a + b, 0);

t.test("channels and metrics of an embedded daemon", { skip: daemonSkipReason(["sanlock-ts"]), timeout: 120_000 }, async (t) => {
  const renewals = collect(t, "renewal");
  const acquires = collect(t, "acquire");
  const releases = collect(t, "release");
  const joined = collect(t, "lockspaceJoined");
  const dir = tempLeaseDir(t, "diagnostics-");
  const runDir = mkdtempSync("/tmp/sanlock-ts-diag-");
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const daemon = await startEmbeddedDaemon({
    client: SanlockClient,
    runDir,
    socket: "shared",
    watchdog: "none",
    settings: { socketUser: "root", socketGroup: "root" },
  });
  t.teardown(() => daemon.close());
  const { client } = daemon;
  const lockspace = sparseFile(dir, "ls", MiB);
  const disks = [{ path: sparseFile(dir, "res", MiB), offset: 0 }];
  await client.writeLockspace("DIAG", lockspace, { iotimeout: IO_TIMEOUT });
  await client.writeResource("DIAG", "R", disks);
  await client.addLockspace("DIAG", 1, lockspace, { iotimeout: IO_TIMEOUT });
  t.equal(joined.filter((s) => s.message.lockspace === "DIAG").length, 1, "one lockspace-joined message");
  const registration = await client.register();
  for (let i = 0; i < 2; i++) {
    await client.acquire("DIAG", "R", disks, { registration });
    await client.release("DIAG", "R", disks, { registration });
  }
  await registration.close();
  const deadline = monotonicSeconds() + 30;
  while (renewals.length < RENEWALS_WATCHED && monotonicSeconds() < deadline) await sleep(250);

  t.test("every renewal reaches the renewal channel with its lateness", async (t) => {
    const history = await renewalHistory(runDir, "DIAG", 20_000);
    const published = renewals.filter((s) => s.message.lockspace === "DIAG").map((s) => s.message);
    // history[0] is the join's own write, not a renewal attempt.
    const attempts = history.slice(1);
    t.ok(attempts.length >= RENEWALS_WATCHED, `${attempts.length} renewals in the RENEWAL history`);
    t.same(
      published.map((m) => m.timestamp),
      attempts.map((row) => row.timestamp),
      "the channel carried exactly the renewals of the history, in order",
    );
    t.same(
      published.map((m) => [m.readMs, m.writeMs]),
      attempts.map((row) => [row.readMs, row.writeMs]),
      "with the read and write times the worker measured",
    );
    for (const m of published) {
      t.ok(
        m.result === 0 && m.latenessMs >= 0 && m.latenessMs < 60_000 && m.durationMs >= 0,
        `renewal ${m.timestamp}: lateness ${m.latenessMs.toFixed(0)} ms, duration ${m.durationMs.toFixed(1)} ms`,
      );
      t.ok(m.startedAt <= m.timestamp + 1 && m.startedAt >= m.timestamp - 60, "started around its timestamp");
    }
  });

  t.test("client metrics --json matches the channels", async (t) => {
    // The snapshot's `now` is in whole seconds, so it cannot tell which messages of its own second
    // came before it. Instead: the messages seen before the CLI started are the ones it must count,
    // and a snapshot during which a DIAG message arrived is taken again (a renewal every 2 s).
    const diag = (s: { at: number; message: unknown }): boolean => (s.message as { lockspace?: string }).lockspace === "DIAG";
    const arrivedBetween = (from: number, to: number): boolean =>
      [renewals, acquires, releases].some((seen: { at: number; message: unknown }[]) => seen.some((s) => diag(s) && s.at >= from && s.at <= to));
    let startedAt = monotonicSeconds();
    let run = await cli(["client", "metrics", "--json"], runDir);
    for (let attempt = 1; attempt < 10 && arrivedBetween(startedAt, monotonicSeconds()); attempt++) {
      startedAt = monotonicSeconds();
      run = await cli(["client", "metrics", "--json"], runDir);
    }
    t.equal(run.code, 0, `metrics --json exits 0 ${run.stderr}`);
    const snapshot = JSON.parse(run.stdout) as { now: number; histograms: Record<string, HistogramJson[]> };
    const before = <K extends ChannelKey>(seen: Seen<K>[]): ChannelMessages[K][] => seen.filter((s) => s.at < startedAt && diag(s)).map((s) => s.message);
    const checks: [string, number[]][] = [
      ["renewal_duration_ms", before(renewals).map((m) => m.durationMs)],
      ["renewal_lateness_ms", before(renewals).map((m) => m.latenessMs)],
      ["acquire_latency_ms", before(acquires).map((m) => m.durationMs)],
      ["release_latency_ms", before(releases).map((m) => m.durationMs)],
      ["acquire_io_count", before(acquires).map((m) => m.ioCount)],
    ];
    for (const [name, values] of checks) {
      const h = histogram(snapshot, name, "DIAG");
      t.equal(h?.count, values.length, `${name}: count ${h?.count} = ${values.length} messages`);
      t.ok(h !== undefined && Math.abs(h.sum - sumOf(values)) < 1e-6, `${name}: sum ${h?.sum.toFixed(3)} = ${sumOf(values).toFixed(3)}`);
    }
    t.equal(before(acquires).length, 2, "two acquires seen");
    t.ok(
      before(acquires).every((m) => m.result === 0 && m.mode === "ex" && m.ioCount > 0),
      `each acquire succeeded exclusively with disk I/O (${before(acquires)
        .map((m) => m.ioCount)
        .join(", ")} I/Os)`,
    );
    const prometheus = await cli(["client", "metrics", "--prometheus"], runDir);
    t.match(prometheus.stdout, /^# TYPE sanlock_ts_renewal_duration_seconds histogram$/m, "--prometheus declares the histogram");
    t.match(prometheus.stdout, /^sanlock_ts_renewal_duration_seconds_bucket\{lockspace="DIAG",le="\+Inf"\} \d+$/m, "with its +Inf bucket");
    t.match(prometheus.stdout, /^sanlock_ts_acquires_total\{lockspace="DIAG",mode="ex",result="ok"\} 2$/m, "and the acquire counter");
  });
});

t.test("startEmbeddedDaemon's defaults and refusals", { skip: daemonSkipReason(["sanlock-ts"]), timeout: 60_000 }, async (t) => {
  const daemon = await startEmbeddedDaemon({ client: SanlockClient, watchdog: "none" });
  const mode = statSync(daemon.runDir).mode & 0o777;
  t.equal(mode.toString(8), "700", `the default run dir ${daemon.runDir} is private`);
  t.equal(daemon.socketPath, `${daemon.runDir}/sanlock.sock`, "the socket is in it");
  t.equal((await daemon.client.version()).versionString, "3.8.5", "the handle's client talks to it");
  await daemon[Symbol.asyncDispose]();
  t.notOk(existsSync(daemon.runDir), "close() removed the run dir it made");

  const open = mkdtempSync("/tmp/sanlock-ts-open-");
  t.teardown(() => rmSync(open, { recursive: true, force: true }));
  chmodSync(open, 0o755);
  await t.rejects(
    startEmbeddedDaemon({ client: SanlockClient, watchdog: "none", runDir: open }),
    { code: "ERR_DAEMON_RUN_DIR_NOT_PRIVATE" },
    "a private socket in a run dir others can enter is refused",
  );
  await t.rejects(
    startEmbeddedDaemon({ client: SanlockClient, watchdog: "none", settings: { killGraceSeconds: 61 } }),
    { code: "ERR_DAEMON_BAD_OPTION" },
    "a kill grace outside 0..60 is refused",
  );
  if (!existsSync("/dev/watchdog")) {
    await t.rejects(
      startEmbeddedDaemon({ client: SanlockClient }),
      { code: "ERR_DAEMON_START_FAILED" },
      "the default watchdog without /dev/watchdog refuses to start, never a silent none",
    );
  }
});

/**
 * The same commands on both daemons: format, join (io_timeout 1), python3-sanlock registers,
 * acquires, releases, acquires again and exits, then status and rem_lockspace.
 */
async function logScenario(runDir: string, dir: string): Promise<string> {
  const env = { SANLOCK_RUN_DIR: runDir };
  const ls = sparseFile(dir, "log-ls", MiB);
  const res = sparseFile(dir, "log-res", MiB);
  await run("sanlock", ["client", "init", "-s", `LS:0:${ls}:0`, "-o", "1"], env);
  await run("sanlock", ["client", "init", "-r", `LS:R:${res}:0`], env);
  await run("sanlock", ["client", "add_lockspace", "-s", `LS:1:${ls}:0`, "-o", "1"], env);
  const holder = [
    "import sanlock, sys",
    "fd = sanlock.register()",
    "disks = [(sys.argv[1], 0)]",
    `sanlock.acquire(b"LS", b"R", disks, slkfd=fd)`,
    `sanlock.release(b"LS", b"R", disks, slkfd=fd)`,
    `sanlock.acquire(b"LS", b"R", disks, slkfd=fd)`,
  ].join("\n");
  await run(PYTHON, ["-c", holder, res], env);
  await sleep(1000); // the background release after the holder's exit
  await run("sanlock", ["client", "status"], env);
  await run("sanlock", ["client", "rem_lockspace", "-s", `LS:1:${ls}:0`], env);
  // log_dump exits 1 after a dump (sanlock's status is the dump's length): keep its output anyway.
  return new Promise((resolve) =>
    execFile("sanlock", ["client", "log_dump"], { env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 4 << 20 }, (_error, stdout) => resolve(stdout)),
  );
}

/** Lines both daemons must log for logScenario, in sanlock's words (a regexp each, in order). */
function expectedLines(ls: string, res: string): RegExp[] {
  const esc = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const id = String.raw`\d+,\d+`;
  const holder = String.raw`\d+,\d+,\d+`;
  return [
    new RegExp(`cmd_write_lockspace ${id} LS:0:${esc(ls)}:0 0x0$`),
    new RegExp(`cmd_write_lockspace ${id} done 0$`),
    new RegExp(`cmd_add_lockspace ${id} LS:1:${esc(ls)}:0 flags 0 timeout 1$`),
    new RegExp(`s1 lockspace LS:1:${esc(ls)}:0$`),
    /s1 delta_acquire begin LS:1$/,
    /s1 delta_acquire write 1 1 \d+ \S+$/,
    /s1 delta_acquire delta_short_delay \d+$/,
    /s1 delta_acquire done 1 1 \d+$/,
    /s1 add_lockspace done$/,
    new RegExp(`cmd_add_lockspace ${id} done 0$`),
    /cmd_register ci \d+ fd \d+ pid \d+$/,
    new RegExp(`cmd_acquire ${holder} ci_in \\d+ fd \\d+ count 1 flags 0$`),
    new RegExp(`s1:r\\d+ resource LS:R:${esc(res)}:0$`),
    /s1:r\d+ paxos_acquire begin offset 0/,
    // The core's steps (paxos-trace.ts), in sanlock's paxos_lease.c words.
    /s1:r\d+ leader 0 owner 0 0 0 dblocks ?$/,
    /s1:r\d+ paxos_acquire leader 0 owner 0 0 0 max mbal\[\d+\] 0 our_dblock 0 0 0 0 0 0$/,
    /s1:r\d+ paxos_acquire leader 0 free$/,
    /s1:r\d+ ballot 1 phase1 write mbal 1$/,
    /s1:r\d+ ballot 1 phase1 read 0:1:0:0:0:0:1:0,$/,
    /s1:r\d+ ballot 1 phase2 write bal 1 inp 1 1 \d+ q_max -1$/,
    /s1:r\d+ ballot 1 phase2 read 0:1:1:1:1:\d+:1:0,$/,
    /s1:r\d+ ballot 1 commit self owner 1 1 \d+$/,
    /s1:r\d+ acquire_disk rv 1 lver 1 at \d+$/,
    new RegExp(`cmd_acquire ${holder} result 0 pid_dead 0$`),
    new RegExp(`cmd_release ${holder} ci_in \\d+ fd \\d+ count 1 flags 0$`),
    /s1:r\d+ release_token r_flags 0 lver 1$/,
    /s1:r\d+ write_host_block host_id 1 flags 0 gen 0 dblock 1:1:1:1:\d+:1:RELEASED\.$/,
    /s1:r\d+ paxos_release leader 1 owner 1 1 \d+$/,
    /s1:r\d+ release_token done r_flags 0$/,
    new RegExp(`cmd_release ${holder} result 0 pid_dead 0 count 1$`),
    /s1:r\d+ ballot 2 commit self owner 1 1 \d+$/,
    /s1:r\d+ acquire_disk rv 1 lver 2 at \d+$/,
    new RegExp(`client_pid_dead ${holder} cmd_active 0 suspend 0$`),
    /: r\d+ release async r_flags 0$/,
    /: r\d+ paxos_release leader 2 owner 1 1 \d+$/,
    /: r\d+ release async done r_flags 0$/,
    new RegExp(`cmd_status ${id}$`),
    new RegExp(`cmd_rem_lockspace ${id} LS flags 0$`),
    /s1 set killing_pids check 0 remove 1$/,
    /s1 all pids clear$/,
    /s1 delta_release begin LS:1$/,
    /s1 delta_release done 1 1 0$/,
    /s1 free lockspace$/,
    new RegExp(`cmd_rem_lockspace ${id} done 0$`),
  ];
}

/** The expected lines not found in order in `log` (each one after the previous match). */
function missingInOrder(log: string, expected: RegExp[]): string[] {
  const lines = log.split("\n");
  const missing: string[] = [];
  let from = 0;
  for (const pattern of expected) {
    const at = lines.findIndex((line, i) => i >= from && pattern.test(line));
    if (at < 0) missing.push(pattern.source);
    else from = at + 1;
  }
  return missing;
}

const logSkip = daemonSkipReason("sanlock") || daemonSkipReason("sanlock-ts") || environmentSkip(!havePythonSanlock && "python3-sanlock is not installed");

/** Both daemons, started now and driven through logScenario while the in-process case runs. */
async function runBothDaemons(t: { teardown(fn: () => unknown): void }) {
  const [real, ours] = await Promise.all([startDaemon(t, { kind: "sanlock" }), startDaemon(t, { kind: "sanlock-ts" })]);
  const metrics = await cli(["client", "metrics"], real.runDir);
  const [realLog, ourLog] = await Promise.all([logScenario(real.runDir, real.dir), logScenario(ours.runDir, ours.dir)]);
  return { real, ours, metrics, realLog, ourLog };
}
const bothDaemons = logSkip ? undefined : runBothDaemons(t);
bothDaemons?.catch(() => undefined); // awaited by the test below; no unhandled rejection meanwhile

t.test("real sanlock: metrics not supported; both daemons log the same commands in sanlock's words", { skip: logSkip, timeout: 120_000 }, async (t) => {
  if (bothDaemons === undefined) return;
  const { real, ours, metrics, realLog, ourLog } = await bothDaemons;
  t.equal(metrics.code, 1, "metrics: exit status 1");
  t.match(metrics.stderr, /metrics: not supported by this daemon \(it answered -2\)/, "says the daemon does not support it");
  t.ok(metrics.seconds < 20, `answered in ${metrics.seconds.toFixed(1)} s, no wait for a reply that never comes`);
  for (const [kind, log, dir] of [
    ["sanlock", realLog, real.dir],
    ["sanlock-ts", ourLog, ours.dir],
  ] as const) {
    const missing = missingInOrder(log, expectedLines(`${dir}/log-ls`, `${dir}/log-res`));
    t.same(missing, [], `${kind}'s log_dump has every expected line in order${missing.length > 0 ? `:\n${log}` : ""}`);
  }
});

/** Starts the example appliance in its own process; `holding` resolves once it holds its lease. */
function startAppliance(t: { teardown(fn: () => unknown): void }) {
  const dir = tempLeaseDir(t, "embedded-appliance-");
  const lockspace = sparseFile(dir, "lockspace", MiB);
  const lease = sparseFile(dir, "vm1.lease", MiB);
  const runDir = mkdtempSync("/tmp/sanlock-ts-appliance-");
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const env = { SANLOCK_RUN_DIR: runDir, LEASE_DIR: dir, INIT: "1", IO_TIMEOUT: "1", WATCHDOG: "none", UV_THREADPOOL_SIZE: "128" };
  const child = spawn(process.execPath, [EXAMPLE], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const out = { stdout: "", stderr: "" };
  child.stderr.on("data", (chunk: Buffer) => {
    if (out.stderr.length < 100_000) out.stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const holding = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "holding" within 90 s: ${out.stdout} ${out.stderr}`)), 90_000);
    child.stdout.on("data", (chunk: Buffer) => {
      out.stdout += chunk.toString();
      if (out.stdout.includes("holding demo:vm1")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the appliance exited: ${out.stdout} ${out.stderr}`));
    });
  });
  holding.catch(() => undefined); // awaited by the test; no unhandled rejection meanwhile
  return { child, exited, holding, out, runDir, lockspace, lease };
}

const applianceSkip = daemonSkipReason(["sanlock-ts", "sanlock"]) || environmentSkip(!havePythonSanlock && "python3-sanlock is not installed");
// Started before the in-process case so that its join overlaps it.
const appliance = applianceSkip ? undefined : startAppliance(t);

t.test("the real sanlock client and python3-sanlock see an embedded daemon's state", { skip: applianceSkip, timeout: 120_000 }, async (t) => {
  if (appliance === undefined) return;
  const { child, exited, out, runDir, lockspace, lease } = appliance;
  await appliance.holding;
  const pid = child.pid ?? 0;

  const status = await run("sanlock", ["client", "status"], { SANLOCK_RUN_DIR: runDir });
  t.match(status, new RegExp(`^s demo:1:${lockspace}:0$`, "m"), "sanlock client status lists the joined lockspace");
  t.match(status, new RegExp(`^r demo:vm1:${lease}:0:1 p ${pid}$`, "m"), "and the lease, held by the appliance's pid");
  const ours = await run(process.execPath, [OUR_CLI, "client", "status"], { SANLOCK_RUN_DIR: runDir });
  t.equal(ours, status, "sanlock-ts client status prints the same");

  const python = await run(
    PYTHON,
    [
      "-c",
      [
        "import sanlock, json, sys",
        "text = lambda v: v.decode() if isinstance(v, bytes) else v",
        "ls = sanlock.get_lockspaces()",
        `owners = sanlock.read_resource_owners(b"demo", b"vm1", [(sys.argv[1], 0)])`,
        `inq = sanlock.inq_lockspace(b"demo", 1, sys.argv[2])`,
        `print(json.dumps({"lockspaces": [[text(l["lockspace"]), l["host_id"], text(l["path"]), l["offset"]] for l in ls], "owners": [o["host_id"] for o in owners], "inq": inq}))`,
      ].join("\n"),
      lease,
      lockspace,
    ],
    { SANLOCK_RUN_DIR: runDir },
  );
  t.same(
    JSON.parse(python),
    { lockspaces: [["demo", 1, lockspace, 0]], owners: [1], inq: true },
    "python3-sanlock: the lockspace joined as host 1, vm1 owned by host 1",
  );

  child.kill("SIGTERM");
  t.same(await exited, { code: 0, signal: null }, `the appliance stopped cleanly: ${out.stdout.trim().split("\n").join(" | ")}`);
  t.match(out.stdout, /stopped/, "after releasing and leaving");
});
