// DLM lockspaces and locks on shared storage, through the sanlock-ts daemon (docs/dlm.md §7,
// docs/dlm-wire.md). `libdlm.ts` has libdlm's names for ports of C code.
export { DlmClient, Lockspace, type CreateOptions, type LockInfo, type LockspaceInfo } from "./dlm-client.js";
export { Lock, LOCK_MODES, type ConvertOptions, type LockMode, type LockOptions, type LockState, type StatusFlags } from "./lock.js";
export { DlmConnection, DLM_SOCKET_NAME } from "./dlm-connection.js";
export { DlmError, DlmStatus, LKF, LKM, LSFL, type RecoveryCallbacks } from "@sanlock-ts/core/dlm";
export * as libdlm from "./libdlm.js";
