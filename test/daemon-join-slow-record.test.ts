/**
 * Joining a lockspace whose host record carries a larger io_timeout than ours (algorithms.md
 * §2.2 step 7 waits 2·No, No = the record's io_timeout): the join lasts longer than our 8N
 * failure limit, yet the real sanlock 3.8.5 keeps the lockspace and renews it. sanlock-ts must do
 * the same instead of failing the lockspace the moment it is joined.
 */
import { join } from "node:path";
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, python, startDaemon, startInProcessDaemon, tempLeaseDir } from "./support/index.js";

const LS = "SLOWREC";
const MB = 1048576;
/** The record's io_timeout: the join waits 2 × 5 = 10 s, more than 8 × 1 = 8 s. */
const RECORD_IO_TIMEOUT = 5;

/** Joins with io_timeout 1, waits past 8N, and reports whether the lockspace is still there. */
async function joinAndWatch(runDir: string, lsFile: string): Promise<string> {
  const run = await python(
    runDir,
    `
import time, sanlock
open("${lsFile}", "wb").truncate(${MB})
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=${RECORD_IO_TIMEOUT})
start = time.monotonic()
sanlock.add_lockspace(b"${LS}", 1, "${lsFile}", iotimeout=1)
took = time.monotonic() - start
time.sleep(10)
names = [ls["lockspace"] for ls in sanlock.get_lockspaces()]
print("join>=2No" if took >= 2 * ${RECORD_IO_TIMEOUT} else "join<2No", "joined" if sanlock.inq_lockspace(b"${LS}", 1, "${lsFile}") else "gone", names)
`,
    60_000,
  );
  return `${run.stdout.trim()}${run.stderr.trim() ? ` stderr: ${run.stderr.trim().slice(-300)}` : ""}`;
}

t.test(
  "a join that outlasts 8N keeps the lockspace, as the real sanlock does",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 90_000 },
  async (t) => {
    const ours = await startInProcessDaemon(t);
    const real = (await startDaemon(t, { kind: "sanlock" })).runDir;
    const work = tempLeaseDir(t, "slts-slowrec-");
    const [realOutcome, ourOutcome] = await Promise.all([joinAndWatch(real, join(work, "real-ls")), joinAndWatch(ours.runDir, join(work, "our-ls"))]);
    t.equal(realOutcome, `join>=2No joined [b'${LS}']`, "real sanlock: still joined 10 s after the join");
    t.equal(ourOutcome, realOutcome, "sanlock-ts: the same");
  },
);
