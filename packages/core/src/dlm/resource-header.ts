// The DLM resource header: 256 bytes in the last sector of a resource's lease area, holding the
// full DLM name (binary, up to 64 bytes) behind the 48-byte sanlock name (docs/dlm.md §3.2, §4.4).
import { writeU32, writeU64 } from "../ondisk/bytes.js";
import { NAME_LEN } from "../limits.js";
import { DLM_RECORD_VERSION, checkRecord, readText, requireRange, sealRecord, viewAt, writeText } from "./record-frame.js";

export const RESOURCE_HEADER_MAGIC = 0x524d4c44; // "DLMR"
export const RESOURCE_HEADER_SIZE = 256;
/** DLM_RESNAME_MAXLEN (docs/dlm.md §1.5). */
export const MAX_RESOURCE_NAME_LEN = 64;

export interface ResourceHeader {
  /** The DLM resource name, 1..64 bytes, binary allowed. */
  name: Uint8Array;
  entryIndex: number;
  sanlockName: string;
  lockspace: string;
  lockspaceId: bigint;
  creatorHostId: number;
}

export function writeResourceHeader(out: Uint8Array, offset: number, h: ResourceHeader): number {
  const v = viewAt(out, offset, RESOURCE_HEADER_SIZE, "DLM resource header");
  out.fill(0, offset, offset + RESOURCE_HEADER_SIZE);
  requireRange(h.name.length, 1, MAX_RESOURCE_NAME_LEN, "resource name length");
  writeU32(v, 0, RESOURCE_HEADER_MAGIC, "magic");
  writeU32(v, 4, DLM_RECORD_VERSION, "version");
  writeU32(v, 8, h.name.length, "name_len");
  writeU32(v, 12, h.entryIndex, "entry index");
  out.set(h.name, offset + 16);
  writeText(out, offset + 80, NAME_LEN, h.sanlockName, "sanlock resource name");
  writeText(out, offset + 128, NAME_LEN, h.lockspace, "lockspace name");
  writeU64(v, 176, h.lockspaceId, "lockspace_id");
  writeU32(v, 184, h.creatorHostId, "creator host_id");
  return sealRecord(out, offset, RESOURCE_HEADER_SIZE);
}

export function encodeResourceHeader(h: ResourceHeader): Uint8Array {
  const out = new Uint8Array(RESOURCE_HEADER_SIZE);
  writeResourceHeader(out, 0, h);
  return out;
}

export function decodeResourceHeader(bytes: Uint8Array, offset = 0): ResourceHeader {
  const v = checkRecord(bytes, offset, RESOURCE_HEADER_SIZE, RESOURCE_HEADER_MAGIC, "DLM resource header");
  const nameLen = v.getUint32(8, true);
  requireRange(nameLen, 1, MAX_RESOURCE_NAME_LEN, "name_len");
  return {
    name: bytes.slice(offset + 16, offset + 16 + nameLen),
    entryIndex: v.getUint32(12, true),
    sanlockName: readText(bytes, offset + 80, NAME_LEN),
    lockspace: readText(bytes, offset + 128, NAME_LEN),
    lockspaceId: v.getBigUint64(176, true),
    creatorHostId: v.getUint32(184, true),
  };
}
