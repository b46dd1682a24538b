// Public API of the DLM engine (docs/dlm.md): lock modes, flags and status codes, the on-disk
// records of a DLM volume, and the engine that grants locks between hosts sharing one disk.
export * from "./modes.js";
export * from "./status.js";
export { DLM_RECORD_VERSION, DlmRecordErrors } from "./record-frame.js";
export * from "./slot-record.js";
export * from "./lockspace-header.js";
export * from "./resource-header.js";
export * from "./host-record.js";
export { evaluateLock, canBeGranted, conversionDeadlock, type QueueEntry, type ResourceQueues, type Verdict } from "./evaluate.js";
export { DlmLock, type Completion, type LockState, type BastCallback } from "./lock.js";
export { resourceLvb, parseView, type ResourceView, type ResourceLvb } from "./view.js";
export { CountingDevice, type DlmIo } from "./counting-device.js";
export type { ResourceArea } from "./resource-io.js";
export {
  DlmEngine,
  DLM_VARIANTS,
  MAX_LOCKS,
  MAX_RESOURCES,
  type DlmVariant,
  type DlmEngineOptions,
  type LockRequest,
  type LockHandle,
  type UnlockRequest,
  type LockInfo,
  type RecoveryCallbacks,
} from "./engine.js";
export {
  formatVolume,
  readVolumeHeader,
  detectVolumeGeometry,
  volumeHeader,
  headerOffset,
  resourceAreaOffset,
  DEFAULT_DLM_NUM_HOSTS,
  DEFAULT_DLM_MAX_RESOURCES,
  type VolumeFormat,
} from "./volume.js";
export { DlmLockspaces, MAX_LOCKSPACES, type LockspaceOptions, type LockspaceHandle, type LockspaceHost, type JoinedLockspace } from "./lockspaces.js";
export { ResourceDirectory, sanlockNameOf, type DirectoryOptions } from "./directory.js";
export { FrameDecoder, FrameError, MAX_FRAME_BYTES, encodeFrame } from "./frames.js";
