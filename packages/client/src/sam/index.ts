// @sanlock-ts/client/sam: corosync SAM's API on sanlock-ts (docs/sam.md).
export { Sam } from "./sam.js";
export { SamWorker, type WorkerState } from "./worker.js";
export { Supervisor, exitStatusOf, type SupervisorRun } from "./supervisor.js";
export type { InstanceCommand } from "./instance.js";
export type { HealthCommandSpec } from "./health-command.js";
export type { SamEvent, SamOutcome, KillReason, FailReason } from "./events.js";
export { describeEvent } from "./events.js";
export { resolveOptions, type SamOptions, type ResolvedOptions, type RecoveryPolicy, type Continuity, type QuorumEntry, type RestartLimit } from "./options.js";
export { listStatus, shownState, statusDir, type StatusEntry, type ListedEntry, type PublishedState } from "./status-store.js";
export { quorumProblem } from "./quorum.js";
export { releaseOrphans, releaseOrphanSpecs } from "./orphans.js";
export {
  CsError,
  SamError,
  SamErrorCode,
  SamStateError,
  SamArgumentError,
  SamChannelError,
  SamDataTooBigError,
  SamLeaseChangedError,
  SamAbortedError,
  type SamErrorCodeValue,
} from "./errors.js";
export { CHANNEL_FD, ENV_FD, ENV_INSTANCE, ENV_INTERVAL, ENV_SUPERVISOR_PID } from "./channel.js";
