// ExecHolder without a sanlock daemon: a plain unix-socket listener stands in for it (REGISTER
// gets no reply, so register() needs nothing more). The program that replaces the process keeps
// its pid and the registered socket; a failed execv leaves this process as it was.
// becomeProgram in a child needs `pnpm build` (it runs dist/exec-holder.js).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { ExecHolder } from "../src/exec-holder.js";
import { peerCredentials } from "../../daemon/src/peer-cred.js";

const EXEC_HOLDER_JS = fileURLToPath(new URL("../dist/exec-holder.js", import.meta.url));

/** A listener on a fresh socket path; `accepted` resolves with the first connection. */
async function fakeDaemon(t: Test): Promise<{ dir: string; path: string; accepted: Promise<Socket> }> {
  const dir = mkdtempSync(join(tmpdir(), "slts-exec-holder-"));
  const path = join(dir, "sanlock.sock");
  let onAccept!: (socket: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (onAccept = resolve));
  const server = createServer((socket) => {
    socket.resume(); // read (and drop) REGISTER, so that the client's close is seen
    onAccept(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, path, accepted };
}

/** What an exec would carry over and becomeProgram changes: dispositions, mask, fd flags. */
function processState(fds: number[]): Record<string, string> {
  const status = readFileSync("/proc/self/status", "utf8");
  const state: Record<string, string> = {
    SigIgn: /^SigIgn:\s*(\S+)$/m.exec(status)?.[1] ?? "?",
    SigBlk: /^SigBlk:\s*(\S+)$/m.exec(status)?.[1] ?? "?",
  };
  for (const fd of fds) state[`fd ${fd}`] = /^flags:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1] ?? "?";
  return state;
}

t.test("a failed execv returns its errno and leaves the process as it was", async (t) => {
  const { path, accepted } = await fakeDaemon(t);
  const holder = await ExecHolder.register(path, { timeoutMs: 10_000 });
  t.teardown(() => holder.close());
  const peer = await accepted;
  let peerClosed = false;
  peer.on("close", () => (peerClosed = true));
  t.ok(holder.fd > 2, `the registered socket is fd ${holder.fd}`);
  const fds = [0, 1, 2, holder.fd].filter((fd) => existsSync(`/proc/self/fdinfo/${fd}`));
  const before = processState(fds);
  t.equal(BigInt(`0x${before.SigIgn}`) & (1n << 12n), 1n << 12n, "Node ignores SIGPIPE (what becomeProgram undoes)");
  const failure = await holder.becomeProgram("/nonexistent/program", ["a"]);
  t.same(failure, { errno: 2, code: "ENOENT", message: "No such file or directory" }, "ENOENT, strerror's text");
  t.same(processState(fds), before, "signal dispositions, mask and descriptor flags restored");
  t.ok(holder.registration.isOpen, "the registration (and its leases) is still held");
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.notOk(peerClosed, "the daemon side saw no close");
  await holder.close();
  await new Promise((resolve) => peer.once("close", resolve));
  t.pass("close() ends the registration");
});

t.test("bad arguments are refused before anything changes", async (t) => {
  const { path } = await fakeDaemon(t);
  const holder = await ExecHolder.register(path, { timeoutMs: 10_000 });
  t.teardown(() => holder.close());
  await t.rejects(holder.becomeProgram(""), TypeError, "empty path");
  await t.rejects(holder.becomeProgram("/bin/true", ["a\0b"]), TypeError, "NUL in an argument");
  await holder.close();
  await t.rejects(holder.becomeProgram("/bin/true"), /closed/, "a closed registration holds nothing to pass on");
});

t.test(
  "the program keeps the pid and the registered socket",
  { skip: !existsSync(EXEC_HOLDER_JS) && "build the daemon package first (pnpm build)" },
  async (t) => {
    const { dir, path, accepted } = await fakeDaemon(t);
    const script = join(dir, "become.mjs");
    writeFileSync(
      script,
      `
const { ExecHolder } = await import(${JSON.stringify(EXEC_HOLDER_JS)});
const holder = await ExecHolder.register(${JSON.stringify(path)}, { timeoutMs: 10000 });
process.stdout.write("fd " + holder.fd + "\\n");
const failure = await holder.becomeProgram("/bin/sh", ["-c", 'read line; echo "$(cat /proc/$$/comm) $$ $line"; ls /proc/$$/fd; exit 3']);
console.error("not executed:", failure);
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ["pipe", "pipe", "pipe"] });
    t.teardown(() => void (child.exitCode === null && child.kill("SIGKILL")));
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    const peer = await accepted;
    t.equal(peerCredentials(peer).pid, child.pid, "the registered pid is the spawned process's");
    let peerClosedAt: number | undefined;
    peer.on("close", () => (peerClosedAt = Date.now()));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the exec happens; the program waits on stdin
    t.equal(peerClosedAt, undefined, "the socket stays open after the exec");
    child.stdin.end("hi\n");
    t.equal(await exited, 3, "the program's exit status");
    t.equal(err, "", "execv did not fail");
    const [fdLine, progLine, ...fdList] = out.trim().split("\n");
    const fd = Number(fdLine?.replace("fd ", ""));
    t.equal(progLine, `sh ${child.pid} hi`, "same pid, now sh, reading our stdin");
    t.ok(fdList.map(Number).includes(fd), `the program has fd ${fd}`);
    await new Promise((resolve) => (peerClosedAt !== undefined ? resolve(undefined) : peer.once("close", resolve)));
    t.pass("the socket closed when the program exited");
  },
);
