// The resource directory of a DLM volume (docs/dlm.md §3.2, §5.3): names to lease areas through
// the rindex, created on first use, found again by another host, hashed when not plain.
import { createHash } from "node:crypto";
import tap from "tap";
import { MemoryDevice, geometryFor, readRindex } from "../src/index.js";
import {
  ResourceDirectory,
  decodeResourceHeader,
  encodeResourceHeader,
  formatVolume,
  readVolumeHeader,
  resourceAreaOffset,
  sanlockNameOf,
} from "../src/dlm/index.js";

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());
const G = geometryFor(512, 1 << 20);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

tap.test("sanlock names: plain when 1..47 printable bytes not starting with #, else # and 46 hex digits", async (t) => {
  t.equal(sanlockNameOf(enc("vg1-lv_7"), sha256), "vg1-lv_7");
  t.equal(sanlockNameOf(enc("a".repeat(47)), sha256), "a".repeat(47));
  const long = enc("a".repeat(48));
  const expected = `#${createHash("sha256").update(long).digest("hex").slice(0, 46)}`;
  t.equal(sanlockNameOf(long, sha256), expected, "48 bytes are hashed");
  t.match(sanlockNameOf(enc("has space"), sha256), /^#[0-9a-f]{46}$/, "a space is not printable here");
  t.match(sanlockNameOf(enc("#x"), sha256), /^#[0-9a-f]{46}$/, "a leading # is hashed");
  t.match(sanlockNameOf(new Uint8Array([1, 2, 3]), sha256), /^#[0-9a-f]{46}$/, "binary is hashed");
});

async function volume(): Promise<{ device: MemoryDevice; header: Awaited<ReturnType<typeof readVolumeHeader>>; leases: number[] }> {
  const device = new MemoryDevice({ size: 12 << 20, sectorSize: 512 });
  await formatVolume(device, { offset: 0, name: "LS", geometry: G, lockspaceId: 9n, numHosts: 8, maxResources: 4 });
  return { device, header: await readVolumeHeader(device, 0, G), leases: [] };
}

function directory(v: Awaited<ReturnType<typeof volume>>, hostId: number): ResourceDirectory {
  return new ResourceDirectory({
    device: v.device,
    header: v.header,
    geometry: G,
    hostId,
    sha256,
    underIndexLease: async (work) => {
      v.leases.push(hostId);
      return work();
    },
  });
}

tap.test("first use creates the area and its entry under the rindex lease; another host finds it", async (t) => {
  const v = await volume();
  const a = directory(v, 1);
  const area = await a.resolve(enc("res-one"));
  t.same(area, { sanlockName: "res-one", offset: resourceAreaOffset(0, G, 0), index: 0 });
  t.same(v.leases, [1], "created under the lease");
  const header = decodeResourceHeader(v.device.contents.subarray(area.offset + G.alignSize - 512, area.offset + G.alignSize), 0);
  t.same(
    { name: [...header.name], entry: header.entryIndex, creator: header.creatorHostId, id: header.lockspaceId },
    { name: [...enc("res-one")], entry: 0, creator: 1, id: 9n },
  );
  const found = await directory(v, 2).resolve(enc("res-one"));
  t.same(found, area, "host 2 finds the same area");
  t.same(v.leases, [1], "without taking the lease");
  const second = await directory(v, 2).resolve(new Uint8Array([0, 1, 2]));
  t.equal(second.index, 1, "a binary name takes the next entry");
  const rx = await readRindex(v.device, { offset: Number(v.header.rindexOffset) });
  t.same(
    rx.entries.slice(0, 2).map((e) => e.name),
    ["res-one", sanlockNameOf(new Uint8Array([0, 1, 2]), sha256)],
  );
});

tap.test("an area written without its entry (a crash between the two writes) is reused", async (t) => {
  const v = await volume();
  const crashed = directory(v, 1);
  await crashed.resolve(enc("first"));
  // Undo the entry write only: the area stays, the rindex forgets it.
  const rx = await readRindex(v.device, { offset: Number(v.header.rindexOffset) });
  const entryAt = Number(v.header.rindexOffset) + 512;
  v.device.contents.fill(0, entryAt, entryAt + 64);
  t.equal(rx.entries[0]?.name, "first");
  const area = await directory(v, 2).resolve(enc("second"));
  t.equal(area.index, 0, "entry 0 is free again and its area is rewritten");
});

tap.test("a full rindex is ENOMEM; a header naming another name is ENOMEM", async (t) => {
  const v = await volume();
  const d = directory(v, 1);
  for (let i = 0; i < 4; i++) await d.resolve(enc(`r${i}`));
  await t.rejects(d.resolve(enc("r4")), { code: "ERR_DLM_ENOMEM" });
  // A second name whose rindex entry points at an area holding another full name.
  const area = resourceAreaOffset(0, G, 0);
  const last = area + G.alignSize - 512;
  const other = encodeResourceHeader({ ...decodeResourceHeader(v.device.contents.subarray(last, last + 512), 0), name: enc("x0") });
  v.device.contents.set(other, last);
  await t.rejects(directory(v, 2).resolve(enc("r0")), { code: "ERR_DLM_ENOMEM" }, "the full name is compared on open");
});
