import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { Test } from "tap";
import { PeerCredError, peerCredentials, peerCredentialsOfFd } from "../src/peer-cred.js";

async function listen(t: Test): Promise<{ server: Server; path: string; accepted: Promise<Socket> }> {
  const dir = mkdtempSync(join(tmpdir(), "slts-peer-"));
  const path = join(dir, "s.sock");
  let onAccept!: (socket: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => {
    onAccept = resolve;
  });
  const server = createServer(onAccept);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, path, accepted };
}

t.test("SO_PEERCRED of a connection from this process gives our pid, uid, gid", async (t) => {
  const { path, accepted } = await listen(t);
  const client = createConnection(path);
  t.teardown(() => client.destroy());
  const socket = await accepted;
  t.teardown(() => socket.destroy());
  t.same(peerCredentials(socket), { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
});

t.test("SO_PEERCRED names the other process that connected", async (t) => {
  const { path, accepted } = await listen(t);
  const child = spawn(
    process.execPath,
    ["-e", `const c = require("node:net").createConnection(${JSON.stringify(path)}); c.on("data", () => process.exit(0));`],
    { stdio: "ignore" },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const socket = await accepted;
  const creds = peerCredentials(socket);
  t.equal(creds.pid, child.pid, "the child's pid, not ours");
  t.not(creds.pid, process.pid);
  socket.end("x");
  await new Promise((resolve) => child.once("exit", resolve));
});

t.test("bad descriptors are refused with a typed error", async (t) => {
  t.throws(() => peerCredentialsOfFd(-1), { name: "PeerCredError", code: "ERR_DAEMON_NO_SOCKET_FD" });
  // fd 0 is not a socket here (stdin of the test runner is a pipe or /dev/null).
  t.throws(() => peerCredentialsOfFd(0), PeerCredError);
});
