// docs/dlm.md §4.6 golden records: the files in test/vectors/dlm are built byte by byte from the
// field tables by scripts/make-dlm-vectors.mjs (not by the encoders); encoding the described
// values gives exactly those bytes, decoding gives the values back, the checksums are the ones
// docs/dlm.md §4.6 states, and a flipped bit anywhere under the checksum is refused.
import t from "tap";
import type { Test } from "tap";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  LKM,
  MODE_IV,
  PendingKind,
  WaitKind,
  decodeHostRecord,
  decodeLockspaceHeader,
  decodeResourceHeader,
  decodeSlot,
  emptySlot,
  encodeHostRecord,
  encodeLockspaceHeader,
  encodeResourceHeader,
  encodeSlot,
  type SlotRecord,
} from "../src/dlm/index.js";

const DIR = fileURLToPath(new URL("./vectors/dlm/", import.meta.url));
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(DIR + name));
const crcOf = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(b.length - 4, true);
const ID = 0x0123456789abcdefn;

const slotA: SlotRecord = { ...emptySlot(32), generation: 1n, lver: 3n, writeSeq: 2, grmode: LKM.EX, flags: 0x1, lvbEpoch: 1n };
const slotB: SlotRecord = {
  ...emptySlot(32),
  generation: 1n,
  lver: 4n,
  writeSeq: 1,
  pending: [{ rq: LKM.PR, gr: MODE_IV, kind: PendingKind.NEW, flags: 0, lkid: 1, ticket: 4n }],
};
const lvbC = new Uint8Array(32);
lvbC.set(new TextEncoder().encode("hello lvb"));
const slotC: SlotRecord = { ...slotA, writeSeq: 3, grmode: LKM.NL, flags: 0, lvbSeq: 2n, lvb: lvbC };

function flipsRefused(tt: Test, bytes: Uint8Array, decode: (b: Uint8Array) => unknown): void {
  let refused = 0;
  for (let i = 0; i < bytes.length - 4; i++) {
    const copy = bytes.slice();
    copy[i] = (copy[i] as number) ^ (1 << (i % 8));
    try {
      decode(copy);
    } catch {
      refused++;
    }
  }
  tt.equal(refused, bytes.length - 4, "every single-bit flip under the checksum is refused");
}

t.test("slots A, B, C", async (tt) => {
  const cases: [string, SlotRecord, number][] = [
    ["slot-a.bin", slotA, 0x52990993],
    ["slot-b.bin", slotB, 0xb36ed769],
    ["slot-c.bin", slotC, 0xfaa79fe6],
  ];
  for (const [file, slot, crc] of cases) {
    const golden = load(file);
    tt.same(encodeSlot(slot), golden, `${file}: encoder gives the golden bytes`);
    tt.equal(crcOf(golden), crc, `${file}: checksum as docs/dlm.md §4.6`);
    const decoded = decodeSlot(golden);
    tt.same(decoded, slot, `${file}: decodes to its fields`);
  }
  tt.equal(new TextDecoder().decode(decodeSlot(load("slot-c.bin"))?.lvb.subarray(0, 9)), "hello lvb");
  tt.equal(decodeSlot(new Uint8Array(256)), undefined, "an all-zero slot is no slot");
  flipsRefused(tt, load("slot-a.bin"), (b) => decodeSlot(b));
});

t.test("lockspace header", async (tt) => {
  const golden = load("lockspace-header.bin");
  const header = {
    exflags: 0,
    lvbLen: 32,
    numHosts: 126,
    maxResources: 1024,
    sectorSize: 512,
    alignSize: 1048576,
    hostAreaOffset: 1048576n,
    rindexOffset: 2097152n,
    lockspaceId: ID,
    name: "LS",
    cluster: "",
    pollMs: 1000,
    formatTime: 0n,
  };
  tt.same(encodeLockspaceHeader(header), golden);
  tt.equal(crcOf(golden), 0x25d9ae39);
  tt.same(decodeLockspaceHeader(golden), header);
  flipsRefused(tt, golden, (b) => decodeLockspaceHeader(b));
  tt.throws(() => encodeLockspaceHeader({ ...header, lvbLen: 12 }), { code: "ERR_DLM_RECORD_FIELD" }, "lvblen not a multiple of 8");
});

t.test("resource header", async (tt) => {
  const golden = load("resource-header.bin");
  const header = {
    name: new TextEncoder().encode("vg1/lv0"),
    entryIndex: 0,
    sanlockName: "vg1/lv0",
    lockspace: "LS",
    lockspaceId: ID,
    creatorHostId: 1,
  };
  tt.same(encodeResourceHeader(header), golden);
  tt.equal(crcOf(golden), 0xce19e3d9);
  tt.same(decodeResourceHeader(golden), header);
  flipsRefused(tt, golden, (b) => decodeResourceHeader(b));
  tt.throws(() => encodeResourceHeader({ ...header, name: new Uint8Array(65) }), { code: "ERR_DLM_RECORD_FIELD" }, "65-byte name");
});

t.test("host record", async (tt) => {
  const golden = load("host-record.bin");
  const record = {
    generation: 1n,
    hostId: 2,
    seq: 1,
    lockspaceId: ID,
    hintAddress: "udp:10.0.0.2:21065",
    waits: [{ resourceIndex: 0, rq: LKM.EX, kind: WaitKind.NEW, gr: MODE_IV, ticket: 4n }],
    notices: [],
  };
  tt.same(encodeHostRecord(record), golden);
  tt.equal(crcOf(golden), 0xd4fa7647);
  tt.same(decodeHostRecord(golden), record);
  flipsRefused(tt, golden, (b) => decodeHostRecord(b));
});
