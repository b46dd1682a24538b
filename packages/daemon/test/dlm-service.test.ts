// The daemon's DLM socket (docs/dlm-wire.md) against bad input and process exit: a malformed
// frame closes only its connection, a malformed request gets EINVAL, a lock id of another
// process is ENOENT, and a closed connection's locks go (PERSISTENT ones become orphans).
import t from "tap";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { geometryFor } from "@sanlock-ts/core";
import { DlmStatus, FrameDecoder, LKF, LKM, encodeFrame, formatVolume } from "@sanlock-ts/core/dlm";
import { openDirectDevice } from "../src/device/index.js";
import { DlmService } from "../src/dlm/dlm-service.js";
import { startDaemon } from "../src/main.js";
import { DEFAULT_SETTINGS } from "../src/options.js";
import { createLeaseEngine, registerLeaseHandlers } from "../src/handlers/index.js";
import { LockspaceSet } from "../src/lockspaces/lockspace-set.js";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";

const ROOT = process.env["SANLOCK_TS_TEST_DIR"] ?? "/var/tmp";
const dir = mkdtempSync(join(ROOT, "dlm-service-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const daemon = await startDaemon({
  settings: { ...DEFAULT_SETTINGS, useWatchdog: false, socketUser: "root", socketGroup: "root", ourHostName: "dlm-service-test" },
  environment: { runDir: dir, privileged: false },
  lockspaces: (log) => createLeaseEngine({ log }),
  registerCommands: registerLeaseHandlers,
});
const set = daemon.server.lockspaces;
if (!(set instanceof LockspaceSet)) throw new Error("no lease engine");
const service = await DlmService.listen({ runDir: dir, socketOwner: daemon.server.socketOwner, lockspaces: set, hostName: "h1", log: () => undefined });
t.teardown(async () => {
  await service.close();
  await daemon.server.requestShutdown(true);
  await daemon.exited;
});

const volume = join(dir, "vol");
writeFileSync(volume, "");
truncateSync(volume, 16 << 20);
{
  const device = await openDirectDevice(volume, {});
  await formatVolume(device, { offset: 0, name: "svc", geometry: geometryFor(512, 1 << 20), lockspaceId: 5n, ioTimeout: 1, numHosts: 4, pollMs: 200 });
  await device.close();
}

interface Client {
  readonly socket: Socket;
  readonly events: Record<string, unknown>[];
  request(op: string, fields?: Record<string, unknown>): Promise<Record<string, unknown>>;
  closed: Promise<void>;
}

function connect(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: join(dir, "dlm.sock") });
    const decoder = new FrameDecoder();
    const waiting = new Map<number, (m: Record<string, unknown>) => void>();
    const events: Record<string, unknown>[] = [];
    let id = 0;
    socket.on("data", (chunk) => {
      for (const m of decoder.push(new Uint8Array(chunk))) {
        if (typeof m.id === "number") waiting.get(m.id)?.(m);
        else events.push(m);
      }
    });
    const closed = new Promise<void>((r) => socket.on("close", () => r()));
    socket.once("error", reject);
    socket.once("connect", () =>
      resolve({
        socket,
        events,
        closed,
        request: (op, fields = {}) =>
          new Promise((r) => {
            const n = ++id;
            waiting.set(n, r);
            socket.write(encodeFrame({ op, id: n, ...fields }));
          }),
      }),
    );
  });
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const until = async (probe: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test("a malformed frame closes its connection only", async (t) => {
  for (const [what, bytes] of [
    ["length 0", [0, 0, 0, 0]],
    ["length 2 GiB", [0, 0, 0, 0x80]],
    ["not JSON", [3, 0, 0, 0, 0x7b, 0x7b, 0x7b]],
  ] as const) {
    const bad = await connect();
    bad.socket.write(new Uint8Array(bytes));
    await bad.closed;
    t.pass(`${what}: closed`);
  }
  const good = await connect();
  const hello = await good.request("hello");
  t.match(hello, { status: 0, version: 1, pid: process.pid }, "the daemon still answers, with our pid");
  good.socket.destroy();
});

t.test("a malformed request gets EINVAL naming the field; one without an id is ignored", async (t) => {
  const c = await connect();
  t.match(await c.request("lock", { handle: "one" }), { status: DlmStatus.EINVAL, message: /handle/ });
  t.match(await c.request("frobnicate"), { status: DlmStatus.EINVAL, message: /unknown op/ });
  t.match(await c.request("lock", { handle: 1, mode: 3, resource: "***" }), { status: DlmStatus.EINVAL, message: /base64/ });
  c.socket.write(encodeFrame({ op: "hello" }));
  t.match(await c.request("hello"), { status: 0 }, "the connection survives a request without an id");
  t.match(await c.request("lock", { handle: 99, mode: 3, resource: b64("r") }), { status: DlmStatus.ENOENT }, "unknown handle");
  t.match(await c.request("create", { name: "nowhere" }), { status: DlmStatus.ENOENT, message: /give its disk/ });
  const empty = join(dir, "empty");
  writeFileSync(empty, "");
  truncateSync(empty, 1 << 20);
  t.match(await c.request("create", { name: "empty", hostId: 1, disk: { path: empty, offset: 0 } }), { status: DlmStatus.ENOENT }, "a file with no DLM volume");
  t.match(
    await c.request("create", { name: "x".repeat(49), hostId: 1, disk: { path: volume, offset: 0 } }),
    { status: DlmStatus.EINVAL },
    "a 49-byte lockspace name",
  );
  c.socket.destroy();
});

t.test("locks belong to their connection; exit unlocks them and orphans PERSISTENT ones", async (t) => {
  const a = await connect();
  const created = await a.request("create", { name: "svc", hostId: 1, disk: { path: volume, offset: 0 } });
  t.match(created, { status: 0, name: "svc", hostId: 1, lvbLength: 32 });
  const ha = created.handle;
  const lock = await a.request("lock", { handle: ha, mode: LKM.EX, resource: b64("res") });
  t.match(lock, { status: 0 });
  await until(() => a.events.some((e) => e.event === "ast" && e.lkid === lock.lkid));
  t.match(
    a.events.find((e) => e.lkid === lock.lkid),
    { status: 0, mode: LKM.EX },
  );

  const b = await connect();
  const hb = (await b.request("open", { name: "svc" })).handle;
  t.match(await b.request("unlock", { handle: hb, lkid: lock.lkid }), { status: DlmStatus.ENOENT }, "another process cannot unlock it");
  t.match(await b.request("lock", { handle: hb, mode: LKM.NL, flags: LKF.CONVERT, lkid: lock.lkid }), { status: DlmStatus.ENOENT }, "nor convert it");
  const refused = await b.request("lock", { handle: hb, mode: LKM.PR, flags: LKF.NOQUEUE, resource: b64("res") });
  await until(() => b.events.some((e) => e.lkid === refused.lkid));
  t.match(
    b.events.find((e) => e.lkid === refused.lkid),
    { status: DlmStatus.EAGAIN },
    "EX blocks PR",
  );

  const persistent = await a.request("lock", { handle: ha, mode: LKM.PR, flags: LKF.PERSISTENT, resource: b64("kept") });
  await until(() => a.events.some((e) => e.lkid === persistent.lkid));
  a.socket.destroy();
  await a.closed;
  await until(() => (service.host.joined("svc")?.engine.lockInfo() ?? []).every((l) => l.resource.length !== 3 || l.orphan));
  const granted = await b.request("lock", { handle: hb, mode: LKM.EX, flags: LKF.NOQUEUE, resource: b64("res") });
  await until(() => b.events.some((e) => e.lkid === granted.lkid));
  t.match(
    b.events.find((e) => e.lkid === granted.lkid),
    { status: 0 },
    "the exited process's EX is gone",
  );
  const locks = (await b.request("locks", { handle: hb })).locks as { lkid: number; orphan: boolean; pid: number }[];
  t.match(
    locks.find((l) => l.lkid === persistent.lkid),
    { orphan: true, pid: process.pid },
    "its PERSISTENT lock is an orphan, shown with the pid that held it",
  );
  const adopted = await b.request("lock", { handle: hb, mode: LKM.PR, flags: LKF.ORPHAN | LKF.PERSISTENT, resource: b64("kept") });
  t.equal(adopted.lkid, persistent.lkid, "adopted with the same lock id");

  t.match(await b.request("release", { handle: hb, force: false }), { status: DlmStatus.EBUSY }, "release with locks is EBUSY");
  t.match(await b.request("release", { handle: hb, force: true }), { status: 0 }, "force release leaves");
  t.match(await b.request("list"), { status: 0, lockspaces: [] });
  await until(() => set.anyList("svc") === undefined, 20_000);
  t.pass("the sanlock lockspace is gone too");
  b.socket.destroy();
});
