// Public API of the deterministic multi-host simulator (simulator-only; the daemon never uses it).
export { SimRandom, type RandomSource } from "./prng.js";
export { Scheduler, type RunLimits, type RunResult } from "./scheduler.js";
export { Trace, type TraceOptions } from "./trace.js";
export { SharedDisk } from "./shared-disk.js";
export { SimDevice, SimIoError, NO_IO_FAULTS, type IoFaultRates, type StallWindow } from "./sim-device.js";
export { SimHost, HostClock } from "./sim-host.js";
export { WatchdogModel } from "./watchdog.js";
export { InvariantChecker, type Violation, type HoldMode } from "./checker.js";
export { planHostFaults, MAX_DRIFT, type HostFaultPlan, type FaultSettings } from "./faults.js";
export { makeLayout, describeIo, type SimLayout } from "./layout.js";
export { makeDiskInitialiser } from "./init-disk.js";
export { RealHostActor } from "./host-actor.js";
export { runSimulation, type SimConfig, type SimResult, type HostActor, type HostContext, type ActorFactory } from "./world.js";
export { runSeeds, seedConfig, type SeedRunOptions, type SeedRunSummary } from "./runner.js";
