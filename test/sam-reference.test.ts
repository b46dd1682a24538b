/**
 * corosync's libsam is the reference for the SAM API (docs/sam.md §11). The scenarios of
 * test/sam-reference/sam-scenarios.c (testsam.c's cases that need no running corosync: RESTART
 * and QUIT, warn signal set and kept, SIGKILL as warn signal, data store across instances,
 * instance ids, the event-driven health check, calls in the wrong state, exits while started
 * and while not) are compiled with gcc against Debian's libsam (libsam-dev) and run; the same
 * scenarios on @sanlock-ts/client/sam (sam-scenarios.mjs) must print the same lines.
 *
 * The one difference is on purpose and checked as such: a QUIT supervisor whose instance was
 * killed by a signal exits with 128 + signal (143 for SIGTERM); libsam's parent exits with
 * WEXITSTATUS of a signalled child, 0.
 */
import t from "tap";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { environmentSkip, SAM_DIST, samScriptGap } from "./support/index.js";

const C_SOURCE = fileURLToPath(new URL("./sam-reference/sam-scenarios.c", import.meta.url));
const NODE_SCRIPT = fileURLToPath(new URL("./sam-reference/sam-scenarios.mjs", import.meta.url));
const SAM_HEADER = "/usr/include/corosync/sam.h";
const RUN_LIMIT_MS = 60_000;

function referenceGap(): string | false {
  if (spawnSync("gcc", ["--version"]).status !== 0) return "gcc is not installed";
  if (!existsSync(SAM_HEADER)) return `${SAM_HEADER} is missing (Debian package libsam-dev)`;
  return samScriptGap();
}

interface Result {
  readonly lines: string[];
  readonly code: number | null;
}

/** Runs `file args` to its end; tap's NODE_OPTIONS preloads (SIGTERM handlers) are removed. */
function run(file: string, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      "/usr/bin/env",
      ["-u", "NODE_OPTIONS", file, ...args],
      { env: { ...process.env, SAM_URL: pathToFileURL(SAM_DIST).href }, timeout: RUN_LIMIT_MS, killSignal: "SIGKILL" },
      (err, stdout) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
        if (err !== null && code === null) reject(err);
        else resolve({ lines: stdout.split("\n").filter((l) => l !== ""), code });
      },
    );
  });
}

const SCENARIOS = ["restart", "quit", "hc", "exit"] as const;
/** Exit status of the supervisor where sanlock-ts differs from libsam on purpose. */
const OUR_EXIT: Partial<Record<(typeof SCENARIOS)[number], number>> = { quit: 143 };

t.test("the SAM scenarios print the same on libsam and on @sanlock-ts/client/sam", { skip: environmentSkip(referenceGap()) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sam-reference-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const binary = join(dir, "sam-scenarios");
  const flags = spawnSync("pkg-config", ["--cflags", "--libs", "libsam"], { encoding: "utf8" });
  const libs = flags.status === 0 ? flags.stdout.trim().split(/\s+/) : ["-pthread", "-lsam", "-lqb"];
  const cc = spawnSync("gcc", ["-Wall", "-O1", "-o", binary, C_SOURCE, ...libs], { encoding: "utf8" });
  t.equal(cc.status, 0, `gcc builds the reference: ${cc.stderr}`);
  if (cc.status !== 0) return;
  // Every scenario on both sides at once: they wait on timers, not on the CPU.
  const results = await Promise.all(SCENARIOS.map((s) => Promise.all([run(binary, [s]), run(process.execPath, [NODE_SCRIPT, s])])));
  SCENARIOS.forEach((scenario, i) => {
    const [reference, ours] = results[i] as [Result, Result];
    t.ok(reference.lines.length > 0, `${scenario}: libsam ran (${reference.lines.join(" | ")})`);
    t.same(ours.lines, reference.lines, `${scenario}: the same observations as libsam`);
    t.equal(ours.code, OUR_EXIT[scenario] ?? reference.code, `${scenario}: supervisor exit status ${ours.code} (libsam ${reference.code})`);
  });
  t.equal(results[1]?.[0].code, 0, "libsam's QUIT parent exits 0 for a child killed by SIGTERM (WEXITSTATUS of a signalled child)");
});
