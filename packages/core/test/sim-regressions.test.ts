// Seeds on which the simulator once found a violation in the paxos conversion and shared-mark
// paths (5 hosts, default plan). Each must now run clean:
// * 151, 274, 275, 467, 486, 828: a failed exclusive→shared conversion dropped its shared mark
//   and freed the leader while the holder kept using the lease (§5.5);
// * 89: a timed-out ballot write of the host's own sector landed after its new shared mark and
//   cleared it (§8.4 item 2; we wait for our own in-flight writes before writing a mark).
import t from "tap";
import { runSeeds } from "../src/sim/runner.js";

const HOSTS = 5;
const SEEDS = [89, 151, 274, 275, 467, 486, 828];

for (const seed of SEEDS) {
  t.test(`seed ${seed} x ${HOSTS} hosts: no invariant violation`, async (t) => {
    const summary = await runSeeds({ firstSeed: seed, seeds: 1, hosts: HOSTS });
    const failed = summary.firstFailure;
    t.equal(summary.violations, 0, failed
      ? `seed ${seed}: ${failed.violations.map((v) => v.message).join("; ")}\n${failed.trace.recent(40).join("\n")}`
      : "no violations");
    t.ok(summary.operations > 0, `lease operations: ${summary.operations}`);
  });
}
