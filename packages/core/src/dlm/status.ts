// DLM status codes, lock and lockspace flags, sb_flags, and the one error class the engine throws
// (docs/dlm.md §1.5-§1.6). errno values come from the project's result table; only the DLM's own
// codes above 0xFFFF are defined here.
import { SanlockTsError } from "../errors.js";
import { Errno } from "../results.js";

/** dlm_lock / dlm_unlock flags (the kernel's DLM_LKF_*, docs/dlm.md §1.5). */
export const LKF = {
  NOQUEUE: 0x1,
  CANCEL: 0x2,
  CONVERT: 0x4,
  VALBLK: 0x8,
  QUECVT: 0x10,
  IVVALBLK: 0x20,
  CONVDEADLK: 0x40,
  PERSISTENT: 0x80,
  NODLCKWT: 0x100,
  NODLCKBLK: 0x200,
  EXPEDITE: 0x400,
  NOQUEUEBAST: 0x800,
  HEADQUE: 0x1000,
  NOORDER: 0x2000,
  ORPHAN: 0x4000,
  ALTPR: 0x8000,
  ALTCW: 0x10000,
  FORCEUNLOCK: 0x20000,
  TIMEOUT: 0x40000,
} as const;

/** Every lock flag bit; any other bit is EINVAL (docs/dlm.md §1.5, a decision: the kernel ignores them on lock). */
export const LKF_ALL = Object.values(LKF).reduce((a, b) => a | b, 0);
/** The only flags dlm_unlock accepts (docs/dlm.md §1.5). */
export const LKF_UNLOCK_ALLOWED = LKF.CANCEL | LKF.VALBLK | LKF.IVVALBLK | LKF.FORCEUNLOCK;

/** Lockspace flags (DLM_LSFL_*, docs/dlm.md §1.7). */
export const LSFL = { NODIR: 0x1, TIMEWARN: 0x2, FS: 0x4, NEWEXCL: 0x8 } as const;

/** sb_flags of a completed lock (docs/dlm.md §1.6). */
export const SBF = { DEMOTED: 0x1, VALNOTVALID: 0x2, ALTMODE: 0x4 } as const;

/**
 * Status values in libdlm's positive convention (docs/dlm.md §1.6): errno values from the result
 * table, and the DLM's own ECANCEL / EUNLOCK above 0xFFFF.
 */
export const DlmStatus = {
  EPERM: Errno.EPERM,
  ENOENT: Errno.ENOENT,
  EAGAIN: Errno.EAGAIN,
  ENOMEM: Errno.ENOMEM,
  EBUSY: Errno.EBUSY,
  EEXIST: Errno.EEXIST,
  EINVAL: Errno.EINVAL,
  EDEADLK: Errno.EDEADLK,
  EBADR: Errno.EBADR,
  EPROTO: Errno.EPROTO,
  EOPNOTSUPP: Errno.EOPNOTSUPP,
  ENOTCONN: Errno.ENOTCONN,
  ETIMEDOUT: Errno.ETIMEDOUT,
  EINPROGRESS: Errno.EINPROGRESS,
  ECANCEL: 0x10001,
  EUNLOCK: 0x10002,
} as const;
export type DlmStatusName = keyof typeof DlmStatus;

/** The sb_flags of a lock as booleans. */
export interface StatusFlags {
  demoted: boolean;
  valNotValid: boolean;
  altMode: boolean;
}

export function noStatusFlags(): StatusFlags {
  return { demoted: false, valNotValid: false, altMode: false };
}

export type DlmOperation = "create" | "open" | "release" | "lock" | "convert" | "unlock" | "cancel" | "adopt" | "purge";

/** Every failure of a DLM call or completion; `code` is ERR_DLM_<status name>. */
export class DlmError extends SanlockTsError {
  readonly status: number;
  readonly statusName: DlmStatusName;
  readonly operation: DlmOperation;
  readonly lockId: number | undefined;
  readonly sb: StatusFlags;

  constructor(statusName: DlmStatusName, operation: DlmOperation, message: string, lockId?: number, sb: StatusFlags = noStatusFlags()) {
    super(`ERR_DLM_${statusName}`, `${operation}: ${message}`, { status: DlmStatus[statusName], lockId });
    this.name = "DlmError";
    this.status = DlmStatus[statusName];
    this.statusName = statusName;
    this.operation = operation;
    this.lockId = lockId;
    this.sb = { ...sb };
  }
}

export function isDlmError(err: unknown, statusName?: DlmStatusName): err is DlmError {
  return err instanceof DlmError && (statusName === undefined || err.statusName === statusName);
}
