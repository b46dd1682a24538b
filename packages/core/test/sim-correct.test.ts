// The simulator driving the real core algorithms: a bounded run of seeds with every fault of the
// plan (crashes, resets, pauses, stalls, torn and late writes, drift, duplicate host_ids) must
// find no violation of the docs/algorithms.md §8.3 invariants, and a seed must reproduce its run exactly.
import t from "tap";
import { runSeeds, seedConfig } from "../src/sim/runner.js";
import { RealHostActor } from "../src/sim/host-actor.js";
import { makeDiskInitialiser } from "../src/sim/init-disk.js";
import { runSimulation } from "../src/sim/world.js";

const SEEDS = 200;
const HOSTS = 3;
/** The command line's default (`pnpm sim`): CI runs what a user's soak runs. */
const OPS_PER_HOST = 12;

t.test(`${SEEDS} seeds x ${HOSTS} hosts with faults: no invariant violation`, async (t) => {
  const summary = await runSeeds({ firstSeed: 1, seeds: SEEDS, hosts: HOSTS, opsPerHost: OPS_PER_HOST });
  const first = summary.firstFailure;
  t.equal(
    summary.violations,
    0,
    first ? `seed ${first.seed}: ${first.violations.map((v) => v.message).join("; ")}\n${first.trace.recent(40).join("\n")}` : "no violations",
  );
  t.equal(summary.seedsRun, SEEDS);
  // The run did real work: most hosts spend their operation budget despite the faults (each
  // counted operation is an acquire, release or conversion that succeeded).
  const budget = SEEDS * HOSTS * OPS_PER_HOST;
  t.ok(summary.operations >= 0.75 * budget, `simulated lease operations: ${summary.operations} of a budget of ${budget} attempts`);
  t.ok(summary.ios > summary.operations * 10, `simulated I/Os: ${summary.ios}`);
  // The progress rule looked at most releases (the rest met an I/O fault or a late write).
  t.ok(summary.releasesChecked >= 0.3 * summary.operations, `releases checked by the progress rule: ${summary.releasesChecked}`);
  // Mixed io_timeouts from 1 to 10 were drawn.
  t.ok(summary.ioTimeoutHosts[1]! > 0 && summary.ioTimeoutHosts[10]! > 0, `hosts by io_timeout: ${summary.ioTimeoutHosts.join(",")}`);
});

// Phase 2's value rule (adopt the value of the highest ballot, docs/algorithms.md §4.6) matters only when phase 1
// finds accepted values; with many hosts on one resource, herd runs make ballots meet them.
t.test("contended runs reach ballots that choose among accepted values", async (t) => {
  const summary = await runSeeds({ firstSeed: 55, seeds: 45, hosts: 5, resources: 1 });
  t.equal(summary.violations, 0, "no violations");
  t.ok(summary.ballots.withValue >= 20, `ballots finding an accepted value: ${summary.ballots.withValue} of ${summary.ballots.run}`);
  t.ok(summary.ballots.multiValue >= 2, `ballots finding two or more: ${summary.ballots.multiValue}`);
});

t.test("the same seed reproduces the identical trace; the next seed differs", async (t) => {
  const traces: string[][] = [[], [], []];
  const run = (seed: number, sink: string[]) =>
    runSimulation(seedConfig(seed, { hosts: 4, traceSink: (line) => void sink.push(line) }), (ctx) => new RealHostActor(ctx), makeDiskInitialiser(4));
  const a = await run(11, traces[0]!);
  const b = await run(11, traces[1]!);
  const c = await run(12, traces[2]!);
  t.ok(traces[0]!.length > 200, `trace has ${traces[0]!.length} lines`);
  t.ok(
    traces[0]!.some((l) => / write res\d\.leader /.test(l)),
    "the trace shows leader writes",
  );
  t.same(traces[1], traces[0], "identical trace line by line");
  t.equal(b.traceDigest, a.traceDigest);
  t.equal(b.operations, a.operations);
  t.not(c.traceDigest, a.traceDigest);
});
