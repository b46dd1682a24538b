// Interop of `sanlock-ts direct ...` with the real `sanlock direct ...` (3.8.5), for every
// valid sector/alignment pair (ondisk.md §2.1):
//  - an area written by sanlock-ts is byte-identical to the one sanlock writes for the same command,
//  - `sanlock direct dump` and `read_leader` print the same for both,
//  - `sanlock-ts direct dump` / `read_leader` print what sanlock prints for an area sanlock wrote,
//  - rindex format / update / rebuild / lookup agree.
// 512-byte sectors use a regular file on ext4 (/var/tmp: O_DIRECT does not work on tmpfs);
// 4096-byte sectors use a loop device with 4096-byte logical sectors.
// Needs root (losetup), the sanlock binary and a built CLI (`pnpm build`); skipped otherwise.
import t from "tap";
import { createLoopDevice, createSparseFile, environmentSkip, loopDeviceSkipReason, type Teardown } from "./support/index.js";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { open } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../packages/cli/dist/main.cjs", import.meta.url));
const SANLOCK = "sanlock";
const MIB = 1048576;
/** Bound on every spawned command: they do a few MiB of I/O at most. */
const COMMAND_TIMEOUT_MS = 30_000;

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[]): Promise<RunResult> {
  const argv = file === CLI ? [CLI, ...args] : [...args];
  const program = file === CLI ? process.execPath : file;
  return new Promise((resolve) => {
    execFile(program, argv, { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * MIB }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const sanlock = (...args: string[]) => run(SANLOCK, args);
const ours = (...args: string[]) => run(CLI, args);

async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** First differing byte offset, or -1. Used to make a failure name the place. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

interface Target {
  /** What the commands are given: a regular file or a loop device. */
  readonly path: string;
}

/** 512-byte sectors: a sparse regular file; 4096: a loop device with 4K logical sectors. Removed in teardown. */
async function makeTarget(t: Teardown, size: number, sectorSize: number): Promise<Target> {
  if (sectorSize === 512) return { path: (await createSparseFile(t, { sizeBytes: size })).path };
  return { path: (await createLoopDevice(t, { sizeBytes: size, sectorSize })).path };
}

/** Escape ':' for sanlock argument strings. */
function esc(path: string): string {
  return path.replace(/:/g, "\\:");
}

const PAIRS: readonly { sector: number; align: string; bytes: number }[] = [
  { sector: 512, align: "1M", bytes: 1 * MIB },
  { sector: 4096, align: "1M", bytes: 1 * MIB },
  { sector: 4096, align: "2M", bytes: 2 * MIB },
  { sector: 4096, align: "4M", bytes: 4 * MIB },
  { sector: 4096, align: "8M", bytes: 8 * MIB },
];

const haveSanlock = (await run(SANLOCK, ["version"])).code === 0;
const haveCli = existsSync(CLI);
const loopSkip = loopDeviceSkipReason();

t.test(
  "sanlock-ts direct vs sanlock direct",
  { skip: environmentSkip(!haveSanlock ? "sanlock is not installed" : !haveCli && "build the CLI first (pnpm build)") || loopSkip },
  async (t) => {
    // The five geometries run concurrently (each on its own files / loop devices) to keep the file's
    // run time bounded; every assertion message starts with the geometry.
    // Devices are attached one after the other (concurrent `losetup -f` can pick the same device).
    const devices: { theirs: Target; mine: Target }[] = [];
    for (const pair of PAIRS) {
      devices.push({ theirs: await makeTarget(t, 6 * pair.bytes, pair.sector), mine: await makeTarget(t, 6 * pair.bytes, pair.sector) });
    }
    await Promise.all(PAIRS.map((pair, i) => checkPair(pair, devices[i]!.theirs, devices[i]!.mine)));

    async function checkPair(pair: (typeof PAIRS)[number], theirs: Target, mine: Target): Promise<void> {
      {
        const label = `${pair.sector}/${pair.align}`;
        const Z = ["-Z", String(pair.sector), "-A", pair.align];
        const area = pair.bytes;
        // layout: lockspace at 0, resource at 1 area, rindex at 2 areas (+ internal lease at 3),
        // indexed resource leases at 4 and 5 areas.
        const size = 6 * area;
        const A = esc(theirs.path);
        const B = esc(mine.path);

        async function sameArea(what: string, offset: number, maskRequestPadding = false): Promise<void> {
          const a = await readRange(theirs.path, offset, area);
          const b = await readRange(mine.path, offset, area);
          if (maskRequestPadding) {
            // ondisk.md §6.3 / §11: sanlock may leave garbage in request record bytes 20..23 (the
            // struct's padding, copied from an uninitialised stack copy); we write zeros, which
            // the comparison still checks. Only sanlock's copy is masked.
            a.fill(0, pair.sector + 20, pair.sector + 24);
          }
          t.equal(b.length, area, `${label}: ${what}: read the whole area`);
          t.equal(firstDifference(a, b), -1, `${label}: ${what}: byte-identical to sanlock's`);
        }

        async function bothSucceed(what: string, args: string[], argsOurs: string[]): Promise<void> {
          const [r1, r2] = await Promise.all([sanlock(...args), ours(...argsOurs)]);
          t.equal(r1.code, 0, `${label}: sanlock ${what} exit 0 (${r1.stdout.trim()})`);
          t.equal(r2.code, 0, `${label}: sanlock-ts ${what} exit 0 (${r2.stderr.trim()})`);
          t.equal(r2.stdout, r1.stdout, `${label}: ${what}: same output`);
        }

        // lockspace
        await bothSucceed("init -s", ["direct", "init", "-s", `LS:0:${A}:0`, ...Z], ["direct", "init", "-s", `LS:0:${B}:0`, ...Z]);
        await sameArea("lockspace", 0);

        // resource
        await bothSucceed("init -r", ["direct", "init", "-r", `LS:RES1:${A}:${area}`, ...Z], ["direct", "init", "-r", `LS:RES1:${B}:${area}`, ...Z]);
        await sameArea("resource", area, true);

        // dump and read_leader: sanlock reads ours as it reads its own, and we print what it prints
        const dumpNoSize = await Promise.all([sanlock("direct", "dump", A), ours("direct", "dump", A)]);
        t.equal(dumpNoSize[1]?.stdout, dumpNoSize[0]?.stdout, `${label}: dump without size/offset`);

        for (const [kind, arg] of [
          ["-s", `LS:${pair.sector === 512 ? 2000 : 2}:%:0`],
          ["-r", `LS:RES1:%:${area}`],
        ] as const) {
          const [r1, r2, r3] = await Promise.all([
            sanlock("direct", "read_leader", kind, arg.replace("%", A)),
            sanlock("direct", "read_leader", kind, arg.replace("%", B)),
            ours("direct", "read_leader", kind, arg.replace("%", A)),
          ]);
          t.equal(r2.code, 0, `${label}: sanlock read_leader ${kind} reads ours`);
          t.equal(r2.stdout, r1.stdout, `${label}: sanlock read_leader ${kind} ${arg}: same for ours`);
          t.equal(r3.code, 0, `${label}: sanlock-ts read_leader ${kind} exit 0 (${r3.stderr.trim()})`);
          t.equal(r3.stdout, r1.stdout, `${label}: sanlock-ts read_leader ${kind} prints what sanlock prints`);
        }

        // options: io_timeout on the lockspace, num_hosts on a resource (a cleared resource is not
        // compared: it holds a time stamp)
        // (only on the smallest and largest geometry: the fields do not depend on the pair)
        if (pair.sector === 512 || pair.align === "8M") {
          await bothSucceed(
            "init -s -o 5",
            ["direct", "init", "-s", `LS2:0:${A}:0`, "-o", "5", ...Z],
            ["direct", "init", "-s", `LS2:0:${B}:0`, "-o", "5", ...Z],
          );
          await sameArea("lockspace -o 5", 0);
          await bothSucceed(
            "init -r -n 4",
            ["direct", "init", "-r", `LS:RES2:${A}:${area}`, "-n", "4", ...Z],
            ["direct", "init", "-r", `LS:RES2:${B}:${area}`, "-n", "4", ...Z],
          );
          await sameArea("resource -n 4", area, true);
        }

        // rindex
        const rx = 2 * area;
        await bothSucceed("format", ["direct", "format", "-x", `LS:${A}:${rx}`, ...Z], ["direct", "format", "-x", `LS:${B}:${rx}`, ...Z]);
        await sameArea("rindex after format", rx);
        await sameArea("rindex internal lease after format", rx + area, true);
        await bothSucceed("lookup (first free)", ["direct", "lookup", "-x", `LS:${A}:${rx}`], ["direct", "lookup", "-x", `LS:${B}:${rx}`]);
        await bothSucceed(
          "update add",
          ["direct", "update", "-x", `LS:${A}:${rx}`, "-e", `RXA:${4 * area}`],
          ["direct", "update", "-x", `LS:${B}:${rx}`, "-e", `RXA:${4 * area}`],
        );
        await sameArea("rindex after update", rx);
        await bothSucceed("lookup by name", ["direct", "lookup", "-x", `LS:${A}:${rx}`, "-e", "RXA"], ["direct", "lookup", "-x", `LS:${B}:${rx}`, "-e", "RXA"]);
        await bothSucceed(
          "lookup by offset",
          ["direct", "lookup", "-x", `LS:${A}:${rx}`, "-e", `:${4 * area}`],
          ["direct", "lookup", "-x", `LS:${B}:${rx}`, "-e", `:${4 * area}`],
        );
        await bothSucceed(
          "init -r indexed",
          ["direct", "init", "-r", `LS:RXB:${A}:${5 * area}`, ...Z],
          ["direct", "init", "-r", `LS:RXB:${B}:${5 * area}`, ...Z],
        );
        await bothSucceed("rebuild", ["direct", "rebuild", "-x", `LS:${A}:${rx}`], ["direct", "rebuild", "-x", `LS:${B}:${rx}`]);
        await sameArea("rindex after rebuild", rx);
        await bothSucceed(
          "update remove",
          ["direct", "update", "-x", `LS:${A}:${rx}`, "-e", `RXB:${5 * area}`, "-z", "1"],
          ["direct", "update", "-x", `LS:${B}:${rx}`, "-e", `RXB:${5 * area}`, "-z", "1"],
        );
        await sameArea("rindex after remove", rx);
        for (const f of ["0", "1", "2"]) {
          const [theirDump, theirDumpOfMine, myDump] = await Promise.all([
            sanlock("direct", "dump", `${A}:0:${size}`, "-f", f),
            sanlock("direct", "dump", `${B}:0:${size}`, "-f", f),
            ours("direct", "dump", `${A}:0:${size}`, "-f", f),
          ]);
          t.equal(theirDump.code, 0, `${label}: sanlock dump exit 0`);
          t.ok(/ RES[12] /.test(theirDump.stdout) && theirDump.stdout.includes(" rindex_lease "), `${label}: sanlock's dump lists resource and rindex`);
          t.equal(theirDumpOfMine.stdout, theirDump.stdout, `${label}: sanlock dumps our areas as its own (-f ${f})`);
          t.equal(myDump.code, 0, `${label}: sanlock-ts dump exit 0 (${myDump.stderr.trim()})`);
          t.equal(myDump.stdout, theirDump.stdout, `${label}: sanlock-ts dump prints what sanlock prints (-f ${f})`);
        }
      }
    }

    t.test("init without -Z/-A takes the device's sector size (4096 -> 8M)", async (t) => {
      const theirs = await makeTarget(t, 16 * MIB, 4096);
      const mine = await makeTarget(t, 16 * MIB, 4096);
      t.equal((await sanlock("direct", "init", "-s", `LS:0:${esc(theirs.path)}:0`)).code, 0);
      const r = await ours("direct", "init", "-s", `LS:0:${esc(mine.path)}:0`);
      t.equal(r.code, 0, r.stderr);
      const a = await readRange(theirs.path, 0, 8 * MIB);
      const b = await readRange(mine.path, 0, 8 * MIB);
      t.equal(firstDifference(a, b), -1, "byte-identical");
    });
  },
);
