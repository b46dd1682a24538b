// Interop: the codec against the real sanlock 3.8.5. (1) Our requests and
// reply framing against the real daemon; (2) our request framing and reply
// encoding against the real CLI and Python binding, by serving them from a
// socket driven by MessageReader. Skipped when sanlock is not installed.
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, waitFor } from "../../../test/support/index.js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import {
  Cmd,
  DAEMON_VERSION_3_8_5,
  LsFlag,
  MessageReader,
  StateType,
  buildReply,
  buildRequest,
  encodeStateRecord,
  lockspace,
  type CmdNumber,
  type WireEvent,
  type WireRequest,
} from "../src/wire/index.js";

const HAVE_PYTHON = spawnSync("/usr/bin/python3", ["-c", "import sanlock"]).status === 0;
const STEP_TIMEOUT_MS = 10_000;

/** Sends `bytes` on a new connection and collects reply events until EOF or `done` says stop. */
function exchange(socketPath: string, expect: CmdNumber[], bytes: Uint8Array, done: (events: WireEvent[]) => boolean = () => false): Promise<WireEvent[]> {
  return new Promise((resolve, reject) => {
    const reader = new MessageReader({ side: "client" });
    for (const cmd of expect) reader.expectReply(cmd);
    const events: WireEvent[] = [];
    const sock = createConnection(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete answer within ${STEP_TIMEOUT_MS} ms; got ${events.map((e) => e.type).join(",")}`));
    }, STEP_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(events);
    };
    sock.on("connect", () => sock.write(bytes));
    sock.on("data", (chunk: Buffer) => {
      events.push(...reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
      if (done(events)) finish();
    });
    sock.on("end", () => {
      events.push(...reader.end());
      finish();
    });
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

t.test("against the real sanlock daemon", { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") }, async (t) => {
  // O_DIRECT needs a real file system: /var/tmp, not tmpfs.
  const dir = mkdtempSync("/var/tmp/wire-interop-");
  const runDir = join(dir, "run");
  let daemon: ChildProcess | null = spawn("sanlock", ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"], {
    env: { ...process.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir },
    stdio: "ignore",
  });
  t.teardown(() => {
    if (daemon && daemon.exitCode === null) daemon.kill("SIGKILL");
    daemon = null;
    rmSync(dir, { recursive: true, force: true });
  });
  const sockPath = join(runDir, "sanlock.sock");
  await waitFor(() => existsSync(sockPath), "the daemon socket");

  // VERSION, preceded on the same connection by a bad-magic header the daemon must ignore (docs/wire.md §5.4).
  const version = buildRequest(Cmd.VERSION, {});
  const badMagic = version.bytes.slice();
  badMagic[0] = 0;
  const v = await exchange(sockPath, [Cmd.VERSION], Uint8Array.from([...badMagic, ...version.bytes]), (e) => e.length > 0);
  t.match(v, [{ type: "reply", reply: { cmd: Cmd.VERSION, header: { version: 1, data: 0, data2: DAEMON_VERSION_3_8_5 } } }]);

  const none = await exchange(sockPath, [Cmd.GET_LOCKSPACES], buildRequest(Cmd.GET_LOCKSPACES, {}).bytes);
  t.match(none, [{ type: "reply", reply: { header: { data: 0, data2: 0 }, body: { lockspaces: [] } } }]);

  // WRITE_LOCKSPACE then READ_LOCKSPACE on a 1 MiB file: struct layout checked by the daemon's own I/O.
  const lease = join(dir, "ls.lease");
  writeFileSync(lease, "");
  truncateSync(lease, 1024 * 1024);
  const ls = lockspace("WIRE", { path: lease, flags: LsFlag.ALIGN1M | LsFlag.SECTOR512 });
  const write = await exchange(sockPath, [Cmd.WRITE_LOCKSPACE], buildRequest(Cmd.WRITE_LOCKSPACE, { lockspace: ls }, { data2: 10 }).bytes, (e) => e.length > 0);
  t.match(write, [{ type: "reply", reply: { header: { data: 0 } } }]);
  const read = await exchange(
    sockPath,
    [Cmd.READ_LOCKSPACE],
    buildRequest(Cmd.READ_LOCKSPACE, { lockspace: lockspace("", { path: lease }) }).bytes,
    (e) => e.length > 0,
  );
  t.match(read, [
    {
      type: "reply",
      reply: { header: { data: 0, data2: 10, length: 1136 }, body: { lockspace: { name: "WIRE", hostId: 1n, flags: 0x110, hostIdDisk: { path: lease } } } },
    },
  ]);

  // HOST_STATUS with the CLI's length 32 on an unknown lockspace: −ENOSPC, no records.
  const hs = await exchange(sockPath, [Cmd.HOST_STATUS], buildRequest(Cmd.HOST_STATUS, { lockspace: lockspace("NOPE") }, { length: 32 }).bytes);
  t.match(hs, [{ type: "reply", reply: { header: { data: -28 } } }]);
  t.equal(hs.length, 1, "no stream after an error");

  // STATUS: a record stream ended by EOF, daemon record first, our own connection listed.
  const status = await exchange(sockPath, [Cmd.STATUS], buildRequest(Cmd.STATUS, {}).bytes);
  t.equal(status[0]?.type, "reply");
  t.equal(status.at(-1)?.type, "stream-end");
  const records = status.flatMap((e) => (e.type === "record" ? [e.record] : []));
  t.equal(records[0]?.type, StateType.DAEMON);
  t.match(records[0]?.str, /version_str=3\.8\.5/);
  t.ok(
    records.some((r) => r.type === StateType.CLIENT && r.name === "status"),
    "the STATUS connection is listed",
  );
});

/** A fake daemon: frames requests with MessageReader and answers with `respond`. */
function fakeDaemon(socketPath: string, respond: (req: WireRequest, sock: Socket) => void): Promise<{ server: Server; seen: WireRequest[] }> {
  const seen: WireRequest[] = [];
  const server = createServer((sock) => {
    const reader = new MessageReader({ side: "daemon" });
    sock.on("data", (chunk: Buffer) => {
      for (const e of reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        if (e.type === "request") {
          seen.push(e.request);
          respond(e.request, sock);
        }
      }
    });
    sock.on("error", () => sock.destroy());
  });
  return new Promise((resolve) => server.listen(socketPath, () => resolve({ server, seen })));
}

t.test(
  "the real CLI and Python binding against our framing and replies",
  {
    skip: environmentSkip(
      !HAVE_REAL_SANLOCK ? "sanlock not installed" : !HAVE_PYTHON && "python3-sanlock (the sanlock module of /usr/bin/python3) is not installed",
    ),
  },
  async (t) => {
    const dir = mkdtempSync("/var/tmp/wire-fake-");
    const env = { ...process.env, SANLOCK_RUN_DIR: dir };
    const { server, seen } = await fakeDaemon(join(dir, "sanlock.sock"), (req, sock) => {
      switch (req.cmd) {
        case Cmd.HOST_STATUS: {
          sock.write(buildReply(req.header, Cmd.HOST_STATUS, 0, {}, { data2: req.header.data2 }).bytes);
          sock.end(encodeStateRecord({ type: StateType.HOST, flags: 0, data32: 1, data64: 1287n, name: "", str: "last_check=1308 timestamp=1287" }));
          break;
        }
        case Cmd.GET_LOCKSPACES: {
          const ls = lockspace("LS", { hostId: 1n, path: "/var/tmp/ls.lease", flags: LsFlag.ADD });
          sock.end(buildReply(req.header, Cmd.GET_LOCKSPACES, 0, { lockspaces: [ls] }, { data2: 1 }).bytes);
          break;
        }
        case Cmd.INQ_LOCKSPACE:
          sock.write(buildReply(req.header, Cmd.INQ_LOCKSPACE, -115, {}).bytes); // −EINPROGRESS → Python None
          break;
        default:
          sock.destroy();
      }
    });
    t.teardown(() => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const run = (cmd: string, args: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
        child.on("close", () => {
          clearTimeout(timer);
          resolve(out);
        });
        child.on("error", reject);
      });

    // CLI host_status: request framed despite length 32; our record stream printed.
    t.equal(await run("sanlock", ["client", "host_status", "-s", "LS"]), "1 timestamp 1287\n");
    const hs = seen.find((r) => r.cmd === Cmd.HOST_STATUS);
    t.equal(hs?.header.length, 32, "the CLI sent length 32");
    // Python get_lockspaces decodes our reply.
    const py = await run("/usr/bin/python3", ["-c", "import sanlock; print(sanlock.get_lockspaces())"]);
    t.match(py, /'lockspace': b?'LS'/);
    t.match(py, /'path': '\/var\/tmp\/ls\.lease'/);
    t.match(py, /'flags': 1/);
    // Python inq_lockspace: our request decoded with its path; −EINPROGRESS means None.
    const inq = await run("/usr/bin/python3", ["-c", "import sanlock; print(sanlock.inq_lockspace(b'LS', 3, '/var/tmp/x.lease', 4096))"]);
    t.equal(inq.trim(), "None");
    const inqReq = seen.find((r) => r.cmd === Cmd.INQ_LOCKSPACE);
    if (inqReq?.cmd !== Cmd.INQ_LOCKSPACE) throw new Error("no INQ_LOCKSPACE seen");
    t.match(inqReq.body.lockspace, { name: "LS", hostId: 3n, hostIdDisk: { path: "/var/tmp/x.lease", offset: 4096n } });
  },
);
