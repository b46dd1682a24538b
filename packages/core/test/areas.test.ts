// Area operations of `sanlock direct` on a MemoryDevice, compared with areas written by the
// real sanlock 3.8.5 (test/vectors).
import t from "tap";
import type { Test } from "tap";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  MemoryDevice,
  createRindexEntry,
  deleteRindexEntry,
  formatRindex,
  geometryFor,
  initLockspaceArea,
  initResourceArea,
  lookupRindex,
  readDeltaSector,
  readPaxosLeader,
  readRindex,
  rebuildRindex,
  updateRindex,
  detectAreaGeometry,
  formatLeaderLines,
  nextFree,
  readRequestRecord,
  dblockSectorOffset,
  deltaSectorOffset,
  requestSectorOffset,
} from "../src/index.js";
import type { BlockDevice } from "../src/index.js";

const VECTORS = fileURLToPath(new URL("../../../test/vectors/", import.meta.url));
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(VECTORS + name));
const MiB = 1048576;

function equalBytes(tt: Test, got: Uint8Array, want: Uint8Array, msg: string): void {
  const n = Math.max(got.length, want.length);
  let first = -1;
  for (let i = 0; i < n; i++)
    if (got[i] !== want[i]) {
      first = i;
      break;
    }
  tt.equal(first, -1, `${msg}${first >= 0 ? ` (first difference at byte ${first})` : ""}`);
}

/** Records every write so tests can check the order and content of I/O. */
class RecordingDevice implements BlockDevice {
  readonly writes: { offset: number; data: Uint8Array }[] = [];
  constructor(readonly inner: MemoryDevice) {}
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.writes.push({ offset, data: data.slice() });
    await this.inner.write(offset, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

t.test("init lockspace 512/1M matches sanlock's bytes, two-step commit", async (tt) => {
  const dev = new RecordingDevice(new MemoryDevice({ size: 8 * MiB }));
  const g = await initLockspaceArea(dev, { offset: 0, spaceName: "LS", geometry: geometryFor(512, MiB) });
  tt.equal(g.maxHosts, 2000);
  equalBytes(tt, dev.inner.contents.subarray(0, 1024), load("ls-512-1M-init.bin"), "sectors 0-1");
  equalBytes(tt, dev.inner.contents.subarray(1023488, 1024512), load("ls-512-1M-init-end.bin"), "sectors 1999-2000");
  tt.ok(
    dev.inner.contents.subarray(2000 * 512, MiB).every((b) => b === 0),
    "unused tail zero",
  );
  tt.equal(dev.writes.length, 2, "two writes");
  tt.same(
    dev.writes.map((w) => [w.offset, w.data.length]),
    [
      [0, MiB],
      [0, 512],
    ],
  );
  const first = dev.writes[0]!.data;
  tt.same([...first.subarray(0, 4)], [0, 0, 0, 0], "first write: sector 0 magic 0 (initialisation incomplete)");
  equalBytes(tt, first.subarray(512, 1024), load("ls-512-1M-init.bin").subarray(512), "first write: sector 1 final");
});

t.test("init lockspace -o 5 and 4K geometries match sanlock", async (tt) => {
  const dev = new MemoryDevice({ size: MiB });
  await initLockspaceArea(dev, { offset: 0, spaceName: "LS", geometry: geometryFor(512, MiB), ioTimeout: 5 });
  equalBytes(tt, dev.contents.subarray(0, 512), load("ls-512-1M-init-io5.bin"), "io_timeout 5");
  for (const [a, size] of [
    ["1M", MiB],
    ["2M", 2 * MiB],
    ["4M", 4 * MiB],
    ["8M", 8 * MiB],
  ] as const) {
    const d4 = new MemoryDevice({ size, sectorSize: 4096 });
    const g = await initLockspaceArea(d4, { offset: 0, spaceName: "LS", geometry: geometryFor(4096, size) });
    const want = load(`ls-4096-${a}-init.bin`);
    equalBytes(tt, d4.contents.subarray(0, want.length), want, `4096/${a}`);
    tt.ok(
      d4.contents.subarray((g.maxHosts - 1) * 4096, g.maxHosts * 4096).some((b) => b !== 0),
      `last host ${g.maxHosts} has a record`,
    );
    tt.ok(
      d4.contents.subarray(g.maxHosts * 4096).every((b) => b === 0),
      `sectors past max_hosts zero (${a})`,
    );
  }
});

t.test("init without geometry uses device sector size and legacy alignment", async (tt) => {
  const d4 = new MemoryDevice({ size: 8 * MiB, sectorSize: 4096 });
  const g = await initLockspaceArea(d4, { offset: 0, spaceName: "LS" });
  tt.same([g.sectorSize, g.alignSize, g.maxHosts], [4096, 8 * MiB, 2000]);
  equalBytes(tt, d4.contents.subarray(0, 4096), load("ls-4096-8M-init.bin"), "same as -Z 4096 -A 8M");
});

t.test("init resource areas match sanlock", async (tt) => {
  const dev = new RecordingDevice(new MemoryDevice({ size: 8 * MiB }));
  await initResourceArea(dev, { offset: 0, spaceName: "LS", resourceName: "RES1", geometry: geometryFor(512, MiB) });
  tt.equal(dev.writes.length, 1, "one write of the whole area");
  tt.equal(dev.writes[0]!.data.length, MiB);
  equalBytes(tt, dev.inner.contents.subarray(0, 1536), load("res-512-1M-init.bin"), "512/1M");
  const n4 = new MemoryDevice({ size: MiB });
  await initResourceArea(n4, { offset: 0, spaceName: "LS", resourceName: "RES1", geometry: geometryFor(512, MiB), numHosts: 4 });
  equalBytes(tt, n4.contents.subarray(0, 1024), load("res-512-1M-init-n4.bin"), "-n 4");
  const clear = new MemoryDevice({ size: MiB });
  await initResourceArea(clear, { offset: 0, spaceName: "LS", resourceName: "RES1", geometry: geometryFor(512, MiB), clearTimestamp: 1272n });
  equalBytes(tt, clear.contents.subarray(0, 1024), load("res-512-1M-clear.bin"), "-z 1");
  for (const [a, size] of [
    ["1M", MiB],
    ["2M", 2 * MiB],
    ["4M", 4 * MiB],
    ["8M", 8 * MiB],
  ] as const) {
    const d4 = new MemoryDevice({ size, sectorSize: 4096 });
    await initResourceArea(d4, { offset: 0, spaceName: "LS", resourceName: "RES1", geometry: geometryFor(4096, size) });
    const want = load(`res-4096-${a}-init.bin`);
    equalBytes(tt, d4.contents.subarray(0, want.length), want, `4096/${a}`);
  }
});

t.test("num_hosts above max_hosts is clamped like sanlock", async (tt) => {
  const dev = new MemoryDevice({ size: MiB });
  await initResourceArea(dev, { offset: 0, spaceName: "LS", resourceName: "R", geometry: geometryFor(512, MiB), numHosts: 5000 });
  tt.equal((await readPaxosLeader(dev, { offset: 0 })).leader.numHosts, 2000);
});

t.test("rindex format, create, delete match scenario R", async (tt) => {
  const g = geometryFor(512, MiB);
  const dev = new MemoryDevice({ size: 8 * MiB });
  await initLockspaceArea(dev, { offset: 0, spaceName: "LS", geometry: g });
  const rec = new RecordingDevice(dev);
  await formatRindex(rec, { offset: MiB, spaceName: "LS", geometry: g });
  tt.same(
    rec.writes.map((w) => [w.offset, w.data.length]),
    [
      [MiB, MiB],
      [2 * MiB, MiB],
    ],
    "rindex area then internal lease area",
  );
  equalBytes(tt, dev.contents.subarray(MiB, MiB + 1024), load("rindex-512-1M-format-header.bin"), "format header");
  const lease = load("rindex-512-1M-format-lease.bin");
  lease.fill(0, 532, 536); // sanlock's garbage request padding; we write zeros (spec 6.3)
  equalBytes(tt, dev.contents.subarray(2 * MiB, 2 * MiB + 1024), lease, "internal lease");

  const rxa = await createRindexEntry(dev, { offset: MiB, spaceName: "LS" }, { name: "RXA" });
  const rxb = await createRindexEntry(dev, { offset: MiB, spaceName: "LS" }, { name: "RXB" });
  tt.same([rxa.index, rxa.resOffset, rxb.index, rxb.resOffset], [0, 3145728, 1, 4194304]);
  equalBytes(tt, dev.contents.subarray(MiB, MiB + 1024), load("rindex-512-1M-created-header.bin"), "created header");
  equalBytes(tt, dev.contents.subarray(3 * MiB, 3 * MiB + 1024), load("rindex-512-1M-created-RXA.bin"), "created RXA lease");

  tt.same((await lookupRindex(dev, { offset: MiB }, { name: "RXB" })).resOffset, 4194304, "lookup by name");
  tt.same((await lookupRindex(dev, { offset: MiB }, { resOffset: 3145728 })).entry.name, "RXA", "lookup by offset");
  tt.same((await lookupRindex(dev, { offset: MiB }, {})).resOffset, 5 * MiB, "lookup of first free");
  await tt.rejects(lookupRindex(dev, { offset: MiB }, { name: "RXB", resOffset: 3145728 }), { code: "ERR_DISK_NAME_MISMATCH" });
  await tt.rejects(lookupRindex(dev, { offset: MiB }, { name: "nope" }), { code: "ERR_DISK_RINDEX_NOT_FOUND" });

  await deleteRindexEntry(dev, { offset: MiB, spaceName: "LS" }, { name: "RXA", clearTimestamp: 883n });
  equalBytes(tt, dev.contents.subarray(MiB, MiB + 1024), load("rindex-512-1M-deleted-header.bin"), "deleted header");
  equalBytes(tt, dev.contents.subarray(3 * MiB, 3 * MiB + 1024), load("rindex-512-1M-deleted-RXA.bin"), "deleted RXA is a cleared lease");
  await tt.rejects(readPaxosLeader(dev, { offset: 3 * MiB, geometry: g }), { code: "ERR_DISK_LEASE_CLEARED" });
});

t.test("rindex update and rebuild", async (tt) => {
  const g = geometryFor(512, MiB);
  const dev = new MemoryDevice({ size: 8 * MiB });
  await formatRindex(dev, { offset: MiB, spaceName: "LS", geometry: g });
  await initResourceArea(dev, { offset: 3 * MiB, spaceName: "LS", resourceName: "A", geometry: g });
  await initResourceArea(dev, { offset: 5 * MiB, spaceName: "LS", resourceName: "C", geometry: g });
  await initResourceArea(dev, { offset: 6 * MiB, spaceName: "LS", resourceName: "D", geometry: g, clearTimestamp: 5n });
  await updateRindex(dev, { offset: MiB }, { resOffset: 4 * MiB, name: "stale" });
  const found = await rebuildRindex(dev, { offset: MiB, spaceName: "LS" });
  tt.same(
    found.map((e) => [e.name, e.resOffset]),
    [
      ["A", 3 * MiB],
      ["C", 5 * MiB],
    ],
    "cleared lease not re-added, stale entry gone",
  );
  const rx = await readRindex(dev, { offset: MiB });
  tt.same(
    rx.entries.slice(0, 5).map((e) => e.name),
    ["A", "", "C", "", ""],
  );
  await updateRindex(dev, { offset: MiB }, { resOffset: 3 * MiB, remove: true });
  tt.same((await readRindex(dev, { offset: MiB })).entries[0], { resOffset: 0, flags: 0, unused: 0, name: "" }, "update -z 1 zeroes the entry");
  await tt.rejects(updateRindex(dev, { offset: MiB }, { resOffset: 3 * MiB + 512, name: "x" }), { code: "ERR_DEVICE_MISALIGNED" });
  await tt.rejects(readRindex(dev, { offset: MiB, spaceName: "OTHER" }), { code: "ERR_DISK_NAME_MISMATCH" });
  await tt.rejects(readRindex(dev, { offset: 3 * MiB }), { code: "ERR_DISK_BAD_MAGIC" });
});

t.test("rindex full", async (tt) => {
  const g = geometryFor(512, MiB);
  const dev = new MemoryDevice({ size: 6 * MiB });
  await formatRindex(dev, { offset: 0, spaceName: "LS", geometry: g, maxResources: 2 });
  await createRindexEntry(dev, { offset: 0 }, { name: "a" });
  await createRindexEntry(dev, { offset: 0 }, { name: "b" });
  await tt.rejects(createRindexEntry(dev, { offset: 0 }, { name: "c" }), { code: "ERR_DISK_RINDEX_FULL" });
});

t.test("read leaders and records from areas", async (tt) => {
  const g = geometryFor(512, MiB);
  const dev = new MemoryDevice({ size: 4 * MiB });
  dev.contents.set(load("two-ls-joined.bin"), 0);
  await initLockspaceArea(dev, { offset: 2 * MiB, spaceName: "LS", geometry: g });
  dev.contents.set(load("res-512-requested.bin"), MiB);
  const host2 = await readDeltaSector(dev, { offset: 0, hostId: 2, spaceName: "LS", geometry: g });
  tt.same([host2.leader.ownerId, host2.leader.resourceName, host2.leader.timestamp], [2, "hostB", 1076n]);
  await tt.rejects(readDeltaSector(dev, { offset: 0, hostId: 1, spaceName: "XX", geometry: g }), { code: "ERR_DISK_NAME_MISMATCH" });
  const { leader, geometry } = await readPaxosLeader(dev, { offset: MiB, spaceName: "LS", resourceName: "RES_EX", hostId: 1 });
  tt.same([geometry.sectorSize, geometry.alignSize, leader.lver], [512, MiB, 2n], "geometry detected from the leader");
  tt.same(await readRequestRecord(dev, MiB, g), { magic: 0x08292011, version: 0x00010001, lver: 3n, forceMode: 2 });
  tt.same(formatLeaderLines(leader, "paxos").slice(0, 2), ["magic 0x6152010", "version 0x60004"]);
  tt.equal(await detectAreaGeometry(dev, 3 * MiB), undefined, "zero area: nothing detected");
  tt.equal(deltaSectorOffset(0, g, 2000), 1999 * 512);
  tt.equal(requestSectorOffset(MiB, g), MiB + 512);
  tt.equal(dblockSectorOffset(MiB, g, 1), MiB + 1024);
  tt.throws(() => dblockSectorOffset(MiB, g, 2001), { code: "ERR_DEVICE_OUT_OF_RANGE" });
  tt.equal(await nextFree(dev, 0, g), 3 * MiB, "next_free is relative to the start offset");
  tt.equal(await nextFree(dev, MiB, g), 2 * MiB);
});

t.test("corrupt leaders are rejected with field and byte", async (tt) => {
  const g = geometryFor(512, MiB);
  const dev = new MemoryDevice({ size: 2 * MiB });
  await initResourceArea(dev, { offset: MiB, spaceName: "LS", resourceName: "R", geometry: g });
  dev.contents[MiB + 160] = 1; // unused1, covered by the checksum
  await tt.rejects(readPaxosLeader(dev, { offset: MiB, geometry: g }), {
    code: "ERR_DISK_BAD_CHECKSUM",
    details: { field: "checksum", offset: MiB + 168 },
    message: /checksum.*byte 1048744/,
  });
  dev.contents[MiB] = 0x99;
  await tt.rejects(readPaxosLeader(dev, { offset: MiB, geometry: g }), { code: "ERR_DISK_BAD_MAGIC", details: { field: "magic", offset: MiB } });
  await tt.rejects(readPaxosLeader(dev, { offset: MiB }), { code: "ERR_DISK_GEOMETRY_NOT_FOUND" });
});

t.test("placement validation", async (tt) => {
  const g = geometryFor(512, MiB);
  const small = new MemoryDevice({ size: MiB });
  await tt.rejects(initLockspaceArea(small, { offset: 512, spaceName: "LS", geometry: g }), { code: "ERR_DEVICE_MISALIGNED" });
  await tt.rejects(initLockspaceArea(small, { offset: MiB, spaceName: "LS", geometry: g }), { code: "ERR_DEVICE_TOO_SMALL" });
  await tt.rejects(initResourceArea(small, { offset: 0, spaceName: "LS", resourceName: "x".repeat(49), geometry: g }), { code: "ERR_DISK_NAME_TOO_LONG" });
  await tt.rejects(initLockspaceArea(small, { offset: 0, spaceName: "LS", geometry: g, ioTimeout: 0 }), { code: "ERR_CORE_INVALID_ARGUMENT" });
  const d4 = new MemoryDevice({ size: 8 * MiB, sectorSize: 4096 });
  await tt.rejects(initLockspaceArea(d4, { offset: 0, spaceName: "LS", geometry: g }), { code: "ERR_DISK_BAD_GEOMETRY" }, "512-byte lease on a 4K device");
  tt.throws(() => geometryFor(512, 2 * MiB), { code: "ERR_DISK_BAD_GEOMETRY" });
  tt.equal(small.writeCount, 0, "nothing was written by a rejected init");
  const name48 = "n".repeat(48);
  await initResourceArea(small, { offset: 0, spaceName: name48, resourceName: name48, geometry: g });
  const { leader } = await readPaxosLeader(small, { offset: 0, spaceName: name48, resourceName: name48 });
  tt.equal(leader.spaceName, name48, "48-byte names fill the field without NUL");
});
