// The simulator driving the real core algorithms: a bounded run of seeds with every fault of the
// plan (crashes, resets, pauses, stalls, torn and late writes, drift, duplicate host_ids) must
// find no violation of the §8.3 invariants, and a seed must reproduce its run exactly.
import t from "tap";
import { runSeeds, seedConfig } from "../src/sim/runner.js";
import { RealHostActor } from "../src/sim/host-actor.js";
import { makeDiskInitialiser } from "../src/sim/init-disk.js";
import { runSimulation } from "../src/sim/world.js";

const SEEDS = 200;
const HOSTS = 3;

t.test(`${SEEDS} seeds x ${HOSTS} hosts with faults: no invariant violation`, async (t) => {
  const summary = await runSeeds({ firstSeed: 1, seeds: SEEDS, hosts: HOSTS, opsPerHost: 5 });
  const first = summary.firstFailure;
  t.equal(summary.violations, 0, first
    ? `seed ${first.seed}: ${first.violations.map((v) => v.message).join("; ")}\n${first.trace.recent(40).join("\n")}`
    : "no violations");
  t.equal(summary.seedsRun, SEEDS);
  // The run did real work: most attempted operations succeed somewhere.
  t.ok(summary.operations > SEEDS * HOSTS, `simulated lease operations: ${summary.operations}`);
  t.ok(summary.ios > summary.operations * 5, `simulated I/Os: ${summary.ios}`);
});

t.test("the same seed reproduces the identical trace; the next seed differs", async (t) => {
  const traces: string[][] = [[], [], []];
  const run = (seed: number, sink: string[]) =>
    runSimulation(
      seedConfig(seed, { hosts: 4, traceSink: (line) => void sink.push(line) }),
      (ctx) => new RealHostActor(ctx),
      makeDiskInitialiser(4),
    );
  const a = await run(11, traces[0]!);
  const b = await run(11, traces[1]!);
  const c = await run(12, traces[2]!);
  t.ok(traces[0]!.length > 200, `trace has ${traces[0]!.length} lines`);
  t.ok(traces[0]!.some((l) => / write res\d\.leader /.test(l)), "the trace shows leader writes");
  t.same(traces[1], traces[0], "identical trace line by line");
  t.equal(b.traceDigest, a.traceDigest);
  t.equal(b.operations, a.operations);
  t.not(c.traceDigest, a.traceDigest);
});
