/**
 * `sanlock-ts client command -r RES -c PATH ARGS` becomes the program, as sanlock 3.8.5's does
 * (register, acquire, execv): the program keeps the pid that registered and the registered
 * socket, so the daemon shows the program itself as the holder and releases the leases only
 * when the program's last descriptor of that socket closes. No wrapper process is left whose
 * death would free the leases while the program runs. Against both daemons; the real
 * `sanlock client status` reads the holder too, and the real `sanlock client command` is the
 * reference for a program that cannot be executed.
 *
 * These fail on the former wrapper (a Node parent running the program under `setpriv
 * --pdeathsig KILL`): the holder pid was the wrapper's, the exit status 0 or 1, the leases
 * released as soon as the wrapper's child exited.
 */
import t, { type Test } from "tap";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { SanlockClient, SanlockError } from "../packages/client/src/index.js";
import {
  type DaemonKind,
  daemonSkipReason,
  type ExitStatus,
  HAVE_REAL_SANLOCK,
  OUR_CLI,
  sleep,
  sparseFile,
  startDaemon,
  tempLeaseDir,
  type TestDaemon,
} from "./support/index.js";

const MiB = 1 << 20;
const LS = "EXECLS";
const WAIT_MS = 20_000;

interface CommandRun {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  stdout(): string;
  stderr(): string;
  /** Writes to the program's stdin (our pipe); end() closes it. */
  write(text: string): void;
  end(): void;
}

/** Runs `<tool> client command -r RES -c ARGV...` with pipes for stdin, stdout and stderr. */
function runCommand(t: Test, tool: DaemonKind, daemon: TestDaemon, resource: string, argv: string[], cwd?: string): CommandRun {
  const [cmd, pre] = tool === "sanlock" ? ["sanlock", []] : [process.execPath, [OUR_CLI]];
  const child = spawn(cmd, [...pre, "client", "command", "-r", resource, "-c", ...argv], {
    env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir },
    stdio: ["pipe", "pipe", "pipe"],
    ...(cwd === undefined ? {} : { cwd }),
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  child.stdin.on("error", () => undefined); // EPIPE once the program is gone
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  if (child.pid === undefined) throw new Error(`${cmd} did not start`);
  return {
    pid: child.pid,
    exited,
    stdout: () => out,
    stderr: () => err,
    write: (text) => void child.stdin.write(text),
    end: () => void child.stdin.end(),
  };
}

/** The pids `<tool> client status` lists as holders of LS:name. */
function holders(tool: DaemonKind, daemon: TestDaemon, name: string): number[] {
  const [cmd, pre] = tool === "sanlock" ? ["sanlock", []] : [process.execPath, [OUR_CLI]];
  const out = spawnSync(cmd, [...pre, "client", "status"], { env: { ...process.env, SANLOCK_RUN_DIR: daemon.runDir }, encoding: "utf8", timeout: 30_000 });
  const pids: number[] = [];
  for (const line of out.stdout.split("\n")) {
    const m = new RegExp(`^r ${LS}:${name}:\\S+ p (\\d+)$`).exec(line);
    if (m) pids.push(Number(m[1]));
  }
  return pids;
}

async function waitForValue<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const comm = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined; // gone
  }
};

const alive = (pid: number): boolean => comm(pid) !== undefined;

/** The fd numbers this (the test) process would pass through an exec: open without close-on-exec. */
function inheritedFds(): number[] {
  return readdirSync("/proc/self/fdinfo")
    .filter((fd) => {
      try {
        const flags = /^flags:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
        return flags !== null && (parseInt(flags[1] as string, 8) & 0o2000000) === 0;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function suite(t: Test, kind: DaemonKind): Promise<void> {
  const dir = tempLeaseDir(t, "command-exec-");
  const lsPath = sparseFile(dir, "lockspace", MiB);
  const resPath = sparseFile(dir, "resources", 8 * MiB);
  const daemon = await startDaemon(t, { kind, label: `${kind} daemon`, dir });
  const client = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 30_000 });
  await client.writeLockspace(LS, lsPath, { iotimeout: 1 });
  await client.addLockspace(LS, 1, lsPath, { iotimeout: 1 });
  let slot = 0;
  /** A fresh resource per subtest: "R<n>", its -r string and its disks. */
  const resource = async (): Promise<{ name: string; arg: string; disks: { path: string; offset: number }[] }> => {
    const n = slot++;
    const name = `R${n}`;
    const disks = [{ path: resPath, offset: n * MiB }];
    await client.writeResource(LS, name, disks);
    return { name, arg: `${LS}:${name}:${resPath}:${n * MiB}`, disks };
  };
  /** Another process's acquire of the resource: 0, or the daemon's refusal (the lease is given back at once). */
  const otherAcquire = async (r: { name: string; disks: { path: string; offset: number }[] }): Promise<number> => {
    const registration = await client.register();
    try {
      await client.acquire(LS, r.name, r.disks, { registration });
      return 0;
    } catch (err) {
      if (err instanceof SanlockError) return err.result;
      throw err;
    } finally {
      await registration.close();
    }
  };
  const statusTools: DaemonKind[] = HAVE_REAL_SANLOCK ? ["sanlock-ts", "sanlock"] : ["sanlock-ts"];

  await t.test("the holder status shows is the program's own pid", async (t) => {
    const r = await resource();
    const run = runCommand(t, "sanlock-ts", daemon, r.arg, ["/bin/sleep", "60"]);
    // The daemon lists the holder from the acquire on; the exec follows a moment later.
    await waitForValue("the pid that ran client command to become sleep", () => (comm(run.pid) === "sleep" ? true : undefined));
    t.pass("the pid that ran client command became the sleep process");
    for (const tool of statusTools) {
      const pids = await waitForValue(`${tool} client status to list a holder of ${r.name}`, () => {
        const p = holders(tool, daemon, r.name);
        return p.length > 0 ? p : undefined;
      });
      t.same(pids, [run.pid], `${tool} client status: the holder is the pid that ran client command`);
    }
    t.equal(comm(run.pid), "sleep", "and that pid is still the sleep process");
    const fd = await waitForValue("our lines on stdout", () => {
      const m = /^register done (\d+)\nacquire fd \d+\nacquire done 0\n$/m.exec(run.stdout());
      return m ? Number(m[1]) : undefined;
    });
    t.ok(fd > 2, `"register done ${fd}" was printed before the exec`);
    t.match(readlinkSync(`/proc/${run.pid}/fd/${fd}`), /^socket:/, "the program holds the registered socket under that number");
    const flags = parseInt(/^flags:\s*(\d+)$/m.exec(readFileSync(`/proc/${run.pid}/fdinfo/${fd}`, "utf8"))?.[1] ?? "", 8);
    t.equal(flags & 0o2004000, 0, "blocking and not close-on-exec, as sanlock's own socket");
    const expected = new Set([0, 1, 2, fd, ...inheritedFds()]);
    const extra = readdirSync(`/proc/${run.pid}/fd`)
      .map(Number)
      .filter((n) => !expected.has(n));
    t.same(extra, [], "nothing Node opened reaches the program (epoll, eventfd, io_uring, ...)");
    const status = readFileSync(`/proc/${run.pid}/status`, "utf8");
    t.match(status, /^SigIgn:\s*0+$/m, "no signal ignored (Node ignores SIGPIPE and SIGXFSZ)");
    t.match(status, /^SigBlk:\s*0+$/m, "no signal blocked");
  });

  await t.test("the lease is held while the program runs and released after it exits", async (t) => {
    const r = await resource();
    const run = runCommand(t, "sanlock-ts", daemon, r.arg, ["/bin/sh", "-c", "read line"]);
    await waitForValue("the program to hold the lease", () => (holders("sanlock-ts", daemon, r.name).includes(run.pid) ? true : undefined));
    t.not(await otherAcquire(r), 0, "another process's acquire fails while the program runs");
    await sleep(1000);
    t.not(await otherAcquire(r), 0, "and still fails a second later");
    run.write("go\n"); // `read` returns: the program exits
    run.end();
    const exit = await run.exited;
    t.same(exit, { code: 0, signal: null }, "the program exited");
    await waitForValue("another process's acquire to succeed", async () => ((await otherAcquire(r)) === 0 ? true : undefined));
    t.pass("then another process acquires it");

    // The leases go with the socket: a process the program started keeps it open after the program
    // itself exited, so the lease stays held until that process ends too (sanlock's POLLHUP).
    // The background process waits for a file the test creates (not a fixed sleep: on a loaded
    // machine the checks below could outlast any sleep short enough for a test).
    const r2 = await resource();
    const go = `${dir}/background-go`;
    const waiter = `while [ ! -e ${go} ]; do /bin/sleep 0.1; done`;
    const bg = runCommand(t, "sanlock-ts", daemon, r2.arg, ["/bin/sh", "-c", `(${waiter}) </dev/null >/dev/null 2>&1 & exit 0`]);
    t.teardown(() => writeFileSync(go, ""));
    const bgExit = await bg.exited;
    t.equal(bgExit.code, 0, "the program exited at once, its background process still running");
    t.ok(holders("sanlock-ts", daemon, r2.name).length > 0, "the lease is still held");
    t.not(await otherAcquire(r2), 0, "another process's acquire fails while the background process keeps the socket");
    writeFileSync(go, "");
    await waitForValue("another process's acquire to succeed after the background process", async () => ((await otherAcquire(r2)) === 0 ? true : undefined));
    t.pass("after the background process exited, another process acquires it");
  });

  await t.test("there is no wrapper: the pid that ran client command is the program", async (t) => {
    const r = await resource();
    const run = runCommand(t, "sanlock-ts", daemon, r.arg, ["/bin/sleep", "60"]);
    await waitForValue("the exec", () => (comm(run.pid) === "sleep" ? true : undefined));
    t.same(holders("sanlock-ts", daemon, r.name), [run.pid], "the spawned pid holds the lease");
    process.kill(run.pid, "SIGKILL");
    const exit = await run.exited;
    t.same(exit, { code: null, signal: "SIGKILL" }, "killing that pid kills the program");
    t.notOk(alive(run.pid), "the sleep process is gone");
    await waitForValue("another process's acquire to succeed", async () => ((await otherAcquire(r)) === 0 ? true : undefined));
    t.pass("the lease was released only with the program");
  });

  await t.test("a program that cannot be executed: sanlock's message and exit status", async (t) => {
    for (const argv of [
      ["/nonexistent/program", "a"],
      ["sleep", "1"],
    ]) {
      const r = await resource();
      // "sleep" is not searched in PATH (execv, as sanlock); dir has no file of that name.
      const ours = runCommand(t, "sanlock-ts", daemon, r.arg, argv, dir);
      const exit = await ours.exited;
      t.equal(ours.stderr().split("\n")[0], "execv failed: No such file or directory", `${argv[0]}: perror's line first`);
      t.match(ours.stderr(), new RegExp(`sanlock-ts: command: ${argv[0]} was not executed \\(ENOENT\\)`), `${argv[0]}: and which program`);
      t.match(ours.stdout(), /^register\nregister done \d+\nacquire fd \d+\nacquire done 0\n$/, `${argv[0]}: the leases were acquired`);
      t.same(exit, { code: 0, signal: null }, `${argv[0]}: exit status 0, as sanlock 3.8.5`);
      if (HAVE_REAL_SANLOCK) {
        // The lease of our failed run may take a moment to be released: try again while refused.
        let real = runCommand(t, "sanlock", daemon, r.arg, argv, dir);
        let realExit = await real.exited;
        for (let i = 0; i < 50 && /acquire done -/.test(real.stdout()); i++) {
          await sleep(200);
          real = runCommand(t, "sanlock", daemon, r.arg, argv, dir);
          realExit = await real.exited;
        }
        t.equal(real.stdout().replace(/\d+/g, "N"), ours.stdout().replace(/\d+/g, "N"), `${argv[0]}: same stdout as sanlock client command`);
        t.equal(real.stderr(), "execv failed: No such file or directory\n", `${argv[0]}: sanlock's stderr`);
        t.same(exit, realExit, `${argv[0]}: same exit status as sanlock client command`);
      }
      await waitForValue("another process's acquire to succeed", async () => ((await otherAcquire(r)) === 0 ? true : undefined));
      t.pass(`${argv[0]}: the leases were released`);
    }
  });

  await t.test("a lease held by another program: the acquire fails and nothing runs", async (t) => {
    const r = await resource();
    const holder = runCommand(t, "sanlock-ts", daemon, r.arg, ["/bin/sleep", "60"]);
    await waitForValue("the first program to hold the lease", () => (holders("sanlock-ts", daemon, r.name).includes(holder.pid) ? true : undefined));
    const tools: DaemonKind[] = HAVE_REAL_SANLOCK ? ["sanlock-ts", "sanlock"] : ["sanlock-ts"];
    const seen: { stdout: string; exit: ExitStatus }[] = [];
    for (const tool of tools) {
      const run = runCommand(t, tool, daemon, r.arg, ["/bin/echo", "RAN"]);
      const exit = await run.exited;
      t.match(
        run.stdout(),
        /^register\nregister done \d+\nacquire fd \d+\nacquire done -\d+\n$/,
        `${tool}: the acquire is refused and the program does not run`,
      );
      t.same(exit, { code: 1, signal: null }, `${tool}: exit status 1`);
      seen.push({ stdout: run.stdout().replace(/done \d+|fd \d+/g, "N"), exit });
    }
    if (seen.length === 2) t.same(seen[0], seen[1], "the same as sanlock client command");
    t.same(holders("sanlock-ts", daemon, r.name), [holder.pid], "the first program still holds the lease");
  });

  await t.test("the program inherits stdin, stdout and stderr, and its exit status is the command's", async (t) => {
    const r = await resource();
    const script = 'read line; echo "out:$line"; echo "err:$line" >&2; exit 7';
    const run = runCommand(t, "sanlock-ts", daemon, r.arg, ["/bin/sh", "-c", script]);
    run.write("hello\n");
    const exit = await run.exited;
    t.same(exit, { code: 7, signal: null }, "exit status 7, the program's");
    t.match(run.stdout(), /^register\nregister done \d+\nacquire fd \d+\nacquire done 0\nout:hello\n$/, "our lines, then the program's stdout");
    t.equal(run.stderr(), "err:hello\n", "the program's stderr");
    await waitForValue("another process's acquire to succeed", async () => ((await otherAcquire(r)) === 0 ? true : undefined));
  });
}

for (const kind of ["sanlock-ts", "sanlock"] as const) {
  t.test(`${kind} daemon: client command execs the program`, { skip: daemonSkipReason([kind, "sanlock-ts"]) }, (t) => suite(t, kind));
}
