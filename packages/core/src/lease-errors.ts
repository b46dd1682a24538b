/**
 * sanlock result codes used by the lease algorithms (algorithms.md §11) and the
 * error type that carries them. The daemon maps `result` onto the wire.
 */
import { SanlockTsError, type ErrorDetails } from "./errors.js";
export const SanlockResult = {
  EAGAIN: -11,
  EBUSY: -16,
  EEXIST: -17,
  ORPHAN_EXISTS: -117,
  ERROR: -201,
  AIO_TIMEOUT: -202,
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
  IO_ERROR: -5,
} as const;

export type SanlockResultName = keyof typeof SanlockResult;

/**
 * A lease operation failed with a sanlock result code. `code` is the stable
 * string "ERR_SANLK_<NAME>", `result` the negative sanlock number.
 */
export class LeaseError extends SanlockTsError {
  readonly result: number;
  constructor(name: SanlockResultName, message: string, details?: ErrorDetails) {
    super(`ERR_SANLK_${name}`, message, details);
    this.name = "LeaseError";
    this.result = SanlockResult[name];
  }
}

/** True when `err` is a LeaseError with the given result name. */
export function isLeaseError(err: unknown, name?: SanlockResultName): err is LeaseError {
  return err instanceof LeaseError && (name === undefined || err.result === SanlockResult[name]);
}


/**
 * Map a record validation failure (OnDiskFormatError from the ondisk codecs) to
 * the sanlock result verify_leader / verify_dblock would give. Other errors pass through.
 */
export function toLeaseError(err: unknown, what: string): unknown {
  if (!(err instanceof SanlockTsError) || err instanceof LeaseError) return err;
  const field = typeof err.details?.["field"] === "string" ? err.details["field"] : "";
  const name: SanlockResultName | undefined =
    err.code === "ERR_BAD_MAGIC" || err.code === "ERR_LEASE_CLEARED" ? "LEADER_MAGIC"
    : err.code === "ERR_BAD_VERSION" ? "LEADER_VERSION"
    : err.code === "ERR_NAME_MISMATCH" ? (field === "resourceName" ? "LEADER_RESOURCE" : "LEADER_LOCKSPACE")
    : err.code === "ERR_FIELD_RANGE" && field === "numHosts" ? "LEADER_NUMHOSTS"
    : err.code === "ERR_BAD_CHECKSUM" ? "LEADER_CHECKSUM"
    : undefined;
  if (name === undefined) return err;
  return new LeaseError(name, `${what}: ${err.message}`, { cause: err.code, ...(err.details ?? {}) });
}
