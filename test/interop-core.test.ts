// Interop of the core lease algorithms with a REAL sanlock 3.8.5 daemon sharing one
// lease file: sanlock joins host_id 1 and holds resource R; core (host_id 2) sees
// host 1 LIVE and cannot take R; after sanlock releases R core acquires it; while
// core holds R sanlock's acquire fails; after core releases it sanlock gets it again.
// The daemon runs unprivileged in its own run dir; lease file on /var/tmp (O_DIRECT).
// Needs root, the sanlock binary and /usr/bin/python3 with the sanlock binding.
import t from "tap";
import { HAVE_REAL_SANLOCK, PYTHON, environmentSkip } from "./support/index.js";
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { DeltaLease, LeaseError, PaxosLease, type Clock, type PaxosHost } from "../packages/core/src/index.js";
import { openDirectDevice } from "../packages/daemon/src/index.js";

const run = promisify(execFile);
const MIB = 1048576;
const IO_TIMEOUT = 1;
/** Bound for one python command (acquire against a held lease returns within a few seconds). */
const COMMAND_TIMEOUT_MS = 30_000;

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return "needs root";
  if (!HAVE_REAL_SANLOCK) return "sanlock not installed";
  if (!existsSync(PYTHON)) return "no /usr/bin/python3";
  return false;
}

/** Real monotonic clock (CLOCK_MONOTONIC, as sanlock uses) with abortable sleeps. */
const monotonicClock: Clock = {
  now: () => Number(process.hrtime.bigint()) / 1e9,
  sleep: (seconds, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, seconds * 1000);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Python side: a registered sanlock client executing one command per stdin line, answering one line each. */
const PY_AGENT = String.raw`
import sys, sanlock
path = sys.argv[1]
disk = [(path, 1048576)]
sanlock.add_lockspace(b"LS", 1, path, 0, iotimeout=1)
fd = sanlock.register()
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    try:
        if cmd == "acquire":
            sanlock.acquire(b"LS", b"R", disk, slkfd=fd)
        elif cmd == "release":
            sanlock.release(b"LS", b"R", disk, slkfd=fd)
        elif cmd == "host2":
            hosts = sanlock.get_hosts(b"LS", 2)
            live = bool(hosts) and hosts[0]["flags"] == sanlock.HOST_LIVE
            print("host2 %s gen %d" % ("LIVE" if live else "NOT-LIVE", hosts[0]["generation"] if hosts else 0), flush=True)
            continue
        elif cmd == "quit":
            print("ok", flush=True)
            break
        print("ok", flush=True)
    except sanlock.SanlockException as e:
        print("err %d %s" % (e.errno, str(e).replace("\n", " ")), flush=True)
`;

class PyAgent {
  private readonly lines: AsyncIterator<string>;
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<string> {
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("python agent timed out")), COMMAND_TIMEOUT_MS).unref());
    const line = await Promise.race([this.lines.next(), timer]);
    if (line.done) throw new Error("python agent exited");
    return line.value;
  }
  async command(cmd: string): Promise<string> {
    this.proc.stdin.write(`${cmd}\n`);
    return this.next();
  }
}

t.test("core and real sanlock share a lockspace and a resource", { skip: environmentSkip(skipReason()), timeout: 100_000 }, async (t) => {
  const dir = await mkdtemp("/var/tmp/sanlock-ts-core-");
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const runDir = join(dir, "run");
  await run("mkdir", ["-p", runDir]);
  const leases = join(dir, "leases.img");
  await writeFile(leases, "");
  await truncate(leases, 3 * MIB);
  // io_timeout 1 in every record keeps joins at 2 s (short delay = 2 x the recorded value).
  await run("sanlock", ["direct", "init", "-s", `LS:0:${leases}:0`, "-Z", "512", "-A", "1M", "-o", "1"]);
  await run("sanlock", ["direct", "init", "-r", `LS:R:${leases}:${MIB}`, "-Z", "512", "-A", "1M"]);

  const env = { ...process.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir };
  const daemon = spawn("sanlock", ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"], { env, stdio: "ignore" });
  t.teardown(() => {
    daemon.kill("SIGKILL");
  });
  for (let i = 0; i < 50 && !existsSync(join(runDir, "sanlock.sock")); i++) await monotonicClock.sleep(0.1);

  const py = spawn(PYTHON, ["-c", PY_AGENT, leases], { env });
  let pyErr = "";
  py.stderr.on("data", (chunk: Buffer) => {
    pyErr += chunk.toString();
  });
  t.teardown(() => {
    py.kill("SIGKILL");
    if (pyErr) t.comment(`python stderr: ${pyErr.slice(0, 2000)}`);
  });
  const agent = new PyAgent(py);
  t.equal(await agent.next(), "ready", "sanlock joined host_id 1");
  t.equal(await agent.command("acquire"), "ok", "sanlock holds R");

  const device = await openDirectDevice(leases, { ioTimeoutMs: 10_000 });
  t.teardown(() => device.close());
  const delta = new DeltaLease({
    lockspace: "LS",
    hostId: 2,
    hostName: "sanlock-ts-core-host2",
    ioTimeout: IO_TIMEOUT,
    device,
    offset: 0,
    clock: monotonicClock,
  });
  const joined = await delta.acquire();
  t.equal(joined.generation, 1n, "core joined host_id 2");
  let renewing = true;
  const renewals = (async () => {
    while (renewing) {
      const wait = Math.max(0, delta.renewalDueAt - monotonicClock.now());
      await monotonicClock.sleep(Math.min(wait, 2) + 0.5);
      if (renewing) await delta.renew().catch(() => undefined);
    }
  })();
  t.teardown(async () => {
    renewing = false;
    await renewals;
  });

  // Two renewal rounds: host 1's timestamp must change under our watcher.
  for (let i = 0; i < 10 && delta.status.state(1) !== "LIVE"; i++) await monotonicClock.sleep(1);
  t.equal(delta.status.state(1), "LIVE", "core sees sanlock's host 1 LIVE");
  let sanlockView = "";
  for (let i = 0; i < 10 && !sanlockView.startsWith("host2 LIVE"); i++) {
    sanlockView = await agent.command("host2");
    if (!sanlockView.startsWith("host2 LIVE")) await monotonicClock.sleep(1);
  }
  t.equal(sanlockView, "host2 LIVE gen 1", "sanlock sees core's host 2 LIVE with generation 1");

  const host: PaxosHost = {
    lockspace: "LS",
    hostId: 2,
    generation: joined.generation,
    ioTimeout: IO_TIMEOUT,
    clock: monotonicClock,
    random: { next: () => 0.5 },
    liveness: { snapshot: (h) => delta.status.snapshot(h), isSharedHolderAlive: (h, g) => delta.status.isSharedHolderAlive(h, g) },
    readDeltaRecord: (h) => delta.readHostRecord(h),
  };
  const lease = new PaxosLease(host, { resource: "R", device, offset: MIB });
  const held = await lease.acquire().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(held instanceof LeaseError && held.result === -243, `held by live host 1: -243 (got ${String(held)})`);

  t.equal(await agent.command("release"), "ok", "sanlock released R");
  await lease.acquire();
  t.equal(lease.mode, "exclusive", "core acquired R after sanlock's release");
  t.equal(lease.leader?.ownerId, 2);

  const refused = await agent.command("acquire");
  t.match(refused, /^err -243 /, "sanlock's acquire fails: held by a live host (SANLK_ACQUIRE_IDLIVE)");

  await lease.release();
  t.equal(await agent.command("acquire"), "ok", "sanlock acquires R after core released it");
  t.equal(await agent.command("release"), "ok");

  renewing = false;
  await renewals;
  await delta.release();
  t.equal(await agent.command("quit"), "ok");
});
