// A host's DLM slot: 256 bytes at byte 256 of its dblock sector in a resource area, written only by
// that host, carried by every write of that sector (docs/dlm.md §3.3, §4.5).
import { writeU32, writeU64 } from "../ondisk/bytes.js";
import { LKM, MODE_IV, MODE_NONE_BYTE, isLockMode } from "./modes.js";
import { DLM_RECORD_VERSION, badField, checkRecord, isZeroRecord, requireRange, sealRecord, viewAt } from "./record-frame.js";

export const SLOT_MAGIC = 0x534d4c44; // "DLMS"
export const SLOT_SIZE = 256;
/** Where the slot starts inside the dblock sector (after sanlock's dblock 0..55 and mode block 128..143). */
export const SLOT_OFFSET_IN_SECTOR = 256;
/** Pending entries a slot publishes (docs/dlm.md §3.5). */
export const MAX_PUBLISHED = 4;
/** Longest LVB a slot can carry (docs/dlm.md §4.2: lvblen 8..64). */
export const MAX_LVB_LEN = 64;

export const SLOT_FLAG_VALBLK_HOLD = 0x1;
export const SLOT_FLAG_ORPHANS = 0x2;
export const LVB_FLAG_INVALID = 0x1;

export const PendingKind = { CONVERT: 1, NEW: 2 } as const;
export type PendingKindValue = (typeof PendingKind)[keyof typeof PendingKind];

/** Flags of a published pending entry (docs/dlm.md §4.5). */
export const PendingFlag = { QUECVT: 0x1, NOORDER: 0x2, HEADQUE: 0x4, CONVDEADLK: 0x8, NODLCKWT: 0x10 } as const;

export interface PendingEntry {
  rq: number;
  /** Granted mode of a conversion; MODE_IV for a new request. */
  gr: number;
  kind: PendingKindValue;
  flags: number;
  /** Lock id on the owning host (informational). */
  lkid: number;
  /** lver of the mutex round that published it (queue order across hosts). */
  ticket: bigint;
}

export interface SlotRecord {
  generation: bigint;
  lver: bigint;
  writeSeq: number;
  /** Max granted mode of the host's locks; MODE_IV = none. */
  grmode: number;
  flags: number;
  pending: PendingEntry[];
  lvbSeq: bigint;
  lvbEpoch: bigint;
  lvbFlags: number;
  /** The LVB bytes (length = the lockspace's lvblen). */
  lvb: Uint8Array;
}

export function emptySlot(lvbLen: number): SlotRecord {
  return {
    generation: 0n,
    lver: 0n,
    writeSeq: 0,
    grmode: MODE_IV,
    flags: 0,
    pending: [],
    lvbSeq: 0n,
    lvbEpoch: 0n,
    lvbFlags: 0,
    lvb: new Uint8Array(lvbLen),
  };
}

function modeByte(mode: number, field: string): number {
  if (mode === MODE_IV) return MODE_NONE_BYTE;
  requireRange(mode, LKM.NL, LKM.EX, field);
  return mode;
}

function modeFromByte(byte: number): number {
  return byte === MODE_NONE_BYTE ? MODE_IV : byte;
}

/** Writes the slot (checksum computed) into out[offset, offset+256). */
export function writeSlot(out: Uint8Array, offset: number, slot: SlotRecord): number {
  const v = viewAt(out, offset, SLOT_SIZE, "DLM slot");
  out.fill(0, offset, offset + SLOT_SIZE);
  requireRange(slot.pending.length, 0, MAX_PUBLISHED, "n_pending");
  requireRange(slot.lvb.length, 0, MAX_LVB_LEN, "lvb_len");
  writeU32(v, 0, SLOT_MAGIC, "magic");
  writeU32(v, 4, DLM_RECORD_VERSION, "version");
  writeU64(v, 8, slot.generation, "generation");
  writeU64(v, 16, slot.lver, "lver");
  writeU32(v, 24, slot.writeSeq, "write_seq");
  v.setUint8(28, modeByte(slot.grmode, "grmode"));
  requireRange(slot.flags, 0, 0xff, "slot flags");
  v.setUint8(29, slot.flags);
  v.setUint8(30, slot.pending.length);
  slot.pending.forEach((p, i) => {
    const at = 32 + i * 16;
    requireRange(p.rq, LKM.NL, LKM.EX, "pending rq");
    v.setUint8(at, p.rq);
    v.setUint8(at + 1, modeByte(p.gr, "pending gr"));
    v.setUint8(at + 2, p.kind);
    requireRange(p.flags, 0, 0xff, "pending flags");
    v.setUint8(at + 3, p.flags);
    writeU32(v, at + 4, p.lkid, "pending lkid");
    writeU64(v, at + 8, p.ticket, "pending ticket");
  });
  writeU64(v, 96, slot.lvbSeq, "lvb_seq");
  writeU64(v, 104, slot.lvbEpoch, "lvb_epoch");
  writeU32(v, 112, slot.lvbFlags, "lvb_flags");
  writeU32(v, 116, slot.lvb.length, "lvb_len");
  out.set(slot.lvb, offset + 120);
  return sealRecord(out, offset, SLOT_SIZE);
}

export function encodeSlot(slot: SlotRecord): Uint8Array {
  const out = new Uint8Array(SLOT_SIZE);
  writeSlot(out, 0, slot);
  return out;
}

/**
 * Decodes the slot at bytes[offset]; undefined for an all-zero slot (no grant, nothing pending).
 * Throws ERR_DLM_RECORD_* for a bad magic, version or checksum, or an impossible field.
 */
export function decodeSlot(bytes: Uint8Array, offset = 0): SlotRecord | undefined {
  if (isZeroRecord(bytes, offset, SLOT_SIZE)) return undefined;
  const v = checkRecord(bytes, offset, SLOT_SIZE, SLOT_MAGIC, "DLM slot");
  const grmode = modeFromByte(v.getUint8(28));
  if (grmode !== MODE_IV) requireRange(grmode, LKM.NL, LKM.EX, "grmode");
  const count = v.getUint8(30);
  requireRange(count, 0, MAX_PUBLISHED, "n_pending");
  const pending: PendingEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 32 + i * 16;
    const rq = v.getUint8(at);
    const gr = modeFromByte(v.getUint8(at + 1));
    const kind = v.getUint8(at + 2);
    if (!isLockMode(rq) || (gr !== MODE_IV && !isLockMode(gr)) || (kind !== PendingKind.CONVERT && kind !== PendingKind.NEW)) {
      badField(`pending entry ${i}`, `rq ${rq}, gr ${gr}, kind ${kind}`);
    }
    pending.push({ rq, gr, kind: kind as PendingKindValue, flags: v.getUint8(at + 3), lkid: v.getUint32(at + 4, true), ticket: v.getBigUint64(at + 8, true) });
  }
  const lvbLen = v.getUint32(116, true);
  requireRange(lvbLen, 0, MAX_LVB_LEN, "lvb_len");
  return {
    generation: v.getBigUint64(8, true),
    lver: v.getBigUint64(16, true),
    writeSeq: v.getUint32(24, true),
    grmode,
    flags: v.getUint8(29),
    pending,
    lvbSeq: v.getBigUint64(96, true),
    lvbEpoch: v.getBigUint64(104, true),
    lvbFlags: v.getUint32(112, true),
    lvb: bytes.slice(offset + 120, offset + 120 + lvbLen),
  };
}
