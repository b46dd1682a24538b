// Seeds on which the simulator once found a violation. Each must now run clean, with the
// configuration it was found under (io_timeouts 2 or 3, no herd runs: the draws of that time),
// so that the seed still builds the schedule that broke:
// * 151, 274, 275, 467, 486, 828: a failed exclusive→shared conversion dropped its shared mark
//   and freed the leader while the holder kept using the lease (docs/algorithms.md §5.5);
// * 89: a timed-out ballot write of the host's own sector landed after its new shared mark and
//   cleared it (docs/algorithms.md §8.4 item 2; we wait for our own in-flight writes before writing a mark);
// * 109981: h1 (io_timeout 2) acquired res2 right after its join, before its first renewal had
//   examined the other hosts, from h2 (io_timeout 3) whose daemon had crashed with the holder
//   alive; with no watcher snapshot the dead-wait used h1's own io_timeout (8·2 + 60 = 76 s)
//   instead of the owner's (8·3 + 60 = 84 s) and took the lease while h2's process still held
//   it (docs/deviations.md D1: the owner's recorded io_timeout paces the wait).
// Found by the soak with io_timeouts 1..10 and herd runs (5 hosts, 30 operations, 3 resources):
// * 118146: h3 left the lockspace with a delta release write that stalled (108 s), joined again
//   (generation 2) while it was in flight, and took res2; the stale release then landed and showed
//   host_id 3 free, so h5 took res2 at once while h3's process still held it (docs/deviations.md
//   D2: a join waits for our own earlier delta writes).
import t from "tap";
import { LEGACY_IO_TIMEOUTS, runSeeds } from "../src/sim/runner.js";

const HOSTS = 5;
const SEEDS = [89, 151, 274, 275, 467, 486, 828, 109981];

for (const seed of SEEDS) {
  t.test(`seed ${seed} x ${HOSTS} hosts: no invariant violation`, async (t) => {
    const summary = await runSeeds({ firstSeed: seed, seeds: 1, hosts: HOSTS, ioTimeouts: LEGACY_IO_TIMEOUTS, herd: false });
    const failed = summary.firstFailure;
    t.equal(
      summary.violations,
      0,
      failed ? `seed ${seed}: ${failed.violations.map((v) => v.message).join("; ")}\n${failed.trace.recent(40).join("\n")}` : "no violations",
    );
    t.ok(summary.operations > 0, `lease operations: ${summary.operations}`);
  });
}

const SOAK_SEEDS = [118146];

for (const seed of SOAK_SEEDS) {
  t.test(`seed ${seed} x ${HOSTS} hosts, 30 operations, 3 resources: no invariant violation`, async (t) => {
    const summary = await runSeeds({ firstSeed: seed, seeds: 1, hosts: HOSTS, opsPerHost: 30, resources: 3 });
    const failed = summary.firstFailure;
    t.equal(
      summary.violations,
      0,
      failed ? `seed ${seed}: ${failed.violations.map((v) => v.message).join("; ")}\n${failed.trace.recent(40).join("\n")}` : "no violations",
    );
    t.ok(summary.operations > 0, `lease operations: ${summary.operations}`);
  });
}

// The schedule of 109981 still reaches the state that broke: h2 (io_timeout 3) holds res2 v1 and
// its daemon crashes; the next host to hold res2 (h1 with io_timeout 2 broke it) does so no earlier
// than h2's host_dead_seconds (8·3 + 60 = 84 s) after h2's last renewal.
t.test("seed 109981: res2 passes on from the crashed io_timeout-3 owner only after its dead-wait", async (t) => {
  const lines: string[] = [];
  await runSeeds({ firstSeed: 109981, seeds: 1, hosts: HOSTS, ioTimeouts: LEGACY_IO_TIMEOUTS, herd: false, traceSink: (l) => void lines.push(l) });
  const time = (line: string): number => Number(/^t=\s*([\d.]+)/.exec(line)?.[1]);
  t.ok(lines.some((l) => / h2 .*io_timeout 3/.test(l)) && lines.some((l) => / h1 .*io_timeout 2/.test(l)), "h1 runs with io_timeout 2, h2 with 3");
  t.ok(
    lines.some((l) => / h2 .*HOLDS res2 exclusive v1$/.test(l)),
    "h2 holds res2 v1",
  );
  t.ok(
    lines.some((l) => / h2 .*FAULT daemon crashed/.test(l)),
    "h2's daemon crashes",
  );
  const h2Renewals = lines.filter((l) => / h2 .* write delta\[2\] owner 2 gen 1 /.test(l));
  const next = lines.find((l) => / h[13-5] .*HOLDS res2 /.test(l));
  t.ok(h2Renewals.length > 0 && next !== undefined, `h2 renewed, and another host held res2 later: ${next ?? "none"}`);
  if (next === undefined || h2Renewals.length === 0) return;
  const gap = time(next) - time(h2Renewals[h2Renewals.length - 1]!);
  t.ok(gap >= 8 * 3 + 60, `res2 held again ${gap.toFixed(1)} s after h2's last renewal (host_dead_seconds of io_timeout 3: 84 s)`);
});
