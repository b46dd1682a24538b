// Who may release, convert, inquire or acquire another process's leases (issue 14 item 7, part A),
// through python3-sanlock (libsanlock for restrict and convert, which the binding lacks), on the
// real sanlock 3.8.5 daemon (the reference) and on sanlock-ts, with the same expectations.
//
// What sanlock 3.8.5 checks (main.c process_connection / process_cmd_thread_registered, cmd.c):
//
// - ACQUIRE, RELEASE, INQUIRE, CONVERT (and KILLPATH) act on a target client: data2 = -1 is the
//   request's own connection, which must be registered (pid > 0, else -EBUSY); any other data2
//   is a pid, and the target is the first client whose registered pid it is (none: -ESRCH).
//   Nothing else is checked about the requester: an unregistered connection, another
//   registered process, or a process of another uid may act on any registered pid. The socket's
//   mode (socket-permissions.test.ts) is the whole access control; SO_PEERCRED is read only for
//   REGISTER's pid, never a uid.
// - A registered connection acting for itself (slkfd) sees only its own tokens: releasing or
//   converting a lease another process holds fails (-1 / -ENOENT), inquire lists its own.
// - RESTRICT replaces the connection's restriction bits. RESTRICT_ALL: every later request on
//   that connection is dropped without a reply; requests by its pid from other connections
//   still work. RESTRICT_SIGKILL / RESTRICT_SIGTERM change signals only, and for a REQUEST's
//   force mode they are the bits the holder had when it acquired the lease (token flags copied
//   into the resource): FORCE sends SIGKILL, SIGTERM if SIGKILL was restricted; GRACEFUL (no
//   killpath) sends SIGTERM, SIGKILL if SIGTERM was restricted. Killing the holders of a lockspace
//   being removed uses the connection's bits as they are then (kill_pids): SIGKILL, SIGTERM if
//   SIGKILL is restricted, and back to SIGKILL if SIGTERM is restricted too.
import t, { type Test } from "tap";
import { execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import { Cmd, HEADER_SIZE, WIRE_MAGIC, decodeHeader, encodeHeader } from "../packages/core/src/wire/index.js";
import { type DaemonKind, daemonSkipReason, environmentSkip, sparseFile, startDaemon, tempLeaseDir, type TestDaemon } from "./support/index.js";

const PYTHON = "/usr/bin/python3";
const MiB = 1 << 20;
const LS = "OWNLS";
const RES_SHARED = 0x4;
const RESTRICT_ALL = 0x1;
const RESTRICT_SIGKILL = 0x2;
const RESTRICT_SIGTERM = 0x4;
const EPERM = 1;
const ESRCH = 3;
const ENOENT = 2;
const EBUSY = 16;
const EEXIST = 17;

const havePythonSanlock = spawnSync(PYTHON, ["-c", "import sanlock, ctypes; ctypes.CDLL('libsanlock.so.1')"]).status === 0;
const nobody = Number(spawnSync("id", ["-u", "nobody"], { encoding: "utf8" }).stdout.trim());
const pythonSkip = environmentSkip(
  (!havePythonSanlock && "python3-sanlock (and libsanlock.so.1) is not installed") ||
    (process.getuid?.() !== 0 && "the test must run as root (a client of another uid)") ||
    (!Number.isInteger(nobody) && "the user nobody does not exist"),
);

/**
 * A client process: one JSON request per stdin line, one JSON answer per stdout line. "register"
 * keeps the registered fd; every other op acts with slkfd=fd, or with pid= when given. An op
 * that gets no reply within `wait` seconds answers {"noreply": true} (it runs in a thread).
 */
const AGENT = String.raw`
import ctypes, json, os, signal, sys, threading, sanlock
lib = ctypes.CDLL("libsanlock.so.1")
class Res(ctypes.Structure):
    _fields_ = [("lockspace_name", ctypes.c_char * 48), ("name", ctypes.c_char * 48), ("lver", ctypes.c_uint64),
                ("data64", ctypes.c_uint64), ("data32", ctypes.c_uint32), ("unused", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("num_disks", ctypes.c_uint32)]
LS = os.environ["OWN_LS"].encode()
LS_PATH = os.environ["OWN_LS_PATH"]
DISKS = json.loads(os.environ["OWN_DISKS"])
fd = -1
out_lock = threading.Lock()
def say(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()
def on_sigterm(signum, frame):
    say({"signal": "SIGTERM"})
signal.signal(signal.SIGTERM, on_sigterm)
def who(req):
    return {"pid": req["pid"]} if "pid" in req else {"slkfd": fd}
def disks(name):
    return [(DISKS[name], 0)]
def c_call(rv):
    if rv < 0:
        raise sanlock.SanlockException(-rv, "libsanlock", os.strerror(-rv))
def run(req):
    global fd
    op = req["op"]
    if op == "register":
        fd = sanlock.register(); return {}
    if op == "acquire":
        ls = req["ls"].encode() if "ls" in req else LS
        sanlock.acquire(ls, req["res"].encode(), disks(req["res"]), shared=req.get("shared", False), **who(req)); return {}
    if op == "release":
        sanlock.release(LS, req["res"].encode(), disks(req["res"]), **who(req)); return {}
    if op == "inquire":
        held = sanlock.inquire(**who(req))
        return {"held": sorted(r["resource"].decode() + (":SH" if r["flags"] & sanlock.RES_SHARED else "") for r in held)}
    if op == "restrict":
        c_call(lib.sanlock_restrict(fd, req["flags"])); return {}
    if op == "convert":
        res = Res(lockspace_name=LS, name=req["res"].encode(), flags=req.get("flags", 0))
        sock, pid = (-1, req["pid"]) if "pid" in req else (fd, -1)
        c_call(lib.sanlock_convert(sock, pid, 0, ctypes.byref(res))); return {}
    if op == "rem_lockspace":
        sanlock.rem_lockspace(LS, 1, LS_PATH, wait=False); return {}
    if op == "killpath":
        sanlock.killpath(req["path"].encode(), [a.encode() for a in req["args"]], slkfd=fd); return {}
    if op == "request":
        sanlock.request(LS, req["res"].encode(), disks(req["res"]), action=req["action"]); return {}
    raise ValueError(op)
def answer(req):
    try:
        reply = run(req); reply["ok"] = True
    except sanlock.SanlockException as e:
        reply = {"ok": False, "errno": e.errno}
    reply["id"] = req["id"]
    say(reply)
say({"pid": os.getpid()})
for line in sys.stdin:
    req = json.loads(line)
    th = threading.Thread(target=answer, args=(req,), daemon=True)
    th.start()
    th.join(req.get("wait", 60))
    if th.is_alive():
        say({"id": req["id"], "noreply": True})
`;

interface Answer {
  id: number;
  ok?: boolean;
  errno?: number;
  held?: string[];
  noreply?: boolean;
  pid?: number;
  signal?: string;
}

class Agent {
  readonly lines: Answer[] = [];
  pid = 0;
  private nextId = 1;
  private waiters: (() => void)[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child;

  constructor(
    t: Test,
    setup: SetUp,
    readonly label: string,
    ids?: { uid: number; gid: number },
  ) {
    this.child = spawn(PYTHON, ["-u", "-c", AGENT], {
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        SANLOCK_RUN_DIR: setup.daemon.runDir,
        OWN_LS: setup.ls,
        OWN_LS_PATH: setup.lsPath,
        OWN_DISKS: JSON.stringify(setup.disks),
      },
      stdio: ["pipe", "pipe", "inherit"],
      cwd: "/",
      ...(ids ?? {}),
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    this.child.stdin.on("error", () => undefined); // a killed agent: its answer never comes, until() says so
    let rest = "";
    this.child.stdout.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split("\n");
      rest = parts.pop() ?? "";
      for (const part of parts) if (part.trim() !== "") this.lines.push(JSON.parse(part) as Answer);
      for (const wake of this.waiters.splice(0)) wake();
    });
    t.teardown(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
      return this.exited;
    });
  }

  async started(): Promise<this> {
    this.pid = (await this.until((a) => a.pid !== undefined, 30_000, "start")).pid!;
    return this;
  }

  /** Waits for a line matching `match`; rejects after `ms`. */
  until(match: (a: Answer) => boolean, ms: number, what: string): Promise<Answer> {
    const deadline = Date.now() + ms;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(match);
        if (found !== undefined) return resolve(found);
        if (Date.now() > deadline) return reject(new Error(`${this.label}: no ${what} within ${ms} ms; got ${JSON.stringify(this.lines)}`));
        this.waiters.push(check);
        setTimeout(check, 200);
      };
      check();
    });
  }

  async call(req: Record<string, unknown>): Promise<Answer> {
    const id = this.nextId++;
    this.child.stdin.write(`${JSON.stringify({ ...req, id })}\n`);
    return this.until((a) => a.id === id, 90_000, `answer to ${JSON.stringify(req)}`);
  }

  /** The operation's outcome: "ok", "errno N" or "no reply". */
  async outcome(req: Record<string, unknown>): Promise<string> {
    const a = await this.call(req);
    return a.noreply ? "no reply" : a.ok ? "ok" : `errno ${a.errno}`;
  }

  async held(pid?: number): Promise<string[] | string> {
    const a = await this.call(pid === undefined ? { op: "inquire" } : { op: "inquire", pid });
    return a.ok ? (a.held ?? []) : `errno ${a.errno}`;
  }
}

/** Sends a header-only class D request with data2 = -1 on a fresh, unregistered connection; resolves to the reply's result. */
function unregisteredSelf(daemon: TestDaemon, cmd: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path: daemon.socketPath });
    let got = Buffer.alloc(0);
    sock.setTimeout(30_000, () => {
      sock.destroy();
      reject(new Error("no reply"));
    });
    sock.on("connect", () => sock.write(encodeHeader({ magic: WIRE_MAGIC, version: 0, cmd, cmdFlags: 0, length: HEADER_SIZE, seq: 1, data: 0, data2: -1 })));
    sock.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= HEADER_SIZE) {
        sock.destroy();
        resolve(decodeHeader(new Uint8Array(got.subarray(0, HEADER_SIZE))).data);
      }
    });
    sock.on("error", reject);
  });
}

function sanlockCli(daemon: TestDaemon, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile("sanlock", ["client", ...args], { env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve(`${error ? "failed " : ""}${stdout}${stderr}`),
    );
  });
}

interface SetUp {
  daemon: TestDaemon;
  ls: string;
  lsPath: string;
  disks: Record<string, string>;
}

async function runPython(daemon: TestDaemon, code: string): Promise<string> {
  return new Promise<string>((resolve) => {
    execFile(PYTHON, ["-c", code], { env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir }, timeout: 120_000 }, (error, _stdout, stderr) =>
      resolve(error ? `failed: ${stderr}` : "ok"),
    );
  });
}

async function setUp(t: Test, kind: DaemonKind, names: readonly string[], ls = LS): Promise<SetUp> {
  const dir = tempLeaseDir(t, "ownership-");
  const daemon = await startDaemon(t, { kind, label: `${kind} daemon`, dir });
  // The socket is root:root 0660 (-U root -G root); a uid-nobody, gid-root client must reach it.
  chmodSync(dirname(daemon.runDir), 0o755);
  chmodSync(daemon.runDir, 0o775);
  const lsPath = sparseFile(dir, "lockspace", MiB);
  const disks: Record<string, string> = {};
  for (const name of names) disks[name] = sparseFile(dir, name, MiB);
  const setup = [
    "import sanlock, sys, json",
    `sanlock.write_lockspace(b"${ls}", "${lsPath}", iotimeout=1)`,
    `sanlock.add_lockspace(b"${ls}", 1, "${lsPath}", iotimeout=1)`,
    ...names.map((n) => `sanlock.write_resource(b"${ls}", b"${n}", [("${disks[n]}", 0)])`),
  ].join("\n");
  const result = await runPython(daemon, setup);
  if (result !== "ok") throw new Error(`${kind}: lockspace set-up ${result}`);
  return { daemon, ls, lsPath, disks };
}

async function byPidRules(t: Test, kind: DaemonKind): Promise<void> {
  const setup = await setUp(t, kind, ["R1", "R2", "R3"]);
  const { daemon } = setup;
  const a = await new Agent(t, setup, "A (registered holder)").started();
  const b = await new Agent(t, setup, "B (another registered process)").started();
  const c = await new Agent(t, setup, "C (never registers)").started();
  const u = await new Agent(t, setup, "U (uid nobody, gid root)", { uid: nobody, gid: 0 }).started();
  t.equal(await a.outcome({ op: "register" }), "ok", "A registers");
  t.equal(await b.outcome({ op: "register" }), "ok", "B registers");
  t.equal(await a.outcome({ op: "acquire", res: "R1" }), "ok", "A acquires R1 on its own connection");

  // Inquire by pid: any connection may look at any registered pid.
  t.same(await c.held(a.pid), ["R1"], "an unregistered connection inquires A by pid");
  t.same(await u.held(a.pid), ["R1"], "a process of another uid inquires A by pid");
  t.same(await c.held(c.pid), `errno ${ESRCH}`, "a pid that never registered: ESRCH");
  t.same(await b.held(), [], "B's own inquire lists only B's leases");

  // Acting through one's own registration touches only one's own tokens.
  t.equal(await b.outcome({ op: "release", res: "R1" }), `errno ${EPERM}`, "B cannot release A's R1 on B's own connection (not B's token)");
  t.equal(await b.outcome({ op: "convert", res: "R1", flags: RES_SHARED }), `errno ${ENOENT}`, "nor convert it (ENOENT)");
  t.equal(await b.outcome({ op: "acquire", res: "R1" }), `errno ${EEXIST}`, "nor acquire it: A holds it on this host (EEXIST)");
  // python3-sanlock refuses slkfd=-1 without a pid itself; the daemon's answer, on the wire:
  t.equal(await unregisteredSelf(daemon, Cmd.INQUIRE), -EBUSY, "an unregistered connection acting as itself (data2 -1): EBUSY (no pid)");

  // By pid: sanlock lets any connection act for a registered pid.
  t.equal(await b.outcome({ op: "convert", res: "R1", flags: RES_SHARED, pid: a.pid }), "ok", "B converts A's R1 to shared by pid");
  t.same(await a.held(), ["R1:SH"], "A now holds R1 shared");
  t.equal(await c.outcome({ op: "convert", res: "R1", pid: a.pid }), "ok", "C (unregistered) converts it back to exclusive by pid");
  t.same(await a.held(), ["R1"], "A holds R1 exclusive again");
  t.equal(await c.outcome({ op: "release", res: "R2", pid: a.pid }), `errno ${EPERM}`, "releasing by pid a lease the target does not hold fails");
  t.equal(await c.outcome({ op: "release", res: "R1", pid: a.pid }), "ok", "C (unregistered) releases A's R1 by pid");
  t.same(await a.held(), [], "A no longer holds R1");
  t.equal(await b.outcome({ op: "acquire", res: "R1" }), "ok", "so B can take it");
  t.equal(await b.outcome({ op: "release", res: "R1" }), "ok", "and B releases it");

  // Another uid: no uid check anywhere.
  t.equal(await u.outcome({ op: "acquire", res: "R2", pid: a.pid }), "ok", "uid nobody acquires R2 for A (root's process) by pid");
  t.same(await a.held(), ["R2"], "A holds R2, acquired on its behalf");
  t.equal(await u.outcome({ op: "release", res: "R2", pid: a.pid }), "ok", "uid nobody releases A's R2 by pid");
  t.same(await a.held(), [], "A holds nothing");
  t.equal(await c.outcome({ op: "acquire", res: "R3", pid: c.pid }), `errno ${ESRCH}`, "acquire for an unregistered pid: ESRCH");

  // RESTRICT_ALL: A's own connection is ignored; others still act by A's pid.
  t.equal(await a.outcome({ op: "acquire", res: "R3" }), "ok", "A acquires R3");
  t.equal(await a.outcome({ op: "restrict", flags: RESTRICT_ALL }), "ok", "A restricts its connection (RESTRICT_ALL)");
  t.equal(await a.outcome({ op: "inquire", wait: 2 }), "no reply", "A's next request on that connection gets no reply");
  t.same(await b.held(a.pid), ["R3"], "B still inquires A by pid");
  t.equal(await b.outcome({ op: "release", res: "R3", pid: a.pid }), "ok", "and releases A's R3 by pid");
  t.same(await c.held(a.pid), [], "A holds nothing");
}

/** A killpath program that writes its arguments to `marker` (written next to the lease files). */
function writeKillpathScript(dir: string, marker: string): string {
  const path = `${dir}/killpath.sh`;
  writeFileSync(path, `#!/bin/sh\necho "$@" > ${marker}.tmp && mv ${marker}.tmp ${marker}\n`, { mode: 0o755 });
  return path;
}

async function waitForFile(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A REQUEST's force mode against a holder, with the restrict bits it had at acquire time. */
async function requestSignals(t: Test, kind: DaemonKind): Promise<void> {
  const cases = [
    { name: "Q1", restrict: 0, before: true, action: "REQ_FORCE", expect: "SIGKILL" },
    { name: "Q2", restrict: RESTRICT_SIGKILL, before: true, action: "REQ_FORCE", expect: "SIGTERM" },
    { name: "Q3", restrict: RESTRICT_SIGTERM, before: true, action: "REQ_GRACEFUL", expect: "SIGKILL" },
    // The bits are taken at acquire: restricting afterwards does not change what a request sends.
    { name: "Q4", restrict: RESTRICT_SIGKILL, before: false, action: "REQ_FORCE", expect: "SIGKILL" },
    // GRACEFUL with a killpath set before the acquire runs the killpath (its args, no pid) instead of a signal.
    { name: "Q5", restrict: 0, before: true, action: "REQ_GRACEFUL", expect: "killpath", killpath: true },
  ];
  const setup = await setUp(
    t,
    kind,
    cases.map((c) => c.name),
  );
  const { daemon, disks } = setup;
  const requester = await new Agent(t, setup, "requester").started();
  for (const c of cases) {
    await t.test(`${c.name}: restrict ${c.restrict} ${c.before ? "before" : "after"} acquire, ${c.action} → ${c.expect}`, async (t) => {
      const holder = await new Agent(t, setup, `holder ${c.name}`).started();
      t.equal(await holder.outcome({ op: "register" }), "ok", "holder registers");
      const marker = `${dirname(setup.lsPath)}/killpath-${c.name}`;
      if (c.killpath) {
        const script = writeKillpathScript(dirname(setup.lsPath), marker);
        t.equal(await holder.outcome({ op: "killpath", path: script, args: ["graceful", c.name] }), "ok", "sets a killpath");
      }
      if (c.before && c.restrict) t.equal(await holder.outcome({ op: "restrict", flags: c.restrict }), "ok", "restricts");
      t.equal(await holder.outcome({ op: "acquire", res: c.name }), "ok", "acquires");
      if (!c.before && c.restrict) t.equal(await holder.outcome({ op: "restrict", flags: c.restrict }), "ok", "restricts after");
      const action = c.action === "REQ_FORCE" ? 1 : 2;
      t.equal(await requester.outcome({ op: "request", res: c.name, action }), "ok", "request written");
      // The owner side looks at request records on EXAMINE (or when another host's bitmap names it).
      await sanlockCli(daemon, ["examine", "-r", `${LS}:${c.name}:${disks[c.name]}:0`]);
      const got = await Promise.race([
        holder.exited.then((s) => s.signal ?? `exit ${s.code}`),
        holder.until((a) => a.signal !== undefined, 60_000, "a signal").then((a) => a.signal!),
        ...(c.killpath ? [waitForFile(marker, 60_000).then(() => "killpath")] : []),
      ]);
      t.equal(got, c.expect, `the holder gets ${c.expect}`);
      if (c.killpath) {
        t.equal(readFileSync(marker, "utf8").trim(), `graceful ${c.name}`, "the killpath ran with its args and no pid");
        t.notOk(
          holder.lines.some((a) => a.signal !== undefined),
          "the holder got no signal",
        );
      }
    });
  }
}

/**
 * Removing a lockspace kills the pids holding leases in it: SIGKILL (external remove, main.c
 * kill_pids), swapped by the connection's RESTRICT bits as they are now (cl->restricted), not as
 * they were at acquire: SIGKILL restricted → SIGTERM; then SIGTERM restricted → SIGKILL.
 */
async function removalSignals(t: Test, kind: DaemonKind): Promise<void> {
  const cases = [
    { ls: "RMLS1", restrict: 0, expect: "SIGKILL" },
    { ls: "RMLS2", restrict: RESTRICT_SIGKILL, expect: "SIGTERM" },
    { ls: "RMLS3", restrict: RESTRICT_SIGKILL | RESTRICT_SIGTERM, expect: "SIGKILL" },
  ];
  for (const c of cases) {
    await t.test(`${c.ls}: restrict ${c.restrict} after acquire, rem_lockspace → ${c.expect}`, async (t) => {
      const setup = await setUp(t, kind, ["RM"], c.ls);
      const holder = await new Agent(t, setup, "holder").started();
      const remover = await new Agent(t, setup, "remover").started();
      t.equal(await holder.outcome({ op: "register" }), "ok", "holder registers");
      t.equal(await holder.outcome({ op: "acquire", res: "RM" }), "ok", "acquires");
      if (c.restrict) t.equal(await holder.outcome({ op: "restrict", flags: c.restrict }), "ok", "restricts after acquiring");
      t.equal(await remover.outcome({ op: "rem_lockspace" }), "ok", "rem_lockspace (no wait)");
      const got = await Promise.race([
        holder.exited.then((s) => s.signal ?? `exit ${s.code}`),
        holder.until((a) => a.signal !== undefined, 60_000, "a signal").then((a) => a.signal!),
      ]);
      t.equal(got, c.expect, `the holder gets ${c.expect}`);
    });
  }
}

/**
 * A client being killed (kill_count > 0) may not acquire, by itself or through its pid, in any
 * lockspace (-EBUSY, process_cmd_thread_registered), while inquire and release still work ("we
 * want killpath to be able to inquire and release for it"); releasing its last lease clears the
 * kill state (cmd_release), after which it may acquire again.
 */
async function acquireWhileKilled(t: Test, kind: DaemonKind): Promise<void> {
  const setup = await setUp(t, kind, ["RA", "RB"], "KILLA");
  const other = sparseFile(dirname(setup.lsPath), "lockspace-b", MiB);
  const added = await runPython(
    setup.daemon,
    [
      "import sanlock",
      `sanlock.write_lockspace(b"KILLB", "${other}", iotimeout=1)`,
      `sanlock.add_lockspace(b"KILLB", 1, "${other}", iotimeout=1)`,
      `sanlock.write_resource(b"KILLB", b"RB", [("${setup.disks["RB"]}", 0)])`,
    ].join("\n"),
  );
  t.equal(added, "ok", "a second lockspace KILLB with resource RB");
  const holder = await new Agent(t, setup, "holder").started();
  const other_ = await new Agent(t, setup, "other").started();
  t.equal(await holder.outcome({ op: "register" }), "ok", "holder registers");
  t.equal(await holder.outcome({ op: "restrict", flags: RESTRICT_SIGKILL }), "ok", "restricts SIGKILL (so SIGTERM, which it survives)");
  t.equal(await holder.outcome({ op: "acquire", res: "RA" }), "ok", "acquires RA in KILLA");
  t.equal(await other_.outcome({ op: "rem_lockspace" }), "ok", "KILLA is removed (no wait)");
  await holder.until((a) => a.signal === "SIGTERM", 60_000, "SIGTERM");
  t.pass("the holder got SIGTERM and lives on");
  t.equal(await other_.outcome({ op: "acquire", res: "RB", ls: "KILLB", pid: holder.pid }), `errno ${EBUSY}`, "acquire by its pid, other lockspace: EBUSY");
  t.equal(await holder.outcome({ op: "acquire", res: "RB", ls: "KILLB" }), `errno ${EBUSY}`, "acquire by itself: EBUSY");
  t.same(await other_.held(holder.pid), ["RA"], "inquire by its pid still works");
  t.equal(await other_.outcome({ op: "release", res: "RA", pid: holder.pid }), "ok", "release by its pid still works");
  t.equal(await holder.outcome({ op: "acquire", res: "RB", ls: "KILLB" }), "ok", "with no lease left the kill state is cleared: it acquires again");
}

for (const kind of ["sanlock", "sanlock-ts"] as const) {
  const skip = daemonSkipReason([kind]) || pythonSkip;
  t.test(`${kind}: acquire/release/convert/inquire of another process's leases`, { skip }, (t) => byPidRules(t, kind));
  t.test(`${kind}: REQUEST force modes and RESTRICT_SIGKILL/SIGTERM`, { skip }, (t) => requestSignals(t, kind));
  t.test(`${kind}: rem_lockspace kills and RESTRICT_SIGKILL/SIGTERM`, { skip }, (t) => removalSignals(t, kind));
  t.test(`${kind}: a client being killed may not acquire`, { skip }, (t) => acquireWhileKilled(t, kind));
}
