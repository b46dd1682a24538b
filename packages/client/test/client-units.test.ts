// Pieces of the typed client that need no daemon: resource strings as the
// spec records them (docs/wire.md §10), the errno convention of SanlockError (docs/wire.md §9.1),
// and the waits: a daemon that never answers (docs/wire.md §5.4) and an aborted call.
import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { ClientError, SanlockError } from "../src/errors.js";
import { escapePath, formatResourceString, parseResourceString, parseStateString } from "../src/resource-string.js";
import { SanlockClient } from "../src/client.js";
import { ResFlag } from "../../core/src/wire/index.js";

t.test("state strings recorded from sanlock 3.8.5 parse into their leases", async (t) => {
  // docs/wire.md §12.5 (INQUIRE reply) and docs/wire.md §10.1 examples.
  const state = "LS:RES:/var/tmp/res.lease:0:1 LS:RES2:/var/tmp/res.lease:1048576:SH";
  t.same(parseStateString(state), [
    { lockspace: "LS", resource: "RES", disks: [{ path: "/var/tmp/res.lease", offset: 0n }], flags: ResFlag.LVER, version: 1n },
    { lockspace: "LS", resource: "RES2", disks: [{ path: "/var/tmp/res.lease", offset: 1048576n }], flags: ResFlag.SHARED, version: 0n },
  ]);
  t.same(parseResourceString("LS:RC:/var/tmp/ws\\:col:0:1").disks, [{ path: "/var/tmp/ws:col", offset: 0n }], "escaped colon stays in the path");
  t.equal(parseResourceString("LS:R:/p:0:0x10").version, 16n, "LVER read like strtoull(…, 0)");
  t.equal(parseResourceString("LS:R:/p:0:/q:512").disks.length, 2, "two disks, no LVER");
  t.equal(parseResourceString("LS:R:/p:0:/q:512").flags, 0);
  t.throws(() => parseResourceString("LS:R:/p"), { code: "ERR_CLIENT_PROTOCOL" }, "two separators are invalid");
});

t.test("paths are exported with ':' and ' ' escaped (§10.2)", async (t) => {
  t.equal(escapePath("/var/tmp/ws:col"), "/var/tmp/ws\\:col");
  t.equal(escapePath("/var/tmp/ws sp"), "/var/tmp/ws\\ sp");
  t.equal(escapePath("/a\\:b"), "/a\\:b", "an existing escape is kept");
  t.equal(
    formatResourceString({ lockspace: "LS", resource: "RES2", disks: [{ path: "/var/tmp/res.lease", offset: 1048576n }], shared: true, version: 3n }),
    "LS:RES2:/var/tmp/res.lease:1048576:SH",
  );
});

t.test("SanlockError follows the Python binding's errno convention (§9.1)", async (t) => {
  const eperm = new SanlockError(8, -1);
  t.equal(eperm.errno, 1);
  t.equal(eperm.code, "ERR_CLIENT_SANLOCK");
  t.match(eperm.message, /^RELEASE failed: -EPERM \(-1\)/);
  const idlive = new SanlockError(7, -243);
  t.equal(idlive.errno, -243);
  t.equal(idlive.sanlockName, "SANLK_ACQUIRE_IDLIVE");
  t.equal(idlive.reason, "Lease is held by another host");
});

/** A fake daemon that accepts connections and never answers (what sanlock does with a header it ignores). */
async function silentDaemon(t: { teardown(fn: () => unknown): void }): Promise<{ socketPath: string; received: () => number }> {
  const dir = mkdtempSync("/var/tmp/client-silent-");
  const socketPath = join(dir, "sanlock.sock");
  let bytes = 0;
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    sock.on("data", (chunk) => (bytes += chunk.byteLength));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.teardown(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { socketPath, received: () => bytes };
}

t.test("a call that gets no reply fails with ERR_CLIENT_TIMEOUT", async (t) => {
  const fake = await silentDaemon(t);
  const client = new SanlockClient({ socketPath: fake.socketPath, timeoutMs: 200 });
  const err = await client.version().then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof ClientError);
  t.equal((err as ClientError).code, "ERR_CLIENT_TIMEOUT");
  t.equal(fake.received(), 32, "the VERSION header was sent");
});

t.test("an acquire that waits can be aborted", async (t) => {
  const fake = await silentDaemon(t);
  const client = new SanlockClient({ socketPath: fake.socketPath, timeoutMs: 200 });
  const controller = new AbortController();
  const pending = client.acquire("LS", "R", [["/p", 0]], { pid: 1234, signal: controller.signal }).then(
    () => null,
    (e: unknown) => e,
  );
  setTimeout(() => controller.abort(), 50);
  const err = await pending;
  t.equal((err as ClientError).code, "ERR_CLIENT_ABORTED");
  t.equal(fake.received(), 32 + 128 + 1040 + 56, "one ACQUIRE was sent (header, resource, disk, options)");
});
