// The run dir and socket ownership that -U / -G give (issue 14 item 7, part B), compared with
// the real sanlock 3.8.5 daemon started the same way. What sanlock does (main.c, lockfile.c):
//
// - com.uid/com.gid default to the "sanlock" user and group when both exist, else 0/0; -U sets
//   only com.uid and -G only com.gid, by getpwnam/getgrnam (a number is not a name: it, like an
//   unknown name, gives 0);
// - lockfile(): mkdir(run_dir, 0775) under umask 0002 (an existing dir keeps its mode), then
//   chown(run_dir, uid, privileged ? 0 : gid); sanlock.pid is created 0644 by the daemon (root);
// - setup_listener(): bind, chmod(sock, 0660), chown(sock, uid, gid), listen. The socket's mode is
//   the only access control: a process of that uid, or of that gid, can connect; others get EACCES.
//
// Both daemons run unprivileged (SANLOCK_PRIVILEGED=0) as root, with the ts daemon as a process
// (packages/cli/dist/main.cjs), so both get the same environment and umask.
import t, { type Test } from "tap";
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { type DaemonKind, environmentSkip, HAVE_REAL_SANLOCK, OUR_CLI } from "./support/index.js";

const PYTHON = "/usr/bin/python3";
const KINDS: readonly DaemonKind[] = ["sanlock", "sanlock-ts"];
const START_TIMEOUT_MS = 15_000;

function idOf(kind: "passwd" | "group", name: string): number | undefined {
  const r = spawnSync("getent", [kind, name], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const n = Number(r.stdout.split(":")[2]);
  return Number.isInteger(n) ? n : undefined;
}

// nobody (65534) and daemon (1) are in every Debian/Fedora base image; bin (2) is the outsider.
const NOBODY = idOf("passwd", "nobody");
const DAEMON_GID = idOf("group", "daemon");
const DAEMON_UID = idOf("passwd", "daemon");
const BIN_UID = idOf("passwd", "bin");
const BIN_GID = idOf("group", "bin");
const SANLOCK_UID = idOf("passwd", "sanlock");
const SANLOCK_GID = idOf("group", "sanlock");
const ROOT = process.getuid?.() === 0;
const havePythonSanlock = spawnSync(PYTHON, ["-c", "import sanlock"]).status === 0;

const skip = environmentSkip(
  (!ROOT && "the test must run as root (chown to other users, clients of other uids)") ||
    (!HAVE_REAL_SANLOCK && "sanlock 3.8.5 is not installed") ||
    (!existsSync(OUR_CLI) && "packages/cli/dist/main.cjs is not built (run pnpm build)") ||
    (!havePythonSanlock && "python3-sanlock is not installed") ||
    ((NOBODY === undefined || DAEMON_GID === undefined || DAEMON_UID === undefined || BIN_UID === undefined || BIN_GID === undefined) &&
      "the users nobody, daemon and bin (and groups daemon, bin) must exist"),
);

interface Started {
  runDir: string;
  child: ChildProcess;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** A base dir others can traverse (mkdtemp gives 0700), removed in teardown. */
function baseDir(tt: Test): string {
  const dir = mkdtempSync("/var/tmp/slts-perm-");
  chmodSync(dir, 0o755);
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts one daemon kind with `ownerArgs` on `runDir` (which may not exist yet). */
async function startWith(tt: Test, kind: DaemonKind, runDir: string, ownerArgs: readonly string[]): Promise<Started> {
  const args = ["daemon", "-D", "-w", "0", "-l", "0", "-h", "0", ...ownerArgs];
  const [cmd, argv] = kind === "sanlock" ? ["sanlock", args] : [process.execPath, [OUR_CLI, ...args]];
  const child = spawn(cmd as string, argv as string[], {
    env: { ...process.env, SANLOCK_PRIVILEGED: "0", SANLOCK_RUN_DIR: runDir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 16_384) stderr += chunk.toString();
  });
  tt.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
        child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  );
  const socket = join(runDir, "sanlock.sock");
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${kind} daemon exited with ${child.exitCode}: ${stderr}`);
    if (existsSync(socket) && (await canConnect(socket))) return { runDir, child };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${kind} daemon did not listen within ${START_TIMEOUT_MS} ms: ${stderr}`);
}

interface Ownership {
  runDir: string;
  socket: string;
  pidFile: string;
}

function describe(path: string): string {
  const st = statSync(path);
  return `${(st.mode & 0o7777).toString(8).padStart(4, "0")} ${st.uid}:${st.gid}`;
}

function ownership(runDir: string): Ownership {
  return {
    runDir: describe(runDir),
    socket: describe(join(runDir, "sanlock.sock")),
    pidFile: describe(join(runDir, "sanlock.pid")),
  };
}

/** A python3-sanlock client as uid/gid (no supplementary groups: libuv drops them). */
function pythonAs(runDir: string, uid: number, gid: number): Promise<string> {
  const code = [
    "import sanlock",
    "try:",
    "    sanlock.get_lockspaces()",
    "    print('ok')",
    "except sanlock.SanlockException as e:",
    "    print('errno', e.errno)",
  ].join("\n");
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      ["-c", code],
      { uid, gid, cwd: "/", env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", SANLOCK_RUN_DIR: runDir }, timeout: 30_000 },
      (error, stdout, stderr) => resolve(error ? `failed: ${stderr.trim() || error.message}` : stdout.trim()),
    );
  });
}

t.test("socket and run dir ownership follow -U / -G as sanlock's do", { skip }, async (t) => {
  const cases: { args: string[]; expect: Ownership | undefined }[] = [
    // Expected values written out for the main case, so a change in both daemons is also caught.
    {
      args: ["-U", "nobody", "-G", "daemon"],
      expect: {
        runDir: `0775 ${NOBODY}:${DAEMON_GID}`,
        socket: `0660 ${NOBODY}:${DAEMON_GID}`,
        pidFile: "0644 0:0",
      },
    },
    // -U alone keeps the default group (sanlock's when the sanlock user and group exist), -G alone the default user.
    { args: ["-U", "nobody"], expect: undefined },
    { args: ["-G", "daemon"], expect: undefined },
    // getpwnam("65534") finds nothing: numeric ids are not accepted, the owner falls back to root.
    {
      args: ["-U", String(NOBODY), "-G", String(DAEMON_GID)],
      expect: {
        runDir: "0775 0:0",
        socket: "0660 0:0",
        pidFile: "0644 0:0",
      },
    },
    {
      args: ["-U", "no-such-user-slts", "-G", "no-such-group-slts"],
      expect: {
        runDir: "0775 0:0",
        socket: "0660 0:0",
        pidFile: "0644 0:0",
      },
    },
  ];
  for (const { args, expect } of cases) {
    await t.test(args.join(" "), async (t) => {
      const base = baseDir(t);
      const seen: Partial<Record<DaemonKind, Ownership>> = {};
      for (const kind of KINDS) {
        const started = await startWith(t, kind, join(base, kind), args);
        seen[kind] = ownership(started.runDir);
      }
      t.same(seen["sanlock-ts"], seen.sanlock, "sanlock-ts gives the run dir, socket and pid file sanlock's mode and owner");
      if (expect !== undefined) t.same(seen.sanlock, expect, "sanlock 3.8.5 itself gives the documented values");
      if (args.length === 2 && SANLOCK_UID !== undefined && SANLOCK_GID !== undefined) {
        const defaults = args[0] === "-U" ? `:${SANLOCK_GID}` : `${SANLOCK_UID}:`;
        t.ok(seen.sanlock?.socket.includes(defaults), `the option not given keeps the sanlock default (${defaults})`);
      }
    });
  }
});

t.test("an existing run dir keeps its mode and is chowned", { skip }, async (t) => {
  const base = baseDir(t);
  const seen: Partial<Record<DaemonKind, Ownership>> = {};
  for (const kind of KINDS) {
    const runDir = join(base, kind);
    mkdirSync(runDir);
    chmodSync(runDir, 0o750);
    await startWith(t, kind, runDir, ["-U", "nobody", "-G", "daemon"]);
    seen[kind] = ownership(runDir);
  }
  t.equal(seen.sanlock?.runDir, `0750 ${NOBODY}:${DAEMON_GID}`, "sanlock keeps 0750 and chowns to -U:-G");
  t.same(seen["sanlock-ts"], seen.sanlock, "sanlock-ts does the same");
});

t.test("who can connect: the -U user, a -G group member, not others", { skip }, async (t) => {
  const base = baseDir(t);
  for (const kind of KINDS) {
    await t.test(kind, async (t) => {
      const { runDir } = await startWith(t, kind, join(base, kind), ["-U", "nobody", "-G", "daemon"]);
      t.equal(await pythonAs(runDir, 0, 0), "ok", "root connects");
      t.equal(await pythonAs(runDir, NOBODY!, NOBODY!), "ok", "the -U user (nobody, group nogroup) connects");
      t.equal(await pythonAs(runDir, BIN_UID!, DAEMON_GID!), "ok", "another user whose gid is the -G group connects");
      t.equal(await pythonAs(runDir, BIN_UID!, BIN_GID!), "errno 13", "another user outside the group gets EACCES");
      t.equal(
        await pythonAs(runDir, DAEMON_UID!, BIN_GID!),
        "errno 13",
        "the user named like the group, but running with another gid, gets EACCES (only the socket's mode decides)",
      );
    });
  }
});
