/**
 * Bad input never crashes the daemon or loses a lease: well-framed requests with hostile
 * values (empty and bogus paths, huge offsets and host_ids, unknown lockspaces, names that
 * differ, every lockspace/resource command) each get an error reply, and afterwards a lease
 * held by a registered client is still held and the daemon still answers.
 */
import { createConnection } from "node:net";
import { join } from "node:path";
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, python, spawnPython, startInProcessDaemon, tempLeaseDir, waitForLine } from "../../../test/support/index.js";
import {
  Cmd,
  HEADER_SIZE,
  LsFlag,
  ResFlag,
  buildRequest,
  decodeHeader,
  disk,
  lockspace,
  resource,
  type CmdNumber,
  type RequestBodies,
} from "@sanlock-ts/client";

const LS = "BADLS";
const MB = 1048576;
const HUGE = 0xffff_ffff_ffff_f000n;

/** Sends one request on a fresh connection; resolves with the reply's result (data), or null if none came. */
function send<C extends CmdNumber>(
  runDir: string,
  cmd: C,
  body: RequestBodies[C],
  fields: { cmdFlags?: number; data?: number; data2?: number } = {},
): Promise<number | null> {
  const { bytes } = buildRequest(cmd, body, fields);
  return new Promise((resolve) => {
    const socket = createConnection(join(runDir, "sanlock.sock"));
    let got = Buffer.alloc(0);
    const finish = (value: number | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), 10_000);
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= HEADER_SIZE) finish(decodeHeader(new Uint8Array(got.subarray(0, HEADER_SIZE))).data);
    });
    socket.on("error", () => finish(null));
    socket.on("end", () => finish(got.length >= HEADER_SIZE ? decodeHeader(new Uint8Array(got.subarray(0, HEADER_SIZE))).data : null));
    socket.write(bytes);
  });
}

t.test(
  "hostile values get error replies; the held lease survives",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 100_000 },
  async (t) => {
    const ours = await startInProcessDaemon(t);
    const dir = ours.runDir;
    const work = tempLeaseDir(t, "slts-bad-");
    const lsFile = join(work, "ls");
    const resFile = join(work, "res");
    const ready = await python(
      dir,
      `
import sanlock
open("${lsFile}", "wb").truncate(${MB})
open("${resFile}", "wb").truncate(${MB})
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=1)
sanlock.write_resource(b"${LS}", b"R", [("${resFile}", 0)])
sanlock.add_lockspace(b"${LS}", 1, "${lsFile}", iotimeout=1)
print("ready")
`,
    );
    t.equal(ready.stdout.trim(), "ready", ready.stderr);
    const holder = spawnPython(
      t,
      dir,
      `
import sys, sanlock
fd = sanlock.register()
sanlock.acquire(b"${LS}", b"R", [("${resFile}", 0)], slkfd=fd)
print("acquired", flush=True)
sys.stdin.readline()
`,
    );
    await waitForLine(holder, "acquired");

    const badDisks = [disk("", 0n), disk("/nonexistent/x", 0n), disk(resFile, HUGE), disk(resFile, 7n), disk(work, 0n), disk("/dev/null", 0n)];
    const results: (number | null)[] = [];
    const aligns: (number | null)[] = [];
    for (const d of badDisks) {
      const res = resource(LS, "R", [d]);
      const other = resource(LS, "OTHER", [d]);
      results.push(await send(dir, Cmd.ACQUIRE, { resources: [other], options: { ownerName: "", flags: 0, len: 0 } }, { data2: holder.pid ?? 0 }));
      results.push(await send(dir, Cmd.REQUEST, { resource: res }, { data: 2 }));
      results.push(await send(dir, Cmd.REQUEST, { resource: res }, { data: 99 }));
      results.push(await send(dir, Cmd.READ_RESOURCE, { resource: res }));
      results.push(await send(dir, Cmd.READ_RESOURCE_OWNERS, { resource: res }));
      results.push(await send(dir, Cmd.WRITE_RESOURCE, { resource: other }, { data: 0x7fffffff }));
      aligns.push(await send(dir, Cmd.ALIGN, { disk: d }));
      const ls = lockspace("BAD2", { hostId: HUGE, path: d.path, offset: d.offset });
      results.push(await send(dir, Cmd.ADD_LOCKSPACE, { lockspace: ls }, { data: 0x7fffffff }));
      results.push(await send(dir, Cmd.READ_LOCKSPACE, { lockspace: ls }));
      results.push(await send(dir, Cmd.INQ_LOCKSPACE, { lockspace: ls }));
      results.push(await send(dir, Cmd.REM_LOCKSPACE, { lockspace: ls }));
      const rx = { flags: 0xffff, maxResources: 0xffffffff, unused: 0n, lockspaceName: LS, disk: d };
      results.push(await send(dir, Cmd.LOOKUP_RINDEX, { rindex: rx, rentry: { name: "X", offset: HUGE, flags: 0, unused: 0 } }));
      results.push(await send(dir, Cmd.CREATE_RESOURCE, { rindex: rx, rentry: { name: "X", offset: 0n, flags: 0, unused: 0 } }));
    }
    // Flags that name no sanlock geometry (512-byte sectors with 2M alignment): sanlock's writes
    // check them with sizes_from_flags and answer −1 (found by fuzz-socket.test.ts: the handler threw).
    const noGeometry = [
      await send(dir, Cmd.WRITE_RESOURCE, { resource: resource(LS, "GEO", [disk(resFile, 0n)], { flags: ResFlag.SECTOR512 | ResFlag.ALIGN2M }) }),
      await send(dir, Cmd.WRITE_LOCKSPACE, {
        lockspace: lockspace("GEO", { flags: LsFlag.SECTOR512 | LsFlag.ALIGN2M, path: lsFile.replace(/ls$/, "geo"), offset: 0n }),
      }),
    ];
    t.same(noGeometry, [-1, -1], "write_resource and write_lockspace with 512-byte sectors and 2M alignment: −1, as sanlock");
    const lsR = lockspace(LS, { hostId: HUGE });
    // A host_id past max_hosts is no error for sanlock's get_hosts: 0 and no hosts once the first
    // renewal read has been examined (−EAGAIN before, half a second after the join).
    const hosts = await send(dir, Cmd.GET_HOSTS, { lockspace: lsR });
    results.push(await send(dir, Cmd.SET_EVENT, { lockspace: lsR, event: { hostId: HUGE, generation: HUGE, event: HUGE, data: HUGE } }));
    results.push(await send(dir, Cmd.SET_LVB, { resource: resource(LS, "R"), lvb: new Uint8Array(4096) }));
    results.push(await send(dir, Cmd.GET_LVB, { resource: resource(LS, "R") }, { data2: 0x7fffffff }));
    results.push(await send(dir, Cmd.CONVERT, { resource: resource(LS, "NOPE", [], { flags: 0xffffffff }) }, { data2: holder.pid ?? 0 }));
    results.push(await send(dir, Cmd.RELEASE, { resources: [resource(LS, "NOPE")] }, { data2: holder.pid ?? 0 }));
    results.push(await send(dir, Cmd.RELEASE, { resources: [resource(LS, "R")] }, { data2: 999_999 }));

    t.ok(
      [...results, ...aligns].every((r) => r !== null),
      "every request got a reply",
    );
    t.ok(
      results.every((r) => r === null || r < 0),
      `every hostile request failed cleanly: ${JSON.stringify(results)}`,
    );
    t.ok(hosts === 0 || hosts === -11, `get_hosts of host_id ${HUGE}: 0 (no hosts) or EAGAIN, got ${hosts}`);

    const check = await python(
      dir,
      `
import sanlock
print([(r["resource"], r["flags"]) for r in sanlock.inquire(pid=${holder.pid})])
print([(o["host_id"]) for o in sanlock.read_resource_owners(b"${LS}", b"R", [("${resFile}", 0)])])
print(sanlock.inq_lockspace(b"${LS}", 1, "${lsFile}"))
`,
    );
    t.equal(check.stdout, "[(b'R', 1)]\n[1]\nTrue\n", "the lease is still held by its client and the lockspace is joined");
    holder.stdin?.end();
  },
);
