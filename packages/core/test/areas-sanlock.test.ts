// Interop: our area writers and `direct dump` / `read_leader` / `next_free` text compared with
// the real sanlock 3.8.5 tool on the same bytes. Skipped when sanlock is not installed.
import t from "tap";
import { environmentSkip } from "../../../test/support/index.js";
import type { Test } from "tap";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  MemoryDevice,
  dumpLines,
  formatLeaderLines,
  formatRindex,
  geometryFor,
  initLockspaceArea,
  initResourceArea,
  nextFree,
  readLeaderFields,
} from "../src/index.js";
import type { Geometry } from "../src/index.js";

const VECTORS = fileURLToPath(new URL("../../../test/vectors/", import.meta.url));
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(VECTORS + name));
const MiB = 1048576;

/** The sanlock tool from PATH (plus the sbin directories a non-login PATH may lack). */
function findSanlock(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"].filter((d) => d !== "");
  return dirs.map((d) => join(d, "sanlock")).find((p) => existsSync(p));
}
const SANLOCK = findSanlock();
// sanlock opens files with O_DIRECT, which tmpfs refuses: use a disk-backed temp directory.
const TMP_PARENT = process.env.SANLOCK_TS_TEST_TMPDIR ?? "/var/tmp";

/** stdout of a sanlock command; a non-zero exit still yields its stdout (dump exits 1 on no geometry). */
function sanlock(args: string[]): string {
  try {
    return execFileSync(SANLOCK!, args, { encoding: "utf8", timeout: 30_000 });
  } catch (err) {
    const stdout = (err as { stdout?: unknown }).stdout;
    if (typeof stdout === "string" && stdout !== "") return stdout;
    throw err;
  }
}

function setup(tt: Test): string {
  const dir = mkdtempSync(join(TMP_PARENT, "sanlock-ts-core-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function file(dir: string, name: string, content: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function image(size: number, parts: [number, string][]): Uint8Array {
  const img = new Uint8Array(size);
  for (const [offset, name] of parts) img.set(load(name), offset);
  return img;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

t.test("real sanlock", { skip: environmentSkip(!SANLOCK && "sanlock not installed") }, async (t) => {
  t.test("whole areas written by direct init / format equal ours", async (tt) => {
    const dir = setup(tt);
    // requestRecord: where a resource area's request record is; its bytes 20..23 are the struct's
    // padding, which sanlock copies from an uninitialised stack copy (docs/ondisk.md §6.3): masked
    // in sanlock's bytes only, so that ours must still be zero there.
    const cases: {
      args: string[];
      size: number;
      sectorSize: number;
      ours: (d: MemoryDevice, g: Geometry) => Promise<unknown>;
      g: Geometry;
      requestRecord?: number;
    }[] = [
      {
        args: ["init", "-s", "LS:0:F:0", "-Z", "512", "-A", "1M", "-o", "7"],
        size: MiB,
        sectorSize: 512,
        g: geometryFor(512, MiB),
        ours: (d, g) => initLockspaceArea(d, { offset: 0, spaceName: "LS", geometry: g, ioTimeout: 7 }),
      },
      {
        args: ["init", "-s", "LS2:0:F:2097152", "-Z", "4096", "-A", "2M"],
        size: 4 * MiB,
        sectorSize: 512,
        g: geometryFor(4096, 2 * MiB),
        ours: (d, g) => initLockspaceArea(d, { offset: 2 * MiB, spaceName: "LS2", geometry: g }),
      },
      {
        args: ["init", "-r", "LS:RES:F:1048576", "-Z", "512", "-A", "1M", "-n", "9"],
        size: 2 * MiB,
        sectorSize: 512,
        g: geometryFor(512, MiB),
        ours: (d, g) => initResourceArea(d, { offset: MiB, spaceName: "LS", resourceName: "RES", geometry: g, numHosts: 9 }),
        requestRecord: MiB + 512,
      },
      {
        args: ["init", "-r", "LS:R4:F:0", "-Z", "4096", "-A", "4M"],
        size: 4 * MiB,
        sectorSize: 512,
        g: geometryFor(4096, 4 * MiB),
        ours: (d, g) => initResourceArea(d, { offset: 0, spaceName: "LS", resourceName: "R4", geometry: g }),
        requestRecord: 4096,
      },
    ];
    for (const c of cases) {
      const path = file(dir, "F", new Uint8Array(c.size));
      sanlock(["direct", ...c.args.map((a) => a.replace(/:F:/, `:${path}:`))]);
      const theirs = new Uint8Array(readFileSync(path));
      if (c.requestRecord !== undefined) theirs.fill(0, c.requestRecord + 20, c.requestRecord + 24);
      const dev = new MemoryDevice({ size: c.size, sectorSize: c.sectorSize });
      await c.ours(dev, c.g);
      tt.equal(firstDifference(dev.contents, theirs), -1, `identical bytes: ${c.args.join(" ")}`);
    }
    // format: the request record padding of the internal lease is garbage in sanlock (spec 6.3)
    const path = file(dir, "F", new Uint8Array(3 * MiB));
    sanlock(["direct", "format", "-x", `LS:${path}:1048576`, "-Z", "512", "-A", "1M"]);
    const theirs = new Uint8Array(readFileSync(path));
    theirs.fill(0, 2 * MiB + 532, 2 * MiB + 536);
    const dev = new MemoryDevice({ size: 3 * MiB });
    await formatRindex(dev, { offset: MiB, spaceName: "LS", geometry: geometryFor(512, MiB) });
    tt.equal(firstDifference(dev.contents, theirs), -1, "identical bytes: direct format (padding aside)");
  });

  t.test("direct dump text equals ours", async (tt) => {
    const dir = setup(tt);
    const t512 = image(7 * MiB, [
      [0, "two-ls-request-bitmap.bin"],
      [MiB, "two-res-ex-takeover.bin"],
      [2 * MiB, "two-res-sh-both.bin"],
      [3 * MiB, "two-res-requested.bin"],
      [4 * MiB, "rindex-512-1M-created-header.bin"],
      [5 * MiB, "rindex-512-1M-created-lease.bin"],
      [6 * MiB, "res-512-1M-clear.bin"],
    ]);
    const t4k = image(3 * MiB, [
      [0, "ls-4096-1M-event.bin"],
      [2 * MiB, "res-4096-1M-sh-acquired.bin"],
    ]);
    const never = image(2 * MiB, [
      [0, "ls-512-1M-init.bin"],
      [MiB, "ls-512-removed.bin"],
    ]);
    const files = {
      t512: file(dir, "t512", t512),
      t4k: file(dir, "t4k", t4k),
      never: file(dir, "never", never),
      zero: file(dir, "zero", new Uint8Array(2 * MiB)),
    };
    const devs = {
      t512: MemoryDevice.from(t512),
      t4k: MemoryDevice.from(t4k),
      never: MemoryDevice.from(never),
      zero: MemoryDevice.from(new Uint8Array(2 * MiB)),
    };
    const cases: { f: keyof typeof files; spec: string; offset: number; size?: number; force: number; geometry?: Geometry; extra?: string[] }[] = [
      { f: "t512", spec: "", offset: 0, force: 0 },
      { f: "t512", spec: "", offset: 0, force: 1 },
      { f: "t512", spec: "", offset: 0, force: 2 },
      { f: "t512", spec: ":1048576", offset: MiB, force: 2 },
      { f: "t512", spec: ":2M:2M", offset: 2 * MiB, size: 2 * MiB, force: 2 },
      { f: "t512", spec: ":0:7M", offset: 0, size: 7 * MiB, force: 1 },
      { f: "t512", spec: ":512", offset: 512, force: 0, geometry: geometryFor(512, MiB), extra: ["-Z", "512", "-A", "1M"] },
      { f: "t4k", spec: "", offset: 0, force: 2 },
      { f: "t4k", spec: ":0:3M", offset: 0, size: 3 * MiB, force: 2 },
      { f: "never", spec: "", offset: 0, force: 1 },
      { f: "zero", spec: "", offset: 0, force: 0 },
    ];
    for (const c of cases) {
      const args = ["direct", "dump", files[c.f] + c.spec, "-f", String(c.force), ...(c.extra ?? [])];
      const theirs = sanlock(args)
        .split("\n")
        .filter((l, i, all) => i < all.length - 1 || l !== "");
      const ours = await dumpLines(devs[c.f], {
        offset: c.offset,
        force: c.force,
        ...(c.size !== undefined ? { size: c.size } : {}),
        ...(c.geometry ? { geometry: c.geometry } : {}),
      });
      tt.same(ours, theirs, `dump ${c.f}${c.spec} -f ${c.force}`);
    }
  });

  t.test("read_leader and next_free text equal ours", async (tt) => {
    const dir = setup(tt);
    const img = image(5 * MiB, [
      [0, "ls-512-event.bin"],
      [MiB, "res-512-requested.bin"],
      [2 * MiB, "rindex-512-1M-created-header.bin"],
      [3 * MiB, "res-512-1M-clear.bin"],
    ]);
    const path = file(dir, "img", img);
    const theirsLs = sanlock(["direct", "read_leader", "-s", `LS:1:${path}:0`])
      .trimEnd()
      .split("\n");
    tt.same(theirsLs, ["read_leader done 0", ...formatLeaderLines(readLeaderFields(img, 0), "delta")], "read_leader -s");
    const theirsRes = sanlock(["direct", "read_leader", "-r", `LS:RES_EX:${path}:1048576`])
      .trimEnd()
      .split("\n");
    tt.same(theirsRes, ["read_leader done 0", ...formatLeaderLines(readLeaderFields(img, MiB), "paxos")], "read_leader -r");
    const g = geometryFor(512, MiB);
    for (const offset of [0, MiB]) {
      const theirs = Number(sanlock(["direct", "next_free", `${path}:${offset}`, "-Z", "512", "-A", "1M"]).trim());
      tt.equal(await nextFree(MemoryDevice.from(img), offset, g), theirs, `next_free from ${offset}`);
    }
  });
});
