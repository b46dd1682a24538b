// The faults one seeded run injects (docs/algorithms.md §8.5), drawn up front from the seed so that a
// run's plan can be printed and reproduced. Every fault stays inside the assumptions of docs/algorithms.md §8.1:
// clock drift of at most 100 ppm (A2), a reset ends all I/O (A4), the watchdog always runs (A3).

import type { SimRandom } from "./prng.js";
import type { IoFaultRates, StallWindow } from "./sim-device.js";

/** Largest clock rate error injected: 100 ppm, far inside A2's "fraction of a percent". */
export const MAX_DRIFT = 1e-4;

export interface HostFaultPlan {
  readonly rate: number;
  readonly ioTimeout: number;
  readonly io: IoFaultRates;
  /** Crash (daemon only) or power loss (reset) right after this host's n-th I/O. */
  readonly crashAtIo?: { readonly io: number; readonly kind: "daemon" | "reset" };
  readonly pause?: { readonly at: number; readonly seconds: number };
  readonly stall?: StallWindow;
  readonly wallJump?: { readonly at: number; readonly seconds: number };
  /** True seconds between a reset and the next power-on. */
  readonly rebootDelay: number;
  /** Probability that a process ignores SIGTERM (then SIGKILL after the grace period works). */
  readonly ignoresSigterm: number;
  /** Probability that a process cannot be killed at all (only the watchdog reset ends it). */
  readonly unkillable: number;
}

export interface FaultSettings {
  readonly enabled: boolean;
  /** io_timeouts hosts choose from (mixed io_timeouts, docs/algorithms.md §8.5). */
  readonly ioTimeouts: readonly number[];
}

/**
 * `calm`: the host shares its host_id with another host (docs/algorithms.md §8.5 host_id reuse). Joins of such hosts
 * are resolved only under A5 (their writes complete within the io_timeout during the short delay,
 * docs/algorithms.md §8.4 item 5), so they get no stalled, slow or failing I/O and no pauses or crashes.
 */
export function planHostFaults(random: SimRandom, settings: FaultSettings, runSeconds: number, calm = false): HostFaultPlan {
  const ioTimeout = random.pick(settings.ioTimeouts);
  const base: HostFaultPlan = {
    rate: 1 + random.between(-MAX_DRIFT, MAX_DRIFT),
    ioTimeout,
    io: { fail: 0, slow: 0, stall: 0, split: 0.3 },
    rebootDelay: random.between(5, 60),
    ignoresSigterm: 0.3,
    unkillable: 0,
  };
  if (!settings.enabled || calm) return base;
  const noisy = random.chance(0.5);
  const late = (): number => random.between(20, runSeconds * 0.7);
  const n = ioTimeout;
  return {
    ...base,
    io: noisy ? { fail: 0.003, slow: 0.01, stall: 0.002, split: 0.5 } : base.io,
    ...(random.chance(0.3) ? { crashAtIo: { io: random.int(3, 600), kind: random.chance(0.6) ? "daemon" : "reset" } } : {}),
    // Pauses from a second to well past the lease (8N … 8N+60 and beyond: the watchdog must fire).
    ...(random.chance(0.25) ? { pause: { at: late(), seconds: random.between(1, 10 * n + 100) } } : {}),
    ...(random.chance(0.25)
      ? (() => {
          const start = late();
          return { stall: { start, end: start + random.between(n, 12 * n + 60), kind: random.pick(["read", "write", "both"] as const) } };
        })()
      : {}),
    ...(random.chance(0.3) ? { wallJump: { at: late(), seconds: random.between(-7200, 7200) } } : {}),
    unkillable: random.chance(0.2) ? 0.5 : 0,
  };
}

export function describePlan(plan: HostFaultPlan, hostId: number): string {
  const parts = [`host_id ${hostId}`, `rate ${plan.rate.toFixed(6)}`, `io_timeout ${plan.ioTimeout}`];
  if (plan.io.fail || plan.io.stall) parts.push(`noisy I/O`);
  if (plan.crashAtIo) parts.push(`${plan.crashAtIo.kind} crash at I/O #${plan.crashAtIo.io}`);
  if (plan.pause) parts.push(`pause ${plan.pause.seconds.toFixed(1)} s at t=${plan.pause.at.toFixed(1)}`);
  if (plan.stall) parts.push(`${plan.stall.kind} stall t=${plan.stall.start.toFixed(1)}..${plan.stall.end.toFixed(1)}`);
  if (plan.wallJump) parts.push(`wall jump ${plan.wallJump.seconds.toFixed(0)} s`);
  if (plan.unkillable) parts.push("unkillable processes");
  return parts.join(", ");
}
