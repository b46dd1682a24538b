/**
 * Acceptance (issue item 5): several daemons — two sanlock-ts daemons and the real sanlock
 * 3.8.5 daemon, each with its own run dir and host_id — on the same lease files contend
 * correctly through the real Python client: one exclusive owner at a time, shared holders
 * together, an exclusive acquire refused while others hold it shared, and a forced request
 * that makes the owner's daemon kill the holder so the requester can take the lease.
 */
import { join } from "node:path";
import t from "tap";
import {
  environmentSkip,
  HAVE_REAL_SANLOCK,
  python,
  runClient,
  spawnPython,
  startDaemon,
  startInProcessDaemon,
  tempLeaseDir,
  waitForLine,
} from "./support/index.js";

const LS = "CONTEND";
const MB = 1048576;

/** Python that registers, acquires `res` and then holds it until killed or stdin closes. */
function holderScript(resFile: string, res: string, offset: number, shared: boolean): string {
  return `
import sys, sanlock
fd = sanlock.register()
try:
    sanlock.acquire(b"${LS}", b"${res}", [("${resFile}", ${offset})], slkfd=fd, shared=${shared ? "True" : "False"})
    print("acquired", flush=True)
except sanlock.SanlockException as e:
    print("failed", e.errno, flush=True)
    sys.exit(0)
line = sys.stdin.readline()
sanlock.release(b"${LS}", b"${res}", [("${resFile}", ${offset})], slkfd=fd)
print("released", flush=True)
sys.stdin.readline()
`;
}

/** One-shot acquire on a fresh registration; prints "acquired" or "failed <errno>". */
function tryAcquire(resFile: string, res: string, offset: number, shared: boolean): string {
  return `
import sanlock
fd = sanlock.register()
try:
    sanlock.acquire(b"${LS}", b"${res}", [("${resFile}", ${offset})], slkfd=fd, shared=${shared ? "True" : "False"})
    print("acquired")
except sanlock.SanlockException as e:
    print("failed", e.errno)
`;
}

t.test(
  "sanlock-ts and real daemons contend on the same leases",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 115_000 },
  async (t) => {
    const work = tempLeaseDir(t, "slts-contend-");
    const lsFile = join(work, "ls.lease");
    const resFile = join(work, "res.lease");
    const [a, b] = [await startInProcessDaemon(t, "host-a"), await startInProcessDaemon(t, "host-b")];
    const real = (await startDaemon(t, { kind: "sanlock" })).runDir;

    const init = await python(
      a.runDir,
      `
import sanlock
open("${lsFile}", "wb").truncate(${MB})
open("${resFile}", "wb").truncate(${2 * MB})
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=1)
sanlock.write_resource(b"${LS}", b"EX", [("${resFile}", 0)])
sanlock.write_resource(b"${LS}", b"SH", [("${resFile}", ${MB})])
print("ok")
`,
    );
    t.equal(init.stdout.trim(), "ok", `areas formatted: ${init.stderr}`);

    const join3 = await Promise.all(
      [
        [a.runDir, 1],
        [b.runDir, 2],
        [real, 3],
      ].map(([dir, id]) =>
        python(
          String(dir),
          `
import sanlock
sanlock.add_lockspace(b"${LS}", ${id}, "${lsFile}", iotimeout=1)
print("joined")
`,
        ),
      ),
    );
    t.same(
      join3.map((r) => r.stdout.trim()),
      ["joined", "joined", "joined"],
      "all three hosts joined",
    );

    // Exclusive: A holds EX; B (ours) and the real daemon are refused.
    const holderA = spawnPython(t, a.runDir, holderScript(resFile, "EX", 0, false));
    t.equal(await waitForLine(holderA, "acquired"), "acquired", "host 1 acquired EX");
    // Let every host's watcher see host 1 alive (renewals are 2 s apart with io_timeout 1).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const bTry = await python(b.runDir, tryAcquire(resFile, "EX", 0, false));
    t.match(bTry.stdout.trim(), /^failed -24[345]$/, "host 2 (sanlock-ts) cannot take EX held by host 1");
    const realTry = await python(real, tryAcquire(resFile, "EX", 0, false));
    t.match(realTry.stdout.trim(), /^failed -24[345]$/, "host 3 (real sanlock) cannot take EX held by host 1");

    // Shared: A and B hold SH together; an exclusive acquire on the real daemon is refused.
    const shA = spawnPython(t, a.runDir, holderScript(resFile, "SH", MB, true));
    t.equal(await waitForLine(shA, "acquired"), "acquired", "host 1 holds SH shared");
    const shB = spawnPython(t, b.runDir, holderScript(resFile, "SH", MB, true));
    t.equal(await waitForLine(shB, "acquired"), "acquired", "host 2 holds SH shared together with host 1");
    const realEx = await python(real, tryAcquire(resFile, "SH", MB, false));
    t.match(realEx.stdout.trim(), /^failed (11|-24[345])$/, "real sanlock: no exclusive SH while shared holders live");

    // Convert: host 1 cannot go exclusive while host 2 holds SH shared; it can once host 2 let go.
    const convert = (): Promise<string> =>
      runClient(a.runDir, "sanlock", ["client", "convert", "-r", `${LS}:SH:${resFile}:${MB}`, "-p", String(shA.pid)]).then((r) => r.stdout);
    t.match(await convert(), /convert done -(11|24[345])\n/, "no conversion to exclusive while host 2 holds SH");
    shB.stdin?.write("\n");
    t.equal(await waitForLine(shB, "released"), "released", "host 2 released SH");
    t.match(await convert(), /convert done 0\n/, "host 1 converted SH to exclusive");
    const realAfter = await python(real, tryAcquire(resFile, "SH", MB, true));
    t.match(realAfter.stdout.trim(), /^failed -24[345]$/, "real sanlock: no shared SH while host 1 holds it exclusively");

    // Release: A releases EX; B takes it.
    holderA.stdin?.write("\n");
    t.equal(await waitForLine(holderA, "released"), "released", "host 1 released EX");
    const holderB = spawnPython(t, b.runDir, holderScript(resFile, "EX", 0, false));
    t.equal(await waitForLine(holderB, "acquired"), "acquired", "host 2 acquired EX after the release");

    // Request: the real daemon asks for EX with force; host 2's daemon kills its holder; then EX is free.
    const request = await python(
      real,
      `
import sanlock
sanlock.request(b"${LS}", b"EX", [("${resFile}", 0)], action=sanlock.REQ_FORCE)
print("requested")
`,
    );
    t.equal(request.stdout.trim(), "requested", `request written: ${request.stderr}`);
    const exit = await new Promise<NodeJS.Signals | null>((resolve) => holderB.once("exit", (_code, signal) => resolve(signal)));
    t.equal(exit, "SIGKILL", "host 2's daemon killed the holder of the requested lease");
    let taken = "";
    for (let i = 0; i < 20 && taken !== "acquired"; i++) {
      taken = (await python(real, tryAcquire(resFile, "EX", 0, false))).stdout.trim();
      if (taken !== "acquired") await new Promise((resolve) => setTimeout(resolve, 500));
    }
    t.equal(taken, "acquired", "real sanlock acquired EX once host 2 released it");
    shA.stdin?.end();
    shB.stdin?.end();
  },
);
