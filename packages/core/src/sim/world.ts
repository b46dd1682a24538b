// One seeded run: builds the shared disk, the hosts (clock, watchdog, device), draws the fault
// plan, starts one actor per host and runs the scheduler until the work is done or time is up.
// Actors are pluggable: the real one drives the core algorithms (host-actor.ts); tests may plug a
// trivial stand-in to exercise the scheduler, disk and checker alone.

import { InvariantChecker, type Violation } from "./checker.js";
import { describePlan, planHostFaults, type FaultSettings, type HostFaultPlan } from "./faults.js";
import { DISK_FAULT_SEED_SALT, describeDiskFault, planDiskFaults, type DiskFaultWindow } from "./disk-faults.js";
import { describeIo, makeLayout, resourceOfArea, type SimLayout } from "./layout.js";
import { SimRandom } from "./prng.js";
import { Scheduler, type RunResult } from "./scheduler.js";
import { SharedDisk } from "./shared-disk.js";
import { SimDevice } from "./sim-device.js";
import { SimHost } from "./sim-host.js";
import { Trace } from "./trace.js";
import { WatchdogModel } from "./watchdog.js";

export const MAX_SIM_HOSTS = 16;
/** Share of faulty runs in which two hosts are configured with the same host_id. */
const DUPLICATE_HOST_ID_CHANCE = 0.2;
/** Seconds between the moments herd runs' processes start acquires together. */
export const HERD_PERIOD = 7;
/** Mixed into the seed for the workload draw, so that it leaves every other draw of a seed as it was. */
const WORKLOAD_SEED_SALT = 0x5eed_f00d;

export interface SimConfig {
  readonly seed: number;
  readonly hosts: number;
  readonly resources: number;
  /** Disks each resource is replicated on (docs/algorithms.md §4.11); undefined = 1. */
  readonly disks?: number;
  /** Lease operations each host attempts. */
  readonly opsPerHost: number;
  /** Name of a deliberately broken rule (simulator-only), or "none". */
  readonly variant: string;
  readonly faults: FaultSettings;
  /** True seconds simulated at most. */
  readonly maxSeconds: number;
  /** Scheduler events at most (livelock guard). */
  readonly maxEvents: number;
  /**
   * Share of faulty runs whose processes start their acquires together (every `HERD_PERIOD`
   * seconds of true time, within a few ms): contention that makes ballots meet each other's
   * accepted values. 0 reproduces runs found before this workload existed.
   */
  readonly herdChance: number;
  /** Trace lines kept for the failure report. */
  readonly keepTraceLines: number;
  readonly traceSink?: (line: string) => void;
}

/** What an actor gets to drive one host. */
export interface HostContext {
  readonly index: number;
  readonly hostId: number;
  readonly host: SimHost;
  readonly device: SimDevice;
  readonly watchdog: WatchdogModel;
  readonly checker: InvariantChecker;
  readonly scheduler: Scheduler;
  readonly random: SimRandom;
  readonly layout: SimLayout;
  /** The shared disk itself, for the checker's look at what a release left (never for the algorithms). */
  readonly disk: SharedDisk;
  readonly plan: HostFaultPlan;
  /** Windows in which one disk of the replicated resources fails or stalls (disk-faults.ts). */
  readonly diskFaults: readonly DiskFaultWindow[];
  readonly config: SimConfig;
  /** Herd runs: processes start acquires at the next multiple of this many true seconds. */
  readonly herdPeriod: number | undefined;
}

export interface HostActor {
  /** The host powered on (first boot or after a reset): start a daemon instance. */
  boot(): void;
  /** The host was reset: every process died, the daemon with them. */
  onReset(): void;
  /** The daemon crashed; processes keep running until the watchdog fires. */
  onDaemonCrash(): void;
  /** True once this host has attempted all its operations. */
  readonly done: boolean;
}

export type ActorFactory = (ctx: HostContext) => HostActor;

/** Prepares the shared disk before the hosts start (e.g. initialise lockspace and resources). */
export type DiskInitialiser = (disk: SharedDisk, layout: SimLayout) => void;

export interface SimResult {
  readonly seed: number;
  readonly violations: readonly Violation[];
  readonly operations: number;
  readonly ios: number;
  readonly ballots: { readonly run: number; readonly withValue: number; readonly multiValue: number };
  readonly releasesChecked: number;
  /** Each host's io_timeout, in host order. */
  readonly ioTimeouts: readonly number[];
  readonly run: RunResult;
  readonly traceDigest: string;
  readonly traceLines: number;
  readonly trace: Trace;
  readonly plans: readonly string[];
}

export async function runSimulation(config: SimConfig, makeActor: ActorFactory, initDisk: DiskInitialiser): Promise<SimResult> {
  if (!Number.isInteger(config.hosts) || config.hosts < 1 || config.hosts > MAX_SIM_HOSTS) {
    throw new RangeError(`hosts must be 1..${MAX_SIM_HOSTS}, got ${config.hosts}`);
  }
  const random = new SimRandom(config.seed);
  const scheduler = new Scheduler(random.fork());
  const trace = new Trace({ keepLines: config.keepTraceLines, ...(config.traceSink ? { sink: config.traceSink } : {}) });
  const layout = makeLayout(config.resources, config.disks ?? 1);
  const disk = new SharedDisk(layout.sectorSize, layout.diskBytes);
  initDisk(disk, layout);
  const checker = new InvariantChecker((v) => trace.log(v.time, "CHECKER", `VIOLATION ${v.kind}: ${v.message}`));
  const describe = (offset: number, length: number, data: Uint8Array | undefined): string => describeIo(layout, offset, length, data);
  const diskFaults = config.faults.enabled
    ? planDiskFaults(new SimRandom(config.seed + DISK_FAULT_SEED_SALT), config.disks ?? 1, config.hosts, config.maxSeconds)
    : [];
  for (const w of diskFaults) trace.log(0, "world", `disk fault: ${describeDiskFault(w)}`);

  const actors: HostActor[] = [];
  const devices: SimDevice[] = [];
  const plans: string[] = [];
  const hostIds = chooseHostIds(random, config);
  const startTimes: number[] = [];
  const ioTimeouts: number[] = [];
  const herd = config.faults.enabled && new SimRandom(config.seed + WORKLOAD_SEED_SALT).chance(config.herdChance);
  if (herd) trace.log(0, "world", `herd: processes start acquires together every ${HERD_PERIOD} s`);
  for (let i = 0; i < config.hosts; i++) {
    const hostRandom = random.fork();
    const hostId = hostIds[i] as number;
    const sharesHostId = hostIds.filter((h) => h === hostId).length > 1;
    const plan = planHostFaults(hostRandom, config.faults, config.maxSeconds, sharesHostId);
    ioTimeouts.push(plan.ioTimeout);
    const host = new SimHost(scheduler, trace, {
      index: i,
      name: `host${i + 1}`,
      rate: plan.rate,
      bootLocal: hostRandom.between(100, 100000),
    });
    const device = new SimDevice(scheduler, disk, host, hostRandom.fork(), plan.ioTimeout, plan.io, describe);
    device.onLateLanding = (offset) => {
      const owner = resourceOfArea(layout, Math.floor(offset / layout.alignSize));
      if (owner) checker.lateWrite(owner.resource.name);
    };
    let actor: HostActor | undefined;
    const resetHost = (reason: string): void => {
      if (!host.isUp) return;
      host.reset(reason);
      checker.processesGone(i);
      actor?.onReset();
      scheduler.after(plan.rebootDelay, () => {
        host.powerOn(hostRandom.between(5, 50));
        watchdog.start(hostRandom.between(0, 10));
        actor?.boot();
      });
    };
    const watchdog = new WatchdogModel(scheduler, host, resetHost);
    actor = makeActor({
      index: i,
      hostId,
      host,
      device,
      watchdog,
      checker,
      scheduler,
      random: hostRandom.fork(),
      layout,
      disk,
      plan,
      diskFaults,
      config,
      herdPeriod: herd ? HERD_PERIOD : undefined,
    });
    scheduleFaults(scheduler, host, device, plan, resetHost, () => actor?.onDaemonCrash());
    plans.push(`h${i + 1}: ${describePlan(plan, hostId)}`);
    trace.log(0, `h${i + 1}`, `plan: ${describePlan(plan, hostId)}`);
    actors.push(actor);
    devices.push(device);
    // Hosts start within 5 s of each other; a host sharing another's host_id often starts within
    // 20 ms of it (simultaneous contenders, docs/algorithms.md §8.5), otherwise staggered.
    let start = hostRandom.between(0, 5);
    const twin = hostIds.indexOf(hostId);
    if (twin < i && hostRandom.chance(0.5)) start = (startTimes[twin] as number) + hostRandom.between(0, 0.02);
    startTimes.push(start);
    scheduler.at(start, () => {
      watchdog.start(hostRandom.between(0, 10));
      actor?.boot();
    });
  }

  const run = await scheduler.run({
    untilTime: config.maxSeconds,
    maxEvents: config.maxEvents,
    stop: () => checker.violations.length > 0 || actors.every((a) => a.done),
  });
  checker.finish(scheduler.now);
  return {
    seed: config.seed,
    violations: checker.violations,
    operations: checker.operations,
    ios: devices.reduce((sum, d) => sum + d.ioCount, 0),
    ballots: { ...checker.ballots },
    releasesChecked: checker.releasesChecked,
    ioTimeouts,
    run,
    traceDigest: trace.digest(),
    traceLines: trace.totalLines,
    trace,
    plans: [...plans, ...diskFaults.map((w) => `disks: ${describeDiskFault(w)}`)],
  };
}

/**
 * Host i normally uses host_id i+1. With faults, some runs configure the last host with host 1's
 * host_id (two daemons, different names, one host_id: docs/algorithms.md §8.5), started at nearly the same time.
 */
function chooseHostIds(random: SimRandom, config: SimConfig): number[] {
  const ids = Array.from({ length: config.hosts }, (_, i) => i + 1);
  if (config.faults.enabled && config.hosts >= 3 && random.chance(DUPLICATE_HOST_ID_CHANCE)) ids[config.hosts - 1] = 1;
  return ids;
}

function scheduleFaults(
  scheduler: Scheduler,
  host: SimHost,
  device: SimDevice,
  plan: HostFaultPlan,
  resetHost: (reason: string) => void,
  onDaemonCrash: () => void,
): void {
  const crash = plan.crashAtIo;
  if (crash) {
    let fired = false;
    device.onIssue = (n) => {
      if (fired || n < crash.io || !host.isUp) return;
      fired = true;
      if (crash.kind === "reset") {
        resetHost(`power loss after I/O #${n}`);
      } else {
        host.crashDaemon();
        onDaemonCrash();
      }
    };
  }
  if (plan.pause) {
    const pause = plan.pause;
    scheduler.at(pause.at, () => {
      if (host.isUp) host.pauseDaemon(pause.seconds);
    });
  }
  if (plan.stall) {
    device.addStallWindow(plan.stall);
    const stall = plan.stall;
    scheduler.at(stall.start, () => host.log(`FAULT ${stall.kind} I/O stalls until t=${stall.end.toFixed(1)}`));
  }
  if (plan.wallJump) {
    const jump = plan.wallJump;
    scheduler.at(jump.at, () => host.jumpWallClock(jump.seconds));
  }
}
