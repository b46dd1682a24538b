// Each deliberately broken rule (simulator-only variants of the core algorithms) must be caught
// by the invariant checker within a bounded number of seeds, and the seed that catches it must
// pass with the correct algorithm (so the violation is the variant's doing).
import t from "tap";
import { runSeeds } from "../src/sim/runner.js";

const HOSTS = 4;

const CAUGHT_WITHIN: ReadonlyArray<[variant: string, seeds: number]> = [
  ["skip-phase2-read", 200],
  ["no-dead-wait", 40],
  ["no-join-wait", 80],
  ["skip-join-reread", 250],
  ["shared-mark-after-leader-release", 250],
];

for (const [variant, bound] of CAUGHT_WITHIN) {
  t.test(`variant ${variant} is caught within ${bound} seeds`, async (t) => {
    const broken = await runSeeds({ firstSeed: 1, seeds: bound, hosts: HOSTS, variant, stopOnViolation: true });
    const seed = broken.failingSeeds[0];
    t.ok(seed !== undefined, `caught at seed ${seed} after ${broken.seedsRun} seeds`);
    if (seed === undefined) return;
    const correct = await runSeeds({ firstSeed: seed, seeds: 1, hosts: HOSTS });
    t.equal(correct.violations, 0, `seed ${seed} passes with the correct algorithm`);
  });
}

// "ignore-owner-generation" changes decisions only when a leader names an owner generation that
// differs from the one in the owner's delta record in the "wrong" direction (older record, or our
// own host_id at a newer generation). Within the assumptions of §8.1 (join exclusivity, resets
// ending I/O) no run reaches that state, so no seed can tell the variant from the correct code.
t.todo("variant ignore-owner-generation: unreachable within the assumptions of §8.1");
