// Resources on several disks in the simulator (docs/algorithms.md §4.11): every fault of a
// one-disk run plus a disk that fails or stalls for all hosts or for one host's path. Safety must
// hold; the broken variant that writes a shared mark to a majority only must be caught.
import t from "tap";
import { runSeeds } from "../src/sim/runner.js";
import { makeLayout, resourceOfArea } from "../src/sim/layout.js";

t.test("layout: each disk of a resource has an area of its own, mapped back to the resource", async (t) => {
  const layout = makeLayout(2, 3);
  t.same(
    layout.resources.map((r) => [r.offset, ...r.replicas].map((o) => o / layout.alignSize)),
    [
      [1, 3, 5],
      [2, 4, 6],
    ],
  );
  t.same(resourceOfArea(layout, 5), { resource: layout.resources[0], disk: 2 });
  t.equal(resourceOfArea(layout, 7), undefined, "past the last disk");
  t.equal(layout.diskBytes, 7 * layout.alignSize);
});

t.test("3 disks, 5 hosts, faults on: no violation in 12 seeds", async (t) => {
  const summary = await runSeeds({ firstSeed: 1, seeds: 12, hosts: 5, disks: 3, opsPerHost: 20, resources: 3 });
  t.equal(summary.violations, 0, `failing seeds: ${summary.failingSeeds.join(", ") || "none"}`);
  t.ok(summary.operations > 500, `${summary.operations} lease operations ran`);
});

t.test("4 disks (a majority is 3): no violation in 6 seeds", async (t) => {
  const summary = await runSeeds({ firstSeed: 100, seeds: 6, hosts: 4, disks: 4 });
  t.equal(summary.violations, 0, `failing seeds: ${summary.failingSeeds.join(", ") || "none"}`);
});

t.test("variant majority-shared-mark is caught, and its seed passes with the correct rule", async (t) => {
  const broken = await runSeeds({ firstSeed: 1, seeds: 60, hosts: 4, disks: 3, variant: "majority-shared-mark", stopOnViolation: true });
  const seed = broken.failingSeeds[0];
  t.equal(seed, 10, `caught at seed ${seed} after ${broken.seedsRun} seeds`);
  if (seed === undefined) return;
  const correct = await runSeeds({ firstSeed: seed, seeds: 1, hosts: 4, disks: 3 });
  t.equal(correct.violations, 0, `seed ${seed} passes with the correct algorithm`);
});
