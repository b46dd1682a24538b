// The DLM host record: sector h−1 of the DLM host area, written only by host h. It carries hints
// (wait entries for BASTs, release notices for wake-ups, a UDP address); nothing in it is used
// for a safety decision (docs/dlm.md §4.3).
import { writeU16, writeU32, writeU64 } from "../ondisk/bytes.js";
import { LKM, MODE_IV, MODE_NONE_BYTE } from "./modes.js";
import { DLM_RECORD_VERSION, checkRecord, readText, requireRange, sealRecord, viewAt, writeText } from "./record-frame.js";

export const HOST_RECORD_MAGIC = 0x4e4d4c44; // "DLMN"
/** The record's size; with 4 KiB sectors the rest of the sector is zero. */
export const HOST_RECORD_SIZE = 512;
export const MAX_WAIT_ENTRIES = 16;
export const MAX_NOTICES = 8;
export const HINT_ADDRESS_LEN = 64;

export const WaitKind = { CONVERT: 1, NEW: 2, BAST_ONLY: 3 } as const;
export type WaitKindValue = (typeof WaitKind)[keyof typeof WaitKind];

export interface WaitEntry {
  resourceIndex: number;
  rq: number;
  kind: WaitKindValue;
  /** MODE_IV for a new request. */
  gr: number;
  /** 0 for BAST_ONLY. */
  ticket: bigint;
}

export interface Notice {
  resourceIndex: number;
  /** The slot write_seq after a release or downgrade. */
  writeSeq: bigint;
}

export interface HostRecord {
  generation: bigint;
  hostId: number;
  seq: number;
  lockspaceId: bigint;
  hintAddress: string;
  waits: WaitEntry[];
  notices: Notice[];
}

export function writeHostRecord(out: Uint8Array, offset: number, r: HostRecord): number {
  const v = viewAt(out, offset, HOST_RECORD_SIZE, "DLM host record");
  out.fill(0, offset, offset + HOST_RECORD_SIZE);
  requireRange(r.waits.length, 0, MAX_WAIT_ENTRIES, "n_wait");
  requireRange(r.notices.length, 0, MAX_NOTICES, "n_notice");
  writeU32(v, 0, HOST_RECORD_MAGIC, "magic");
  writeU32(v, 4, DLM_RECORD_VERSION, "version");
  writeU64(v, 8, r.generation, "generation");
  writeU32(v, 16, r.hostId, "host_id");
  writeU32(v, 20, r.seq, "seq");
  writeU64(v, 24, r.lockspaceId, "lockspace_id");
  writeText(out, offset + 32, HINT_ADDRESS_LEN, r.hintAddress, "hint address");
  writeU16(v, 96, r.waits.length, "n_wait");
  writeU16(v, 98, r.notices.length, "n_notice");
  r.waits.forEach((w, i) => {
    const at = 104 + i * 16;
    writeU32(v, at, w.resourceIndex, "wait resource index");
    requireRange(w.rq, LKM.NL, LKM.EX, "wait rq");
    v.setUint8(at + 4, w.rq);
    v.setUint8(at + 5, w.kind);
    v.setUint8(at + 6, w.gr === MODE_IV ? MODE_NONE_BYTE : w.gr);
    writeU64(v, at + 8, w.ticket, "wait ticket");
  });
  r.notices.forEach((n, i) => {
    const at = 360 + i * 16;
    writeU32(v, at, n.resourceIndex, "notice resource index");
    writeU64(v, at + 8, n.writeSeq, "notice write_seq");
  });
  return sealRecord(out, offset, HOST_RECORD_SIZE);
}

export function encodeHostRecord(r: HostRecord): Uint8Array {
  const out = new Uint8Array(HOST_RECORD_SIZE);
  writeHostRecord(out, 0, r);
  return out;
}

export function decodeHostRecord(bytes: Uint8Array, offset = 0): HostRecord {
  const v = checkRecord(bytes, offset, HOST_RECORD_SIZE, HOST_RECORD_MAGIC, "DLM host record");
  const nWait = v.getUint16(96, true);
  const nNotice = v.getUint16(98, true);
  requireRange(nWait, 0, MAX_WAIT_ENTRIES, "n_wait");
  requireRange(nNotice, 0, MAX_NOTICES, "n_notice");
  const waits: WaitEntry[] = [];
  for (let i = 0; i < nWait; i++) {
    const at = 104 + i * 16;
    const gr = v.getUint8(at + 6);
    waits.push({
      resourceIndex: v.getUint32(at, true),
      rq: v.getUint8(at + 4),
      kind: v.getUint8(at + 5) as WaitKindValue,
      gr: gr === MODE_NONE_BYTE ? MODE_IV : gr,
      ticket: v.getBigUint64(at + 8, true),
    });
  }
  const notices: Notice[] = [];
  for (let i = 0; i < nNotice; i++) {
    const at = 360 + i * 16;
    notices.push({ resourceIndex: v.getUint32(at, true), writeSeq: v.getBigUint64(at + 8, true) });
  }
  return {
    generation: v.getBigUint64(8, true),
    hostId: v.getUint32(16, true),
    seq: v.getUint32(20, true),
    lockspaceId: v.getBigUint64(24, true),
    hintAddress: readText(bytes, offset + 32, HINT_ADDRESS_LEN),
    waits,
    notices,
  };
}
