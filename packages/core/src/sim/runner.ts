// Runs many seeds with the real core algorithms and summarises them; the CLI and the tests use it.

import { makeDiskInitialiser } from "./init-disk.js";
import { RealHostActor } from "./host-actor.js";
import { runSimulation, type ActorFactory, type DiskInitialiser, type SimConfig, type SimResult } from "./world.js";

export interface SeedRunOptions {
  readonly firstSeed: number;
  readonly seeds: number;
  readonly hosts: number;
  readonly resources?: number;
  readonly opsPerHost?: number;
  readonly variant?: string;
  readonly faults?: boolean;
  readonly maxSeconds?: number;
  /** Stop at the first seed with a violation. */
  readonly stopOnViolation?: boolean;
  readonly keepTraceLines?: number;
  readonly traceSink?: (line: string) => void;
  readonly makeActor?: ActorFactory;
  readonly initDisk?: DiskInitialiser;
  /** Called after each seed (progress, reports). */
  readonly onSeed?: (result: SimResult) => void;
}

export interface SeedRunSummary {
  readonly seedsRun: number;
  readonly operations: number;
  readonly ios: number;
  readonly violations: number;
  readonly failingSeeds: readonly number[];
  readonly firstFailure: SimResult | undefined;
}

export const MAX_SEEDS = 1_000_000;

/** The configuration a seed runs with (shared by the CLI, the tests and reproduction). */
export function seedConfig(seed: number, options: Omit<SeedRunOptions, "firstSeed" | "seeds">): SimConfig {
  return {
    seed,
    hosts: options.hosts,
    resources: options.resources ?? 2,
    opsPerHost: options.opsPerHost ?? 12,
    variant: options.variant ?? "none",
    // io_timeout 2 or 3 (mixed): with N = 1, 8N ≤ 10 and the watchdog model of §7.5 (no keepalive
    // once now ≥ expire − 10) stops petting right after every renewal, resetting healthy hosts.
    faults: { enabled: options.faults ?? true, ioTimeouts: [2, 3] },
    maxSeconds: options.maxSeconds ?? 900,
    maxEvents: 2_000_000,
    keepTraceLines: options.keepTraceLines ?? 400,
    ...(options.traceSink ? { traceSink: options.traceSink } : {}),
  };
}

export async function runSeeds(options: SeedRunOptions): Promise<SeedRunSummary> {
  if (!Number.isInteger(options.seeds) || options.seeds < 1 || options.seeds > MAX_SEEDS) {
    throw new RangeError(`seeds must be 1..${MAX_SEEDS}, got ${options.seeds}`);
  }
  const makeActor = options.makeActor ?? ((ctx) => new RealHostActor(ctx));
  const initDisk = options.initDisk ?? makeDiskInitialiser(Math.max(options.hosts, 4));
  let operations = 0;
  let ios = 0;
  let violations = 0;
  const failingSeeds: number[] = [];
  let firstFailure: SimResult | undefined;
  let seedsRun = 0;
  for (let i = 0; i < options.seeds; i++) {
    const seed = options.firstSeed + i;
    const result = await runSimulation(seedConfig(seed, options), makeActor, initDisk);
    seedsRun++;
    operations += result.operations;
    ios += result.ios;
    violations += result.violations.length;
    options.onSeed?.(result);
    if (result.violations.length > 0) {
      failingSeeds.push(seed);
      firstFailure ??= result;
      if (options.stopOnViolation) break;
    }
  }
  return { seedsRun, operations, ios, violations, failingSeeds, firstFailure };
}
