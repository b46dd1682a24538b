// @sanlock-ts/client/lockmanager: libvirt's lock-manager API on sanlock, as libvirt's sanlock
// plugin does it (docs/lockmanager.md).

export { SanlockLockDriver, type DriverInitOptions, LOCKSPACE_RETRIES } from "./driver.js";
export {
  DomainLockManager,
  type DomainParams,
  type LeaseParams,
  type ResourceType,
  type ResourceFlags,
  type AcquireOptions,
  formatUuid,
  ownerNameOf,
} from "./manager.js";
export { type SanlockLockConfig, parseLockConfig, readLockConfig, defaultLockConfig, DEFAULT_DISK_LEASE_DIR } from "./config.js";
export { DISKS_LOCKSPACE, diskLeaseName, diskLeaseFilePath, lockspaceFilePath } from "./disk-lease.js";
export { LockManagerError, LockManagerErrorCode, type LockManagerErrorCodeValue, type VirErrorKind } from "./errors.js";
export {
  type LockFailureAction,
  LOCK_FAILURE_ACTIONS,
  LIBVIRT_SANLOCK_HELPER,
  type KillpathHelper,
  type KillpathSpec,
  killpathFor,
  isLockFailureAction,
} from "./killpath-args.js";
export { parseLockState, formatLockstateCookie, parseLockstateCookie } from "./lock-state.js";
export {
  type DomainDescription,
  type DomainDisk,
  type DomainLease,
  type DiskSourceType,
  type SupervisorOptions,
  processStart,
  processPause,
  processResume,
  processInquire,
  imageAttach,
  imageDetach,
  leaseAttach,
  leaseDetach,
  supervisorCommand,
  waitRegistered,
} from "./domain-lock.js";
