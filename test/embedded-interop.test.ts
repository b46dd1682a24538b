/**
 * The example appliance (packages/daemon/examples/appliance.mjs) runs startEmbeddedDaemon with a
 * shared socket, joins a lockspace and holds a lease; the real `sanlock client status` (3.8.5)
 * and python3-sanlock, pointed at its run dir, see that lockspace and that lease held by the
 * appliance's own pid. SIGTERM then stops it cleanly: lease released, lockspace left, exit 0.
 */
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { clusterSkipReason, OUR_CLI, REPO_ROOT, sparseFile, tempLeaseDir } from "./helpers/daemons.js";
import { environmentSkip } from "./helpers/interop-env.js";
import { spawnSync } from "node:child_process";

const EXAMPLE = `${REPO_ROOT}packages/daemon/examples/appliance.mjs`;
const PYTHON = "/usr/bin/python3";
const MiB = 1 << 20;
const havePythonSanlock = spawnSync(PYTHON, ["-c", "import sanlock"]).status === 0;
const skip = clusterSkipReason(["sanlock-ts", "sanlock"]) || environmentSkip(!havePythonSanlock && "python3-sanlock is not installed");

function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(" ")}: ${error.message} ${stderr}`)) : resolve(stdout),
    ),
  );
}

t.test("the real sanlock client and python3-sanlock see an embedded daemon's state", { skip, timeout: 120_000 }, async (t) => {
  const dir = tempLeaseDir(t, "embedded-interop-");
  const lockspace = sparseFile(dir, "lockspace", MiB);
  const lease = sparseFile(dir, "vm1.lease", MiB);
  const runDir = mkdtempSync("/tmp/sanlock-ts-appliance-");
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const env = { SANLOCK_RUN_DIR: runDir, LEASE_DIR: dir, INIT: "1", IO_TIMEOUT: "1", WATCHDOG: "none", UV_THREADPOOL_SIZE: "128" };
  const child = spawn(process.execPath, [EXAMPLE], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 100_000) stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "holding" within 60 s: ${stdout} ${stderr}`)), 60_000);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("holding demo:vm1")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the appliance exited: ${stdout} ${stderr}`));
    });
  });
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
  t.same(await exited, { code: 0, signal: null }, `the appliance stopped cleanly: ${stdout.trim().split("\n").join(" | ")}`);
  t.match(stdout, /stopped/, "after releasing and leaving");
});
