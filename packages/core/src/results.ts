// The one table of sanlock's results: the numbers a reply header's `data` carries (docs/wire.md §9),
// the numbers `sanlock direct` prints, and the results of the lease algorithms. Negative values
// are either a negated Linux errno (−1..−133) or a sanlock code (−201..−278). 0 is success;
// ALIGN and RELEASE+REL_ORPHAN return positive values on success (docs/wire.md §9.1). Every other module
// takes its numbers from here.

interface ResultInfo {
  readonly name: string;
  readonly message: string;
}

/** Linux errno values that occur on the wire (docs/wire.md §9.3), with glibc's strerror text. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EISDIR: 21,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENOCSI: 50,
  EBADR: 53,
  EPROTO: 71,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  ELIBACC: 79,
  ELIBBAD: 80,
  ELIBSCN: 81,
  ECONNREFUSED: 111,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  EALREADY: 114,
  EINPROGRESS: 115,
  ESTALE: 116,
  EUCLEAN: 117,
} as const;
export type ErrnoName = keyof typeof Errno;

const ERRNO_TEXT: Readonly<Record<ErrnoName, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EINTR: "Interrupted system call",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  E2BIG: "Argument list too long",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  ENODEV: "No such device",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENOTTY: "Inappropriate ioctl for device",
  ENOSPC: "No space left on device",
  EPIPE: "Broken pipe",
  ERANGE: "Numerical result out of range",
  EDEADLK: "Resource deadlock avoided",
  ENOCSI: "No CSI structure available",
  EBADR: "Invalid request descriptor",
  EPROTO: "Protocol error",
  EMSGSIZE: "Message too long",
  EOPNOTSUPP: "Operation not supported",
  ELIBACC: "Can not access a needed shared library",
  ELIBBAD: "Accessing a corrupted shared library",
  ELIBSCN: ".lib section in a.out corrupted",
  ECONNREFUSED: "Connection refused",
  ENOTCONN: "Transport endpoint is not connected",
  ETIMEDOUT: "Connection timed out",
  EALREADY: "Operation already in progress",
  EINPROGRESS: "Operation now in progress",
  ESTALE: "Stale file handle",
  EUCLEAN: "Structure needs cleaning",
};

/** sanlock's own result codes (docs/wire.md §9.2), negative as they travel. */
export const SanlkResult = {
  ERROR: -201,
  AIO_TIMEOUT: -202,
  WD_ERROR: -203,
  DBLOCK_READ: -210,
  DBLOCK_WRITE: -211,
  DBLOCK_LVER: -212,
  DBLOCK_MBAL: -213,
  DBLOCK_CHECKSUM: -214,
  LEADER_READ: -220,
  LEADER_WRITE: -221,
  LEADER_DIFF: -222,
  LEADER_MAGIC: -223,
  LEADER_VERSION: -224,
  LEADER_SECTORSIZE: -225,
  LEADER_LOCKSPACE: -226,
  LEADER_RESOURCE: -227,
  LEADER_NUMHOSTS: -228,
  LEADER_CHECKSUM: -229,
  ADDLS_SIZES: -230,
  ADDLS_INVALID_HOSTID: -231,
  ACQUIRE_LVER: -240,
  ACQUIRE_LOCKSPACE: -241,
  ACQUIRE_IDDISK: -242,
  ACQUIRE_IDLIVE: -243,
  ACQUIRE_OWNED: -244,
  ACQUIRE_OTHER: -245,
  ACQUIRE_SHRETRY: -246,
  ACQUIRE_OWNED_RETRY: -247,
  RELEASE_LVER: -250,
  RELEASE_OWNER: -251,
  RENEW_OWNER: -260,
  RENEW_DIFF: -261,
  HOSTID_BUSY: -262,
  REQUEST_MAGIC: -270,
  REQUEST_VERSION: -271,
  REQUEST_OLD: -272,
  REQUEST_LVER: -273,
  RINDEX_MAGIC: -274,
  RINDEX_VERSION: -275,
  RINDEX_LOCKSPACE: -276,
  RINDEX_OFFSET: -277,
  RINDEX_DIFF: -278,
} as const;
export type SanlkResultName = keyof typeof SanlkResult;

/** The text `sanlock_strerror` returns for each code (docs/wire.md §9.2; "Unknown error" where it has none). */
const SANLK_TEXT: Readonly<Record<SanlkResultName, string>> = {
  ERROR: "General error",
  AIO_TIMEOUT: "IO timeout",
  WD_ERROR: "Watchdog device error",
  DBLOCK_READ: "Lease read error in dblock",
  DBLOCK_WRITE: "Lease write error in dblock",
  DBLOCK_LVER: "Lease was acquired by another host in new ballot",
  DBLOCK_MBAL: "Lease was acquired by another host in current ballot",
  DBLOCK_CHECKSUM: "Lease checksum error in dblock",
  LEADER_READ: "Lease read error in leader",
  LEADER_WRITE: "Lease write error in leader",
  LEADER_DIFF: "Lease read inconsistent",
  LEADER_MAGIC: "Lease does not exist on storage",
  LEADER_VERSION: "Lease format version on storage is not recognized",
  LEADER_SECTORSIZE: "Lease sector size is inconsistent",
  LEADER_LOCKSPACE: "Lease lockspace name is incorrect",
  LEADER_RESOURCE: "Lease resource name is incorrect",
  LEADER_NUMHOSTS: "Lease num_hosts is incorrect",
  LEADER_CHECKSUM: "Lease checksum error in leader",
  ADDLS_SIZES: "Unknown error",
  ADDLS_INVALID_HOSTID: "Unknown error",
  ACQUIRE_LVER: "Unknown error",
  ACQUIRE_LOCKSPACE: "Lease lockspace is not found",
  ACQUIRE_IDDISK: "Lease lockspace disk cannot be opened",
  ACQUIRE_IDLIVE: "Lease is held by another host",
  ACQUIRE_OWNED: "Lease was acquired by another host in other ballot",
  ACQUIRE_OTHER: "Lease was acquired by another host in local commit",
  ACQUIRE_SHRETRY: "Lease is held by another host for shared acquire",
  ACQUIRE_OWNED_RETRY: "Lease is owned by another host",
  RELEASE_LVER: "Lease release version is incorrect",
  RELEASE_OWNER: "Lease release owner is incorrect",
  RENEW_OWNER: "Lease renew owner is incorrect",
  RENEW_DIFF: "Lease renew data has changed",
  HOSTID_BUSY: "Lease host ID is being used by another host",
  REQUEST_MAGIC: "Lease request block has invalid data",
  REQUEST_VERSION: "Lease request block has invalid version",
  REQUEST_OLD: "Lease request has newer lease version",
  REQUEST_LVER: "Lease request block has newer version",
  RINDEX_MAGIC: "Unknown error",
  RINDEX_VERSION: "Unknown error",
  RINDEX_LOCKSPACE: "Unknown error",
  RINDEX_OFFSET: "Unknown error",
  RINDEX_DIFF: "Unknown error",
};

const RESULTS: ReadonlyMap<number, ResultInfo> = buildResultTable();

function buildResultTable(): Map<number, ResultInfo> {
  const table = new Map<number, ResultInfo>();
  for (const [name, value] of Object.entries(Errno) as [ErrnoName, number][]) {
    table.set(-value, { name: `-${name}`, message: ERRNO_TEXT[name] });
  }
  for (const [name, value] of Object.entries(SanlkResult) as [SanlkResultName, number][]) {
    table.set(value, { name: `SANLK_${name}`, message: SANLK_TEXT[name] });
  }
  return table;
}

/** Negated errno as it travels in `data`, e.g. `errnoResult("EAGAIN")` = −11. */
export function errnoResult(name: ErrnoName): number {
  return -Errno[name];
}

/** "-EAGAIN" for −11, "SANLK_ACQUIRE_IDLIVE" for −243, "OK" for 0, "RESULT<n>" otherwise. */
export function resultName(result: number): string {
  if (result === 0) return "OK";
  return RESULTS.get(result)?.name ?? `RESULT${result}`;
}

/** Readable text for a result, as strerror / sanlock_strerror would give it. */
export function resultMessage(result: number): string {
  if (result === 0) return "Success";
  if (result > 0) return `Success (value ${result})`;
  return RESULTS.get(result)?.message ?? "Unknown error";
}

/** True for the sanlock range −201..−299 (Python reports these as `errno = rv`, docs/wire.md §9.1). */
export function isSanlkResult(result: number): boolean {
  return result <= -200 && result > -300;
}
