#!/usr/bin/env node
// Writes the golden DLM records of docs/dlm.md §4.6 into packages/core/test/vectors/dlm/, built
// byte by byte from the field tables (offsets written out here, not taken from the encoders) with
// an independent CRC, and checks each checksum against the value docs/dlm.md §4.6 gives.
// Usage: node scripts/make-dlm-vectors.mjs [--check]   (--check compares with the files instead)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "core", "test", "vectors", "dlm");

// sanlock's CRC-32C variant, bit by bit (docs/ondisk.md §3.1).
function crc(bytes, end) {
  let c = 0xfffffffe;
  for (let i = 0; i < end; i++) {
    c ^= bytes[i];
    for (let b = 0; b < 8; b++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return c >>> 0;
}

function record(size, fill) {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  const put = {
    u8: (o, x) => v.setUint8(o, x),
    u16: (o, x) => v.setUint16(o, x, true),
    u32: (o, x) => v.setUint32(o, x, true),
    u64: (o, x) => v.setBigUint64(o, BigInt(x), true),
    text: (o, s) => b.set(new TextEncoder().encode(s), o),
  };
  fill(put);
  v.setUint32(size - 4, crc(b, size - 4), true);
  return b;
}

const ID = 0x0123456789abcdefn;

const header = record(256, (p) => {
  p.u32(0, 0x484d4c44);
  p.u32(4, 0x00010001);
  p.u32(12, 32);
  p.u32(16, 126);
  p.u32(20, 1024);
  p.u32(24, 512);
  p.u32(28, 1048576);
  p.u64(32, 1048576);
  p.u64(40, 2097152);
  p.u64(48, ID);
  p.text(56, "LS");
  p.u32(168, 1000);
});

function slotA(p) {
  p.u32(0, 0x534d4c44);
  p.u32(4, 0x00010001);
  p.u64(8, 1);
  p.u64(16, 3);
  p.u32(24, 2);
  p.u8(28, 5);
  p.u8(29, 0x1);
  p.u64(104, 1);
  p.u32(116, 32);
}
const slotAbytes = record(256, slotA);

const slotB = record(256, (p) => {
  p.u32(0, 0x534d4c44);
  p.u32(4, 0x00010001);
  p.u64(8, 1);
  p.u64(16, 4);
  p.u32(24, 1);
  p.u8(28, 0xff);
  p.u8(30, 1);
  p.u8(32, 3);
  p.u8(33, 0xff);
  p.u8(34, 2);
  p.u32(36, 1);
  p.u64(40, 4);
  p.u32(116, 32);
});

const slotC = record(256, (p) => {
  slotA(p);
  p.u32(24, 3);
  p.u8(28, 0);
  p.u8(29, 0);
  p.u64(96, 2);
  p.text(120, "hello lvb");
});

const resourceHeader = record(256, (p) => {
  p.u32(0, 0x524d4c44);
  p.u32(4, 0x00010001);
  p.u32(8, 7);
  p.u32(12, 0);
  p.text(16, "vg1/lv0");
  p.text(80, "vg1/lv0");
  p.text(128, "LS");
  p.u64(176, ID);
  p.u32(184, 1);
});

const hostRecord = record(512, (p) => {
  p.u32(0, 0x4e4d4c44);
  p.u32(4, 0x00010001);
  p.u64(8, 1);
  p.u32(16, 2);
  p.u32(20, 1);
  p.u64(24, ID);
  p.text(32, "udp:10.0.0.2:21065");
  p.u16(96, 1);
  p.u32(104, 0);
  p.u8(108, 5);
  p.u8(109, 2);
  p.u8(110, 0xff);
  p.u64(112, 4);
});

const vectors = [
  ["lockspace-header.bin", header, 0x25d9ae39],
  ["slot-a.bin", slotAbytes, 0x52990993],
  ["slot-b.bin", slotB, 0xb36ed769],
  ["slot-c.bin", slotC, 0xfaa79fe6],
  ["resource-header.bin", resourceHeader, 0xce19e3d9],
  ["host-record.bin", hostRecord, 0xd4fa7647],
];

const check = process.argv.includes("--check");
let failed = 0;
if (!check) mkdirSync(OUT, { recursive: true });
for (const [name, bytes, expected] of vectors) {
  const got = new DataView(bytes.buffer).getUint32(bytes.length - 4, true);
  if (got !== expected) {
    console.log(`${name}: checksum 0x${got.toString(16)}, docs/dlm.md §4.6 says 0x${expected.toString(16)}`);
    failed++;
  }
  const path = join(OUT, name);
  if (check) {
    const same = existsSync(path) && Buffer.compare(readFileSync(path), Buffer.from(bytes)) === 0;
    console.log(`${name}: ${same ? "same" : "DIFFERS"}`);
    if (!same) failed++;
  } else {
    writeFileSync(path, bytes);
    console.log(`${name}: ${bytes.length} bytes, crc 0x${got.toString(16).padStart(8, "0")}`);
  }
}
process.exitCode = failed ? 1 : 0;
