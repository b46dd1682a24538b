// Runs seeds of the DLM workload (docs/dlm.md §9 tests 36-40): the same world, faults and
// scheduler as the sanlock workload, with a DlmHostActor per host and the DLM checker watching
// every grant and every sector write as it lands.
import { DlmChecker } from "./dlm-checker.js";
import { DlmHostActor } from "./dlm-actor.js";
import type { InvariantChecker } from "./checker.js";
import { makeDiskInitialiser } from "./init-disk.js";
import { runSeeds, type SeedRunOptions, type SeedRunSummary } from "./runner.js";
import type { HostContext } from "./world.js";

/** One DLM checker per seed, shared by that seed's hosts. */
function dlmActorFactory(): (ctx: HostContext) => DlmHostActor {
  const perRun = new WeakMap<InvariantChecker, DlmChecker>();
  return (ctx) => {
    let checker = perRun.get(ctx.checker);
    if (!checker) {
      const created = new DlmChecker(ctx.checker, ctx.layout);
      ctx.disk.onSectorWrite((sector, data, writer) => created.landed(ctx.scheduler.now, sector, data, writer));
      perRun.set(ctx.checker, created);
      checker = created;
    }
    return new DlmHostActor(ctx, checker);
  };
}

export function runDlmSeeds(options: Omit<SeedRunOptions, "makeActor" | "initDisk">): Promise<SeedRunSummary> {
  return runSeeds({ ...options, makeActor: dlmActorFactory(), initDisk: makeDiskInitialiser(Math.max(options.hosts, 4)) });
}
