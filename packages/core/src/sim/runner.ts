// Runs many seeds with the real core algorithms and summarises them; the CLI and the tests use it.

import { makeDiskInitialiser } from "./init-disk.js";
import { RealHostActor } from "./host-actor.js";
import { runSimulation, type ActorFactory, type DiskInitialiser, type SimConfig, type SimResult } from "./world.js";

export interface SeedRunOptions {
  readonly firstSeed: number;
  readonly seeds: number;
  readonly hosts: number;
  readonly resources?: number;
  /** Disks each resource is replicated on (1..4, default 1; docs/algorithms.md §4.11). */
  readonly disks?: number;
  readonly opsPerHost?: number;
  readonly variant?: string;
  readonly faults?: boolean;
  readonly maxSeconds?: number;
  /** io_timeouts hosts draw from; default SIM_IO_TIMEOUTS (seeds found before it used LEGACY_IO_TIMEOUTS). */
  readonly ioTimeouts?: readonly number[];
  /** false: no herd runs (as seeds found before they existed ran). */
  readonly herd?: boolean;
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
  /** Ballots run, with an accepted value found in phase 1, with two or more (coverage). */
  readonly ballots: { run: number; withValue: number; multiValue: number };
  /** Successful releases the progress rule checked. */
  readonly releasesChecked: number;
  /** Hosts run with each io_timeout (index = io_timeout). */
  readonly ioTimeoutHosts: readonly number[];
  readonly failingSeeds: readonly number[];
  readonly firstFailure: SimResult | undefined;
}

export const MAX_SEEDS = 1_000_000;

/** Share of runs whose processes start acquires together (world.ts HERD_PERIOD). */
export const HERD_CHANCE = 0.3;

/**
 * io_timeouts the hosts of a run draw from (docs/algorithms.md §8.5 mixed io_timeouts). Hosts of one lockspace may
 * join with different ones (add_lockspace -o), and every wait that judges another host must use
 * that host's io_timeout: pairs far apart (1 and 10: dead-waits of 68 s and 140 s) make a wait
 * paced by the wrong host's io_timeout visible. 1 is rare: with N = 1, 8N < 10 and the watchdog
 * model of docs/algorithms.md §7.5 (no keepalive once now ≥ expire − 10) resets even a healthy host within a
 * minute, so its hosts mostly reboot; 2 and 3 keep most runs busy with lease operations.
 */
/** The draw before SIM_IO_TIMEOUTS: 2 or 3. Seeds found then reproduce with it (--io-timeouts 2,3). */
export const LEGACY_IO_TIMEOUTS: readonly number[] = [2, 3];

export const SIM_IO_TIMEOUTS: readonly number[] = [1, 2, 2, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10];

/** The configuration a seed runs with (shared by the CLI, the tests and reproduction). */
export function seedConfig(seed: number, options: Omit<SeedRunOptions, "firstSeed" | "seeds">): SimConfig {
  return {
    seed,
    hosts: options.hosts,
    resources: options.resources ?? 2,
    ...(options.disks !== undefined && options.disks !== 1 ? { disks: options.disks } : {}),
    opsPerHost: options.opsPerHost ?? 12,
    variant: options.variant ?? "none",
    faults: { enabled: options.faults ?? true, ioTimeouts: options.ioTimeouts ?? SIM_IO_TIMEOUTS },
    maxSeconds: options.maxSeconds ?? 900,
    herdChance: options.herd === false ? 0 : HERD_CHANCE,
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
  let releasesChecked = 0;
  const ballots = { run: 0, withValue: 0, multiValue: 0 };
  const ioTimeoutHosts: number[] = [];
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
    releasesChecked += result.releasesChecked;
    ballots.run += result.ballots.run;
    ballots.withValue += result.ballots.withValue;
    ballots.multiValue += result.ballots.multiValue;
    for (const n of result.ioTimeouts) ioTimeoutHosts[n] = (ioTimeoutHosts[n] ?? 0) + 1;
    options.onSeed?.(result);
    if (result.violations.length > 0) {
      failingSeeds.push(seed);
      firstFailure ??= result;
      if (options.stopOnViolation) break;
    }
  }
  return {
    seedsRun,
    operations,
    ios,
    violations,
    ballots,
    releasesChecked,
    ioTimeoutHosts: Array.from(ioTimeoutHosts, (n) => n ?? 0),
    failingSeeds,
    firstFailure,
  };
}
