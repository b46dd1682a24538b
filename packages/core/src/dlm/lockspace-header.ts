// The DLM lockspace header: 256 bytes in the last sector of the sanlock lockspace area of a DLM
// volume; it says how the volume is laid out and which options every member must share
// (docs/dlm.md §4.1, §4.2).
import { writeU32, writeU64 } from "../ondisk/bytes.js";
import { NAME_LEN } from "../limits.js";
import { DLM_RECORD_VERSION, checkRecord, readText, requireRange, sealRecord, viewAt, writeText } from "./record-frame.js";
import { MAX_LVB_LEN } from "./slot-record.js";

export const LOCKSPACE_HEADER_MAGIC = 0x484d4c44; // "DLMH"
export const LOCKSPACE_HEADER_SIZE = 256;
/** Cluster names are stored in 64 bytes (DLM_LOCKSPACE_LEN). */
export const CLUSTER_NAME_LEN = 64;
/** Only NODIR and TIMEWARN are recorded on disk (docs/dlm.md §4.2). */
export const HEADER_EXFLAGS_MASK = 0x3;
export const DEFAULT_LVB_LEN = 32;
export const DEFAULT_POLL_MS = 1000;

export interface LockspaceHeader {
  exflags: number;
  lvbLen: number;
  numHosts: number;
  maxResources: number;
  sectorSize: number;
  alignSize: number;
  hostAreaOffset: bigint;
  rindexOffset: bigint;
  lockspaceId: bigint;
  name: string;
  cluster: string;
  pollMs: number;
  /** Wall-clock seconds at format; informational only. */
  formatTime: bigint;
}

/** lvblen is 8..64 and a multiple of 8 (docs/dlm.md §1.4, §4.2). */
export function validLvbLen(len: number): boolean {
  return Number.isInteger(len) && len >= 8 && len <= MAX_LVB_LEN && len % 8 === 0;
}

export function writeLockspaceHeader(out: Uint8Array, offset: number, h: LockspaceHeader): number {
  const v = viewAt(out, offset, LOCKSPACE_HEADER_SIZE, "DLM lockspace header");
  out.fill(0, offset, offset + LOCKSPACE_HEADER_SIZE);
  requireRange(h.exflags, 0, HEADER_EXFLAGS_MASK, "exflags");
  if (!validLvbLen(h.lvbLen)) requireRange(h.lvbLen, 8, 8, "lvblen (8..64, multiple of 8)");
  writeU32(v, 0, LOCKSPACE_HEADER_MAGIC, "magic");
  writeU32(v, 4, DLM_RECORD_VERSION, "version");
  writeU32(v, 8, h.exflags, "exflags");
  writeU32(v, 12, h.lvbLen, "lvblen");
  writeU32(v, 16, h.numHosts, "num_hosts");
  writeU32(v, 20, h.maxResources, "max_resources");
  writeU32(v, 24, h.sectorSize, "sector_size");
  writeU32(v, 28, h.alignSize, "align_size");
  writeU64(v, 32, h.hostAreaOffset, "host area offset");
  writeU64(v, 40, h.rindexOffset, "rindex offset");
  writeU64(v, 48, h.lockspaceId, "lockspace_id");
  writeText(out, offset + 56, NAME_LEN, h.name, "lockspace name");
  writeText(out, offset + 104, CLUSTER_NAME_LEN, h.cluster, "cluster name");
  writeU32(v, 168, h.pollMs, "poll_ms");
  writeU64(v, 176, h.formatTime, "format time");
  return sealRecord(out, offset, LOCKSPACE_HEADER_SIZE);
}

export function encodeLockspaceHeader(h: LockspaceHeader): Uint8Array {
  const out = new Uint8Array(LOCKSPACE_HEADER_SIZE);
  writeLockspaceHeader(out, 0, h);
  return out;
}

export function decodeLockspaceHeader(bytes: Uint8Array, offset = 0): LockspaceHeader {
  const v = checkRecord(bytes, offset, LOCKSPACE_HEADER_SIZE, LOCKSPACE_HEADER_MAGIC, "DLM lockspace header");
  return {
    exflags: v.getUint32(8, true),
    lvbLen: v.getUint32(12, true),
    numHosts: v.getUint32(16, true),
    maxResources: v.getUint32(20, true),
    sectorSize: v.getUint32(24, true),
    alignSize: v.getUint32(28, true),
    hostAreaOffset: v.getBigUint64(32, true),
    rindexOffset: v.getBigUint64(40, true),
    lockspaceId: v.getBigUint64(48, true),
    name: readText(bytes, offset + 56, NAME_LEN),
    cluster: readText(bytes, offset + 104, CLUSTER_NAME_LEN),
    pollMs: v.getUint32(168, true),
    formatTime: v.getBigUint64(176, true),
  };
}
