/**
 * The daemon's socket server driven by the REAL sanlock 3.8.5 clients (the `sanlock` CLI and
 * the Python binding), with answers compared to a real sanlock daemon's where they can be.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, PYTHON, tempLeaseDir, waitFor } from "../../../test/support/index.js";
import type { Test } from "tap";
import { Cmd, encodeHeader, lockspace, type SanlkLockspace } from "@sanlock-ts/client";
import { startDaemon, type RunningDaemon } from "../src/main.js";
import { DEFAULT_SETTINGS } from "../src/options.js";
import type { LockspaceHooks } from "../src/status.js";
import { createLeaseEngine, registerLeaseHandlers } from "../src/handlers/index.js";

/** A test double of the server's view of the engine: no lockspace at all. */
const NO_LOCKSPACES: LockspaceHooks = {
  count: () => 0,
  list: () => [],
  setConfig: () => -2, // −ENOENT: no such lockspace
  statusRecords: () => [],
  removeAll: async () => {},
  clientGone: () => {},
};

const OUR_HOST = "sanlock-ts-test-host";

/**
 * Our daemon in this process: with the lease engine as production runs it, or with `hooks`, a
 * test double of the server's view of the engine (then no lease command has a handler).
 */
async function startOurs(t: Test, hooks?: LockspaceHooks): Promise<{ dir: string; daemon: RunningDaemon }> {
  const dir = tempLeaseDir(t, "slts-");
  const daemon = await startDaemon({
    settings: { ...DEFAULT_SETTINGS, useWatchdog: false, socketUser: "root", socketGroup: "root", ourHostName: OUR_HOST },
    environment: { runDir: dir, privileged: false },
    ...(hooks !== undefined ? { lockspaces: hooks } : { lockspaces: (log) => createLeaseEngine({ log }), registerCommands: registerLeaseHandlers }),
  });
  t.teardown(async () => {
    await daemon.server.requestShutdown(true);
    await daemon.exited;
  });
  return { dir, daemon };
}

async function startReal(t: Test): Promise<string> {
  const dir = tempLeaseDir(t, "slts-");
  const child: ChildProcess = spawn("sanlock", ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", "-U", "root", "-G", "root"], {
    env: { ...process.env, SANLOCK_RUN_DIR: dir, SANLOCK_PRIVILEGED: "0" },
    stdio: "ignore",
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  await waitFor(() => existsSync(join(dir, "sanlock.sock")), "the real daemon's socket", 30_000);
  return dir;
}

interface Run {
  code: number;
  stdout: string;
}

/** Runs a real client program (never blocking our event loop, which serves it). */
function run(dir: string, file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, SANLOCK_RUN_DIR: dir }, timeout: 20_000 }, (error, stdout) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout });
    });
  });
}

const cli = (dir: string, ...args: string[]): Promise<Run> => run(dir, "sanlock", ["client", ...args]);
const python = (dir: string, code: string): Promise<Run> => run(dir, PYTHON, ["-c", code]);

/** Sends raw bytes, then collects what comes back until `bytes` arrived, EOF, or `ms` passed. */
function exchange(
  dir: string,
  request: Uint8Array,
  options: { bytes?: number; ms?: number; halfClose?: boolean } = {},
): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = createConnection(join(dir, "sanlock.sock"));
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(finish, options.ms ?? 2000);
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      if (options.bytes !== undefined && Buffer.concat(chunks).length >= options.bytes) finish();
    });
    socket.on("end", () => {
      closed = true;
      finish();
    });
    socket.on("error", finish);
    socket.write(request, () => {
      if (options.halfClose) socket.end();
    });
  });
}

function header(cmd: number, fields: { magic?: number; version?: number; data?: number; data2?: number; flags?: number; length?: number } = {}): Uint8Array {
  return encodeHeader({
    magic: fields.magic ?? 0x04282010,
    version: fields.version ?? 1,
    cmd,
    cmdFlags: fields.flags ?? 0,
    length: fields.length ?? 32,
    seq: 0,
    data: fields.data ?? 0,
    data2: fields.data2 ?? 0,
  });
}

const VERSION_REPLY = Buffer.from("10202804010000001c00000000000000200000000000000000000000" + "00050803", "hex");

function concat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}

t.test("socket and pid file in the run dir, socket mode srw-rw----", async (t) => {
  const { dir } = await startOurs(t);
  const socket = statSync(join(dir, "sanlock.sock"));
  t.ok(socket.isSocket());
  t.equal(socket.mode & 0o777, 0o660);
  t.equal(socket.uid, 0);
  t.ok(existsSync(join(dir, "sanlock.pid")));
});

t.test(
  "`sanlock client version` prints what it prints for the real daemon",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const { dir } = await startOurs(t);
    const ours = await cli(dir, "version");
    t.equal(
      ours.stdout,
      ["client version 3.8.5 (0x03080500)", "daemon version 3.8.5 (0x03080500)", "client socket protocol 0.1", "daemon socket protocol 0.1", ""].join("\n"),
    );
    const real = await cli(await startReal(t), "version");
    t.equal(ours.stdout, real.stdout);
    t.equal(ours.code, real.code);
  },
);

t.test(
  "`sanlock client status` lists daemon, helper, listener and itself like the real daemon",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const { dir } = await startOurs(t);
    const ours = await cli(dir, "status");
    t.equal(ours.code, 0);
    t.equal(ours.stdout, `daemon ${OUR_HOST}\np -1 helper\np -1 listener\np -1 status\n`);
    const real = await cli(await startReal(t), "status");
    const withoutDaemonLine = (s: string): string => s.split("\n").slice(1).join("\n");
    t.equal(withoutDaemonLine(ours.stdout), withoutDaemonLine(real.stdout));
    const detailed = await cli(dir, "status", "-D");
    t.match(detailed.stdout, /\n {4}version_str=3\.8\.5\n {4}version_num=3\.8\.5\n {4}version_hex=03080500\n {4}smproto_hex=00000001\n/);
    t.match(detailed.stdout, /p -1 listener\n {4}ci=1\n/);
  },
);

t.test(
  "python register(): the registered client shows with its pid (SO_PEERCRED)",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const { dir } = await startOurs(t);
    const script = [
      "import os, subprocess, sanlock",
      "fd = sanlock.register()",
      "print(os.getpid())",
      "print(subprocess.run(['sanlock', 'client', 'status'], capture_output=True, text=True).stdout, end='')",
    ].join("\n");
    const out = await python(dir, script);
    t.equal(out.code, 0);
    const [pid, ...status] = out.stdout.split("\n");
    t.ok(Number(pid) > 0);
    t.equal(status.join("\n"), `daemon ${OUR_HOST}\np -1 helper\np -1 listener\np ${pid} ${pid}\np -1 status\n`);
    await waitFor(() => true, "noop");
    const after = await cli(dir, "status");
    t.notMatch(after.stdout, new RegExp(`p ${pid} `), "the client is gone once its process exited");
  },
);

/** Calls of the Python binding whose answers depend only on the daemon having no lockspace. */
const PYTHON_CALLS = `
import os, sanlock
fd = sanlock.register()
print(sanlock.inquire(slkfd=fd))
print(sanlock.get_lockspaces())
print(sanlock.inq_lockspace(b"LS", 1, "/x"))
calls = [
  lambda: sanlock.acquire(b"LS", b"R", [("/x", 0)], slkfd=fd),
  lambda: sanlock.release(b"LS", b"R", [("/x", 0)], slkfd=fd),
  lambda: sanlock.get_hosts(b"LS"),
  lambda: sanlock.rem_lockspace(b"LS", 1, "/x"),
  lambda: sanlock.set_event(b"LS", 1, 0, 1),
  lambda: sanlock.reg_event(b"LS"),
  lambda: sanlock.inquire(pid=1),
  lambda: sanlock.get_lvb(b"LS", b"R", [("/x", 0)], 10),
  lambda: sanlock.set_lvb(b"LS", b"R", [("/x", 0)], b"abc"),
  lambda: sanlock.request(b"LS", b"R", [("/x", 0)]),
  lambda: sanlock.killpath("/bin/true", ["a"], slkfd=fd),
  lambda: sanlock.inquire(pid=os.getpid()),
  lambda: sanlock.add_lockspace(b"", 1, "/x"),
  lambda: sanlock.end_event(sanlock.register(), b"LS"),
  lambda: sanlock.acquire(b"LS", b"R", [("/x", 0)], pid=1),
]
for call in calls:
    try:
        print("ok", call())
    except sanlock.SanlockException as e:
        print("error", e.errno, e)
`;

const CLI_CALLS = [
  ["host_status", "-s", "LS"],
  ["renewal", "-s", "LS"],
  ["set_config", "-s", "LS", "-u", "1"],
  ["examine", "-s", "LS:1:/x:0"],
  ["examine", "-r", "LS:R:/x:0"],
  ["gets"],
  ["host_status"],
  ["inquire", "-p", "1"],
  ["release", "-r", "LS:R:/x:0", "-p", "1"],
  ["convert", "-r", "LS:R:/x:0", "-p", "1"],
  ["shutdown", "-w", "1"],
];

t.test(
  "Python binding and CLI get the same answers as from a real daemon without lockspaces",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const { dir, daemon } = await startOurs(t);
    const realDir = await startReal(t);
    const ours = await python(dir, PYTHON_CALLS);
    const real = await python(realDir, PYTHON_CALLS);
    t.equal(ours.code, 0);
    t.equal(ours.stdout, real.stdout);
    for (const args of CLI_CALLS) {
      // SHUTDOWN_WAIT would be answered −EBUSY with lockspaces; here both daemons exit.
      const [o, r] = [await cli(dir, ...args), await cli(realDir, ...args)];
      t.same(o, r, args.join(" "));
    }
    await daemon.exited;
  },
);

t.test(
  "malformed input (wire.md §5.4), byte for byte as the real daemon answers",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const { dir } = await startOurs(t);
    const realDir = await startReal(t);
    const cases: [string, Uint8Array, { bytes?: number; ms?: number; halfClose?: boolean }][] = [
      ["bad magic is dropped, the next header is answered", concat(header(Cmd.VERSION, { magic: 0x12345678 }), header(Cmd.VERSION)), { bytes: 32 }],
      ["unknown command 41 is dropped", concat(header(41), header(Cmd.VERSION)), { bytes: 32 }],
      ["command 0 is dropped", concat(header(0), header(Cmd.VERSION)), { bytes: 32 }],
      [
        "protocol major 2 is ignored except for VERSION",
        concat(header(Cmd.STATUS, { version: 0x20001 }), header(Cmd.VERSION, { version: 0x20001 })),
        { bytes: 32 },
      ],
      ["a payload cut short is answered -ENOTCONN", concat(header(Cmd.SET_CONFIG, { length: 32 + 1104 }), new Uint8Array(100)), { halfClose: true }],
      ["ACQUIRE of 9 resources for an unknown pid: -ESRCH first", header(Cmd.ACQUIRE, { data: 9, data2: 1 }), { bytes: 32, ms: 1000 }],
      ["ACQUIRE of 9 resources, self, unregistered: -EBUSY", header(Cmd.ACQUIRE, { data: 9, data2: -1 }), { bytes: 32, ms: 1000 }],
      ["ACQUIRE of 9 resources, self, registered: -E2BIG", concat(header(Cmd.REGISTER), header(Cmd.ACQUIRE, { data: 9, data2: -1 })), { bytes: 32, ms: 1000 }],
      ["RELEASE by pid of an unregistered pid: -ESRCH", concat(header(Cmd.RELEASE, { data: 1, data2: 1, length: 160 }), new Uint8Array(128)), { bytes: 32 }],
      ["INQUIRE self on an unregistered connection: -EBUSY", header(Cmd.INQUIRE, { data2: -1 }), { bytes: 32 }],
      ["resource with num_disks 0: -ERANGE", concat(header(Cmd.REQUEST, { length: 160 }), new Uint8Array(128)), { bytes: 32 }],
    ];
    for (const [name, request, options] of cases) {
      const ours = await exchange(dir, request, options);
      const real = await exchange(realDir, request, options);
      t.equal(ours.reply.toString("hex"), real.reply.toString("hex"), name);
    }
    const version = await exchange(dir, concat(header(0), header(Cmd.VERSION)), { bytes: 32 });
    t.equal(version.reply.toString("hex"), VERSION_REPLY.toString("hex"), "VERSION reply as recorded in wire.md §12.12");
  },
);

t.test("RESTRICT_ALL: every later request on that connection is ignored", async (t) => {
  const { dir } = await startOurs(t);
  const restricted = await exchange(dir, concat(header(Cmd.RESTRICT, { flags: 1, data2: -1 }), header(Cmd.VERSION)), { ms: 500 });
  t.equal(restricted.reply.length, 32, "only the RESTRICT reply");
  t.equal(restricted.reply.readInt32LE(24), 0);
  t.equal(restricted.reply.readUInt32LE(8), Cmd.RESTRICT);
});

t.test("garbage never stops the daemon", async (t) => {
  const { dir } = await startOurs(t);
  await exchange(dir, new Uint8Array(4096).fill(0xff), { ms: 200 });
  await exchange(dir, concat(header(Cmd.ACQUIRE, { data: 1, data2: -1 }), new Uint8Array(128).fill(7)), { ms: 200, halfClose: true });
  const version = await exchange(dir, header(Cmd.VERSION), { bytes: 32 });
  t.equal(version.reply.toString("hex"), VERSION_REPLY.toString("hex"));
});

t.test(
  "LOG_DUMP returns the daemon log (CLI exits 1 even on success, as with sanlock)",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const { dir } = await startOurs(t);
    const dump = await cli(dir, "log_dump");
    t.match(dump.stdout, /sanlock daemon started 3\.8\.5 host sanlock-ts-test-host/);
    t.match(dump.stdout, /Running in unprivileged mode/);
    t.equal(dump.code, 1);
  },
);

t.test("SHUTDOWN_WAIT is answered with cmd 0 just before the daemon exits", async (t) => {
  const { dir, daemon } = await startOurs(t);
  const reply = await exchange(dir, header(Cmd.SHUTDOWN_WAIT), { bytes: 32 });
  t.equal(reply.reply.toString("hex"), "1020280401000000000000000000000020000000000000000000000000000000");
  await daemon.exited;
  t.ok(existsSync(join(dir, "sanlock.pid")), "the pid file stays");
});

t.test("`sanlock client shutdown` stops the daemon", { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") }, async (t) => {
  const { dir, daemon } = await startOurs(t);
  const out = await cli(dir, "shutdown");
  t.equal(out.stdout, "shutdown force 0 wait 0\nshutdown done 0\n");
  await daemon.exited;
  t.ok(statSync(join(dir, "sanlock.sock")).isSocket(), "the socket file is left behind, as by sanlock");
  const again = await cli(dir, "status");
  t.equal(again.code, 1, "nobody answers any more");
});

/** A lockspace engine stand-in: one active lockspace. */
function oneLockspace(): LockspaceHooks & { configs: [string, number][] } {
  const configs: [string, number][] = [];
  const ls: SanlkLockspace = lockspace("LS", { hostId: 1n, path: "/var/tmp/ls.lease", offset: 0n });
  return {
    ...NO_LOCKSPACES,
    configs,
    count: () => 1,
    list: () => [ls],
    setConfig: (name, command) => {
      configs.push([name, command]);
      return name === "LS" ? 0 : -2;
    },
  };
}

t.test(
  "lockspace hooks: gets, set_config, and shutdown refused while a lockspace exists",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") },
  async (t) => {
    const hooks = oneLockspace();
    const { dir, daemon } = await startOurs(t, hooks);
    const gets = await cli(dir, "gets");
    t.equal(gets.stdout, "s LS:1:/var/tmp/ls.lease:0 \n");
    const py = await python(dir, "import sanlock; print(sanlock.get_lockspaces())");
    t.equal(py.stdout, "[{'lockspace': b'LS', 'host_id': 1, 'path': '/var/tmp/ls.lease', 'offset': 0, 'flags': 0}]\n");
    const config = await cli(dir, "set_config", "-s", "LS", "-u", "1");
    t.equal(config.stdout, "set_config LS 1\nset_config done 0\n");
    t.same(hooks.configs, [["LS", 1]]);
    const wait = await cli(dir, "shutdown", "-w", "1");
    t.equal(wait.stdout, "shutdown force 0 wait 1\nshutdown done -16\n", "SHUTDOWN_WAIT: -EBUSY");
    await cli(dir, "shutdown");
    const stillThere = await cli(dir, "version");
    t.match(stillThere.stdout, /daemon version 3\.8\.5/, "plain SHUTDOWN is ignored while a lockspace exists");
    t.equal(daemon.server.shuttingDown, false);
  },
);

t.test("a command module can replace a stub through the registry", { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed") }, async (t) => {
  const { dir, daemon } = await startOurs(t);
  daemon.server.registry.register(Cmd.INQ_LOCKSPACE, async (ctx) => {
    await ctx.reply(ctx.body.lockspace.name === "LS" ? 0 : -2);
  });
  const out = await python(dir, "import sanlock; print(sanlock.inq_lockspace(b'LS', 1, '/x'), sanlock.inq_lockspace(b'LT', 1, '/x'))");
  t.equal(out.stdout, "True False\n");
});
