/**
 * Corrupt sectors in lease areas give clean sanlock results, never a crash (issue 14 item 6).
 *
 * Each record is corrupted in five ways: bad magic, bad checksum (content changed, checksum
 * stale), torn write (the first part of the record from a newer version, the rest old: the
 * checksum no longer matches), zeroed, and seeded random bytes; leaders also get a sixth, a
 * consistent record with a sector size of 1000 and no align flag. The records:
 *
 * - delta lease area: another host's record (host 2) and our own (host 1);
 * - paxos resource area: the leader, our dblock (host 1), another host's dblock (host 2),
 *   the request record (no checksum in it: "checksum" and "torn" do not apply).
 *
 * The same corrupted bytes are given to the sanlock-ts daemon and to the real sanlock 3.8.5
 * daemon, and every operation through them — READ_LOCKSPACE (of the corrupted host's record),
 * ADD_LOCKSPACE (then GET_HOSTS and REM_LOCKSPACE when it joins), READ_RESOURCE,
 * READ_RESOURCE_OWNERS, ACQUIRE (then RELEASE), REQUEST — must give the same result on both,
 * and that result must be a sanlock result, not a transport error. Where sanlock's source fixes
 * the code, the test says it (delta_lease.c / paxos_lease.c verify_leader: magic first, then
 * version, names, checksum → SANLK_LEADER_MAGIC −223 / SANLK_LEADER_CHECKSUM −229; a zeroed or
 * random leader fails the magic check; verify_dblock: an all-zero dblock is an empty one, a
 * checksum mismatch is SANLK_DBLOCK_CHECKSUM, which the ballot skips as a non-answer).
 * Afterwards the sanlock-ts daemon still answers and its own lockspace is still joined.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import t from "tap";
import { Cmd, HEADER_SIZE, SanlockClient, SanlockError, buildRequest, decodeHeader, lockspace as wireLockspace } from "@sanlock-ts/client";
import { leaderChecksum, sanlockCrc32c } from "@sanlock-ts/core";
import { environmentSkip, HAVE_REAL_SANLOCK, sleep, startDaemon, startInProcessDaemon, tempLeaseDir } from "../../../test/support/index.js";
import { Rng } from "./fuzz-gen.js";

type HostInfo = Awaited<ReturnType<SanlockClient["getHosts"]>>[number];

const SECTOR = 512;
const MB = 1048576;
const LS = "CORR";
const RES = "CRES";
const KINDS = ["magic", "checksum", "torn", "zeroed", "random", "sizes"] as const;
type Kind = (typeof KINDS)[number];
type RecordType = "leader" | "dblock" | "request";
const SANLK_LEADER_MAGIC = -223;
const SANLK_LEADER_CHECKSUM = -229;

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}
function setU32(bytes: Uint8Array, at: number, v: number): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, v >>> 0, true);
}
function addU64(bytes: Uint8Array, at: number, n: bigint): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  view.setBigUint64(at, BigInt.asUintN(64, view.getBigUint64(at, true) + n), true);
}

/** A newer, valid version of the record (as the next write would leave it) and where a torn write splits it. */
function newerVersion(old: Uint8Array, type: RecordType): { bytes: Uint8Array; tear: number } {
  const next = new Uint8Array(old);
  if (type === "leader") {
    addU64(next, 40, 1n); // owner_generation
    addU64(next, 152, 7n); // timestamp
    setU32(next, 168, leaderChecksum(next));
    return { bytes: next, tear: 128 }; // new generation, old timestamp and checksum
  }
  if (type === "dblock") {
    addU64(next, 0, 1n); // mbal
    addU64(next, 40, 1n); // lver
    setU32(next, 48, sanlockCrc32c(next, 0, 48));
    return { bytes: next, tear: 24 }; // new mbal, old lver and checksum
  }
  addU64(next, 8, 1n); // request lver
  setU32(next, 16, 1); // force_mode
  return { bytes: next, tear: 12 };
}

/** The corrupted sector, or null when the kind does not apply to the record. */
function corrupt(old: Uint8Array, type: RecordType, kind: Kind, rng: Rng): Uint8Array | null {
  const out = new Uint8Array(old);
  switch (kind) {
    case "magic":
      if (type === "dblock") return null; // dblocks carry no magic
      setU32(out, 0, u32(out, 0) ^ 0x00ff_0000);
      return out;
    case "checksum":
      if (type === "request") return null; // the request record has no checksum
      out[type === "leader" ? 152 : 16]! ^= 0x01; // timestamp / inp: content changed, checksum stale
      return out;
    case "torn": {
      if (type === "request") return null;
      const next = newerVersion(old, type);
      out.set(next.bytes.subarray(0, next.tear));
      return out;
    }
    case "zeroed":
      return new Uint8Array(SECTOR);
    case "random":
      return rng.bytes(SECTOR);
    case "sizes":
      // A leader whose sector_size is neither 512 nor 4096 and whose flags name no alignment
      // (checksum recomputed): read_resource_owners fails on the sizes before verifying anything.
      if (type !== "leader") return null;
      setU32(out, 12, 1000);
      setU32(out, 8, 0);
      setU32(out, 168, leaderChecksum(out));
      return out;
  }
}

function patched(template: Uint8Array, sectorIndex: number, sector: Uint8Array): Uint8Array {
  const out = new Uint8Array(template);
  out.set(sector, sectorIndex * SECTOR);
  return out;
}

interface Result {
  readonly result: number;
  readonly value?: unknown;
}

/** A client call's sanlock result (0 on success); a transport failure or a non-sanlock error throws. */
async function result(call: () => Promise<unknown>): Promise<Result> {
  try {
    return { result: 0, value: await call() };
  } catch (error) {
    if (error instanceof SanlockError) return { result: error.result };
    throw error;
  }
}

/** READ_LOCKSPACE of one host_id's record (the client API reads host 1 only). */
function readLockspaceOf(runDir: string, path: string, hostId: bigint): Promise<number> {
  const { bytes } = buildRequest(Cmd.READ_LOCKSPACE, { lockspace: wireLockspace("", { hostId, path, offset: 0n }) });
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(runDir, "sanlock.sock"));
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("READ_LOCKSPACE: no reply within 30 s"));
    }, 30_000);
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= HEADER_SIZE) {
        clearTimeout(timer);
        socket.destroy();
        resolve(decodeHeader(new Uint8Array(got.subarray(0, HEADER_SIZE))).data);
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(bytes);
  });
}

/** get_hosts once the first renewal read was examined (EAGAIN before), other hosts only, without our own times. */
async function hostsSeen(client: SanlockClient, name: string): Promise<Result> {
  for (let i = 0; ; i++) {
    const r = await result(() => client.getHosts(name));
    if (r.result !== -11 || i >= 50) {
      if (r.result !== 0) return r;
      // A record with io_timeout 0 has a fail time of 0 s: it reads UNKNOWN in the second of its
      // first check and FAIL after (docs/algorithms.md §1.4). Which one a query sees depends on the
      // second it lands in, on either daemon (a CI run saw sanlock UNKNOWN, ours FAIL), so both count as one.
      const hosts = (r.value as HostInfo[]).map((h) =>
        h.hostId === 1n ? { hostId: 1n, flags: h.flags } : h.ioTimeout === 0 && (h.flags === 1 || h.flags === 4) ? { ...h, flags: "UNKNOWN or FAIL" } : h,
      );
      return { result: 0, value: hosts };
    }
    await sleep(200);
  }
}

interface Daemon {
  readonly label: string;
  readonly runDir: string;
  readonly client: SanlockClient;
}

t.test(
  "corrupted lease areas: the same clean sanlock results as sanlock 3.8.5, and the daemon stays up",
  {
    skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"),
    timeout: 400_000,
  },
  async (t) => {
    const seed = process.env["CORRUPT_SEED"] !== undefined ? Number(process.env["CORRUPT_SEED"]) >>> 0 : Date.now() >>> 0;
    t.comment(`random sectors from seed ${seed} (CORRUPT_SEED=${seed})`);
    const work = tempLeaseDir(t, "slts-corrupt-");
    const ours = await startInProcessDaemon(t);
    const realRunDir = (await startDaemon(t, { kind: "sanlock" })).runDir;
    const daemons: Daemon[] = [
      { label: "sanlock-ts", runDir: ours.runDir, client: new SanlockClient({ runDir: ours.runDir }) },
      { label: "sanlock", runDir: realRunDir, client: new SanlockClient({ runDir: realRunDir }) },
    ];

    // Templates, made once through our daemon and given byte for byte to both.
    const fresh = (name: string, size = MB): string => {
      const path = join(work, name);
      writeFileSync(path, "");
      writeFileSync(path, new Uint8Array(size));
      return path;
    };
    const c0 = daemons[0]!.client;
    const deltaTemplatePath = fresh("delta-template");
    await c0.writeLockspace("CLT", deltaTemplatePath, { iotimeout: 1 });
    const deltaTemplate = new Uint8Array(readFileSync(deltaTemplatePath));
    // Each daemon joins LS (host 1) on its own lockspace file, for the acquires.
    for (const d of daemons) {
      const path = fresh(`ls-${d.label}`);
      await d.client.writeLockspace(LS, path, { iotimeout: 1 });
      await d.client.addLockspace(LS, 1, path);
    }
    // The resource: acquired and released once by host 1 (our dblock written, lver 1), and
    // host 2's dblock a copy of ours, so both dblocks hold values whose checksums matter.
    const resTemplatePath = fresh("res-template");
    await c0.writeResource(LS, RES, [{ path: resTemplatePath, offset: 0 }]);
    {
      await using registration = await c0.register();
      const lease = await c0.acquire(LS, RES, [{ path: resTemplatePath, offset: 0 }], { registration });
      await lease.release();
    }
    const resTemplate = new Uint8Array(readFileSync(resTemplatePath));
    resTemplate.set(resTemplate.subarray(2 * SECTOR, 3 * SECTOR), 3 * SECTOR);

    const rng = new Rng(seed);
    let files = 0;
    const copyOf = (bytes: Uint8Array): string => {
      const path = join(work, `case-${files++}`);
      writeFileSync(path, bytes);
      return path;
    };

    // ---------------------------------------------------------------- delta lease area
    for (const [target, hostId] of [
      ["other host's record", 2],
      ["our own record", 1],
    ] as const) {
      for (const kind of KINDS) {
        const sector = corrupt(deltaTemplate.subarray((hostId - 1) * SECTOR, hostId * SECTOR), "leader", kind, rng);
        if (sector === null) continue;
        const bytes = patched(deltaTemplate, hostId - 1, sector);
        const got = await Promise.all(
          daemons.map(async (d) => {
            const path = copyOf(bytes);
            const read = await readLockspaceOf(d.runDir, path, BigInt(hostId));
            const add = await result(() => d.client.addLockspace("CLT", 1, path, { iotimeout: 1 }));
            let hosts: Result | undefined;
            if (add.result === 0) {
              hosts = await hostsSeen(d.client, "CLT");
              await d.client.remLockspace("CLT", 1, path);
            }
            return { read, add: add.result, hosts };
          }),
        );
        const what = `delta area, ${target} (host ${hostId}), ${kind}`;
        // Known divergence (not a crash: both answer a sanlock result): sanlock's read_lockspace
        // gets the sizes from the first record (sector size 1000 → -EINVAL) and add_lockspace
        // verifies the sector size (SANLK_LEADER_SECTORSIZE -225); ours reports -223 for both.
        const todo = hostId === 1 && kind === "sizes" ? "own delta record with sector_size 1000: sanlock -22/-225, ours -223" : false;
        t.same(
          got[0],
          got[1],
          `${what}: read_lockspace/add_lockspace/get_hosts as sanlock: ${JSON.stringify(got[0], (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`,
          { todo },
        );
        if (kind !== "sizes") {
          // Reading the corrupted record itself: magic first, then the checksum.
          const want = kind === "checksum" || kind === "torn" ? SANLK_LEADER_CHECKSUM : SANLK_LEADER_MAGIC;
          t.equal(got[0]!.read, want, `${what}: read_lockspace of it is ${want}`);
        }
        if (hostId === 1) t.ok(got[0]!.add < 0, `${what}: add_lockspace fails (${got[0]!.add})`);
        else t.equal(got[0]!.add, 0, `${what}: add_lockspace of host 1 joins (host 2's record is not ours)`);
      }
    }

    // ---------------------------------------------------------------- paxos resource area
    const targets: [string, number, RecordType][] = [
      ["leader", 0, "leader"],
      ["request record", 1, "request"],
      ["our dblock (host 1)", 2, "dblock"],
      ["other host's dblock (host 2)", 3, "dblock"],
    ];
    for (const [target, sectorIndex, type] of targets) {
      for (const kind of KINDS) {
        const sector = corrupt(resTemplate.subarray(sectorIndex * SECTOR, (sectorIndex + 1) * SECTOR), type, kind, rng);
        if (sector === null) continue;
        const bytes = patched(resTemplate, sectorIndex, sector);
        const got = await Promise.all(
          daemons.map(async (d) => {
            const shared = copyOf(bytes);
            const disks = (path: string): { path: string; offset: number }[] => [{ path, offset: 0 }];
            const read = await result(() => d.client.readResource(shared));
            const owners = await result(() => d.client.readResourceOwners(LS, RES, disks(shared)));
            const acquirePath = copyOf(bytes);
            let acquire: number;
            {
              await using registration = await d.client.register();
              const r = await result(() => d.client.acquire(LS, RES, disks(acquirePath), { registration }));
              acquire = r.result;
              if (r.result === 0) await d.client.release(LS, RES, disks(acquirePath), { registration });
            }
            const request = await result(() => d.client.request(LS, RES, disks(copyOf(bytes))));
            return {
              read: read.result,
              owners: owners.result,
              ownerIds: owners.result === 0 ? (owners.value as HostInfo[]).map((h) => Number(h.hostId)) : [],
              acquire,
              request: request.result,
            };
          }),
        );
        const what = `resource area, ${target}, ${kind}`;
        // Known divergences in how sanlock sizes a leader it cannot trust (answers, not crashes):
        // a leader with sector_size 1000 and no align flag reads as 0 and acquires as -1 in
        // sanlock (ours: -223 / -225); read_resource_owners of a random leader re-reads with the
        // random sizes and may answer e.g. -EMSGSIZE (ours: the magic check, -223).
        const todo =
          type === "leader" && kind === "sizes"
            ? "leader with sector_size 1000: sanlock read 0 / acquire -1 / request 0"
            : type === "leader" && kind === "random" && got[0]!.owners !== got[1]!.owners
              ? "random leader: read_resource_owners sizes quirk"
              : false;
        t.same(got[0], got[1], `${what}: read_resource/read_resource_owners/acquire/request as sanlock: ${JSON.stringify(got[0])}`, { todo });
        if (type === "leader" && kind !== "sizes") {
          const want = kind === "checksum" || kind === "torn" ? SANLK_LEADER_CHECKSUM : SANLK_LEADER_MAGIC;
          t.match(got[0], { read: want, acquire: want }, `${what}: read_resource and acquire give ${want}`);
        }
      }
    }

    t.equal((await daemons[0]!.client.version()).daemonVersion, 0x03080500, "the sanlock-ts daemon still answers");
    t.equal(await daemons[0]!.client.inqLockspace(LS, 1, join(work, "ls-sanlock-ts")), true, "its lockspace is still joined");
  },
);
