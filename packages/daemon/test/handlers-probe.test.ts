/**
 * Acceptance (issue item 5): the Python API gives the same results and errnos against
 * sanlock-ts as against the real sanlock 3.8.5 daemon. One script (handlers-api-probe.py)
 * exercises the API and prints a line per call; its output must be identical for both.
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import t, { type Test } from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, PYTHON, runClient, startDaemon, startInProcessDaemon, tempLeaseDir } from "../../../test/support/index.js";

const PROBE = fileURLToPath(new URL("./handlers-api-probe.py", import.meta.url));

async function probe(t: Test, runDir: string): Promise<string[]> {
  const work = tempLeaseDir(t, "slts-probe-");
  const run = await runClient(runDir, PYTHON, [PROBE, join(work)], 90_000);
  t.equal(run.stderr, "", "the probe script ran without a Python error");
  return run.stdout.trimEnd().split("\n");
}

t.test(
  "python API: same results and errnos as the real daemon",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 110_000 },
  async (t) => {
    const ours = await startInProcessDaemon(t);
    const [realLines, ourLines] = await Promise.all([startDaemon(t, { kind: "sanlock" }).then((d) => probe(t, d.runDir)), probe(t, ours.runDir)]);
    t.equal(realLines.at(-1), "done", "the probe ran to the end against the real daemon");
    t.equal(ourLines.at(-1), "done", "the probe ran to the end against sanlock-ts");
    const steps = Math.max(realLines.length, ourLines.length);
    for (let i = 0; i < steps; i++) t.equal(ourLines[i], realLines[i], `step ${i + 1}: ${realLines[i]?.split(" ")[0] ?? "?"}`);
  },
);
