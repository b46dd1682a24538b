export const VERSION = "0.1.0";
export * from "./clock.js";
export * from "./limits.js";
export * from "./timeouts.js";
export * from "./results.js";
export * from "./lease-errors.js";
export * from "./variants.js";
export * from "./host-status.js";
export { observedRecordAt } from "./observed-record.js";
export * from "./delta-lease.js";
export * from "./paxos-lease.js";
export * from "./errors.js";
export * from "./ondisk/index.js";
export * from "./block-device.js";
export * from "./memory-device.js";
export * from "./areas/index.js";
export * from "./paxos-disk.js";
export * from "./paxos-area.js";
export * from "./paxos-disk-set.js";
export * from "./paxos-ballot.js";
export * from "./paxos-owner.js";
export * from "./paxos-acquire.js";
export type { PaxosTrace } from "./paxos-trace.js";
export * from "./shared-lease.js";
export * from "./requests.js";
export * from "./lvb-ops.js";
// The simulator is not re-exported here: every importer of the core (each daemon thread among
// them) would load it, about 8 MiB per V8 isolate. Import it from "@sanlock-ts/core/sim".
