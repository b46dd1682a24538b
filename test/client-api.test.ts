// The typed client (@sanlock-ts/client) against a running daemon: the real
// sanlock 3.8.5 and ours, which must serve the same calls. Every assertion is
// on what the daemon did (read back through another call or on disk).
import t from "tap";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ClientArgumentError, HOST_LIVE, LSFLAG_ADD, ResFlag, SETEV_CUR_GENERATION, SanlockClient, SanlockError } from "../packages/client/src/index.js";
import { type DaemonKind, daemonSkipReason, retrying, sparseFile, startDaemon } from "./support/index.js";

const LS = "CLS";
/** io_timeout 1 in the lockspace area and the add keeps a join at ~2 s instead of ~20 s (wire.md §7.2). */
const IO_TIMEOUT = 1;
const EAGAIN = 11;

for (const kind of ["sanlock", "sanlock-ts"] as DaemonKind[]) {
  await t.test(`client against ${kind}`, { skip: daemonSkipReason(kind) }, async (t) => {
    const daemon = await startDaemon(t, { kind: kind });
    const client = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 20_000 });
    const lsPath = sparseFile(daemon.dir, "ls.lease");
    const resPath = sparseFile(daemon.dir, "res.lease");

    await t.test("version reports the daemon version", async (t) => {
      const v = await client.version();
      t.equal(v.versionString, "3.8.5");
      t.equal(v.daemonVersion, 0x03080500);
      t.equal(v.protocol, 1);
    });

    // Both daemons serve write_lockspace: any error (−201 SANLK_ERROR is how ours answers an
    // unexpected exception) fails this test instead of skipping the lease checks below.
    await client.writeLockspace(LS, lsPath, { iotimeout: IO_TIMEOUT });
    await t.test("lockspace and leases", async (t) => {
      await t.test("read_lockspace returns what write_lockspace recorded", async (t) => {
        t.same(await client.readLockspace(lsPath), { lockspace: LS, iotimeout: IO_TIMEOUT });
      });

      await t.test("read_resource of an unformatted area fails with SANLK_LEADER_MAGIC", async (t) => {
        const err = await client.readResource(resPath).then(
          () => null,
          (e: unknown) => e,
        );
        t.ok(err instanceof SanlockError);
        t.equal((err as SanlockError).errno, -223);
        t.equal((err as SanlockError).sanlockName, "SANLK_LEADER_MAGIC");
        t.match((err as SanlockError).message, /Lease does not exist on storage/);
      });

      await client.writeResource(LS, "R1", [[resPath, 0]]);
      await client.writeResource(LS, "R2", [{ path: resPath, offset: 1048576 }]);
      await t.test("read_resource returns what write_resource recorded", async (t) => {
        t.same(await client.readResource(resPath, { offset: 1048576 }), { lockspace: LS, resource: "R2", version: 0n });
      });

      await t.test("inq_lockspace before the add says not joined", async (t) => {
        t.equal(await client.inqLockspace(LS, 1, lsPath), false);
      });

      await client.addLockspace(LS, 1, lsPath, { iotimeout: IO_TIMEOUT });
      t.teardown(() => client.remLockspace(LS, 1, lsPath).catch(() => undefined));

      await t.test("after add_lockspace the lockspace is joined and listed", async (t) => {
        t.equal(await client.inqLockspace(LS, 1, lsPath), true);
        const spaces = await client.getLockspaces();
        t.same(
          spaces.map((s) => ({ ...s })),
          [{ lockspace: LS, hostId: 1n, path: lsPath, offset: 0n, flags: 0 }],
        );
        t.not(spaces[0]?.flags, LSFLAG_ADD);
      });

      await t.test("add_lockspace again fails with EEXIST", async (t) => {
        const err = await client.addLockspace(LS, 1, lsPath).then(
          () => null,
          (e: unknown) => e,
        );
        t.ok(err instanceof SanlockError);
        t.equal((err as SanlockError).errno, 17);
        t.equal((err as SanlockError).sanlockName, "-EEXIST");
      });

      await t.test("get_hosts lists this host as live", async (t) => {
        const hosts = await retrying(() => client.getHosts(LS), [EAGAIN]);
        t.equal(hosts.length, 1);
        t.equal(hosts[0]?.hostId, 1n);
        t.equal(hosts[0]?.flags, HOST_LIVE);
        t.equal(hosts[0]?.ioTimeout, IO_TIMEOUT);
      });

      // A lease on two disks (docs/algorithms.md §4.11): both daemons write, acquire and list it alike.
      await t.test("a lease on two disks is written, acquired, inquired and released", async (t) => {
        const twoDisks: [string, number][] = [
          [resPath, 2097152],
          [resPath, 3145728],
        ];
        await client.writeResource(LS, "R3", twoDisks);
        t.same(await client.readResource(resPath, { offset: 3145728 }), { lockspace: LS, resource: "R3", version: 0n }, "the second disk has the area");
        await using reg = await client.register();
        const lease = await client.acquire(LS, "R3", twoDisks, { registration: reg });
        const held = await client.inquire({ registration: reg });
        t.same(
          held.map((r) => r.disks.map((d) => [d.path, Number(d.offset)])),
          [twoDisks],
          "inquire lists both disks",
        );
        await lease.release();
        t.same(await client.inquire({ registration: reg }), [], "nothing is held after the release");
      });

      await t.test("a registered process acquires, inquires and releases", async (t) => {
        await using reg = await client.register();
        t.ok(reg.fd >= 0, "register returns the connection's fd");
        const lease = await client.acquire(LS, "R1", [[resPath, 0]], { registration: reg });
        const held = await client.inquire({ registration: reg });
        t.same(
          held.map((r) => [r.lockspace, r.resource, r.disks, r.flags]),
          [[LS, "R1", [{ path: resPath, offset: 0n }], ResFlag.LVER]],
        );
        t.ok((held[0]?.version ?? 0n) >= 1n, "inquire reports the lease version");

        const status = await client.status();
        t.ok(
          status.resources.some((r) => r.resource === "R1" && r.pid === process.pid && !r.shared),
          "status lists the lease for our pid",
        );
        const owners = await client.readResourceOwners(LS, "R1", [[resPath, 0]]);
        t.same(
          owners.map((h) => h.hostId),
          [1n],
          "the lease is owned by host 1 on disk",
        );

        const again = await client.acquire(LS, "R1", [[resPath, 0]], { registration: reg }).then(
          () => null,
          (e: unknown) => e,
        );
        t.equal((again as SanlockError).errno, 17, "acquiring a held lease again fails with EEXIST");

        await lease.release();
        t.same(await client.inquire({ registration: reg }), [], "nothing held after release");
        const notHeld = await client.release(LS, "R1", [[resPath, 0]], { registration: reg }).then(
          () => null,
          (e: unknown) => e,
        );
        t.equal((notHeld as SanlockError).errno, 1, "releasing a lease not held fails with errno 1");
      });

      await t.test("await using releases the lease at the end of the scope", async (t) => {
        await using reg = await client.register();
        {
          await using lease = await client.acquire(LS, "R2", [[resPath, 1048576]], { registration: reg, shared: true });
          t.equal(lease.shared, true);
          const held = await client.inquire({ registration: reg });
          t.equal(held[0]?.flags, ResFlag.SHARED, "held shared");
          await lease.convert(false);
          t.equal((await client.inquire({ registration: reg }))[0]?.flags, ResFlag.LVER, "converted to exclusive");
        }
        t.same(await client.inquire({ registration: reg }), [], "released by the scope");
        const owners = await client.readResourceOwners(LS, "R2", [[resPath, 1048576]]);
        t.same(owners, [], "no owner left on disk");
      });

      await t.test("acquire and release by pid", async (t) => {
        await using reg = await client.register();
        await client.acquire(LS, "R1", [[resPath, 0]], { pid: process.pid });
        t.equal((await client.inquire({ pid: process.pid }))[0]?.resource, "R1");
        await client.release(LS, "R1", [[resPath, 0]], { pid: process.pid });
        t.same(await client.inquire({ registration: reg }), []);
      });

      await t.test("closing the registration releases its leases", async (t) => {
        const reg = await client.register();
        await client.acquire(LS, "R1", [[resPath, 0]], { registration: reg });
        await reg.close();
        const owners = await retrying(
          async () => {
            const o = await client.readResourceOwners(LS, "R1", [[resPath, 0]]);
            if (o.length > 0) throw Object.assign(new Error("still owned"), { errno: -1 });
            return o;
          },
          [-1],
          40,
          250,
        );
        t.same(owners, []);
      });

      await t.test("an acquire in a lockspace not joined fails with ENOSPC", async (t) => {
        await using reg = await client.register();
        const err = await client.acquire("NOPE", "R1", [[resPath, 0]], { registration: reg }).then(
          () => null,
          (e: unknown) => e,
        );
        t.equal((err as SanlockError).errno, 28);
      });

      await t.test("set_event on a lockspace that is not joined fails with ENOENT", async (t) => {
        const err = await client.setEvent("NOPE", 1, 0, 1, { flags: SETEV_CUR_GENERATION }).then(
          () => null,
          (e: unknown) => e,
        );
        t.equal((err as SanlockError).errno, 2);
      });

      await t.test("rem_lockspace with unused fails while a lease is held", async (t) => {
        await using reg = await client.register();
        await using _lease = await client.acquire(LS, "R1", [[resPath, 0]], { registration: reg });
        const err = await client.remLockspace(LS, 1, lsPath, { unused: true }).then(
          () => null,
          (e: unknown) => e,
        );
        t.equal((err as SanlockError).errno, 16);
      });

      await t.test("rem_lockspace leaves the lockspace", async (t) => {
        await client.remLockspace(LS, 1, lsPath);
        t.equal(await client.inqLockspace(LS, 1, lsPath), false);
        t.same(await client.getLockspaces(), []);
      });
    });
  });
}

t.test("bad arguments are refused before anything is sent", async (t) => {
  const dir = mkdtempSync("/var/tmp/client-args-");
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socketPath = join(dir, "sanlock.sock");
  let connections = 0;
  const server = createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const client = new SanlockClient({ socketPath });
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ["name over 48 bytes", () => client.addLockspace("x".repeat(49), 1, "/p"), /lockspace/],
    ["host_id 0 for add", () => client.addLockspace("LS", 0, "/p"), /hostId/],
    ["host_id above 2000", () => client.addLockspace("LS", 2001, "/p"), /hostId/],
    ["negative offset", () => client.addLockspace("LS", 1, "/p", { offset: -1 }), /offset/],
    ["empty path", () => client.readLockspace(""), /path/],
    ["no disks", () => client.writeResource("LS", "R", []), /disks/],
    [
      "five disks",
      () =>
        client.writeResource("LS", "R", [
          ["/a", 0],
          ["/a", 0],
          ["/a", 0],
          ["/a", 0],
          ["/a", 0],
        ]),
      /disks/,
    ],
    ["unknown option", () => client.inqLockspace("LS", 1, "/p", { bogus: 1 } as never), /options/],
    ["acquire without owner", () => client.acquire("LS", "R", [["/a", 0]]), /registration/],
    ["bad alignment", () => client.writeLockspace("LS", "/p", { align: 3 }), /align/],
    ["lvb too large", () => client.setLvb("LS", "R", [["/a", 0]], new Uint8Array(4097)), /data/],
    ["unknown setev flags", () => client.setEvent("LS", 1, 0, 1, { flags: 0x100 }), /flags/],
  ];
  for (const [what, call, argument] of cases) {
    const before = connections;
    const err = await call().then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof ClientArgumentError, `${what}: ClientArgumentError`);
    t.equal((err as ClientArgumentError).code, "ERR_CLIENT_BAD_ARGUMENT", `${what}: code`);
    t.match((err as ClientArgumentError).argument, argument, `${what}: names the argument`);
    t.equal(connections, before, `${what}: nothing sent`);
  }
});

t.test("a missing socket is reported as ERR_CLIENT_CONNECT", async (t) => {
  const client = new SanlockClient({ socketPath: "/var/tmp/no-such-dir-for-sanlock/sanlock.sock" });
  const err = await client.version().then(
    () => null,
    (e: unknown) => e,
  );
  t.equal((err as { code?: string }).code, "ERR_CLIENT_CONNECT");
});

t.test("the socket path comes from SANLOCK_RUN_DIR or the runDir option", async (t) => {
  const saved = process.env.SANLOCK_RUN_DIR;
  t.teardown(() => {
    if (saved === undefined) delete process.env.SANLOCK_RUN_DIR;
    else process.env.SANLOCK_RUN_DIR = saved;
  });
  delete process.env.SANLOCK_RUN_DIR;
  t.equal(new SanlockClient().socketPath, "/run/sanlock/sanlock.sock");
  process.env.SANLOCK_RUN_DIR = "/var/tmp/x";
  t.equal(new SanlockClient().socketPath, "/var/tmp/x/sanlock.sock");
  t.equal(new SanlockClient({ runDir: "/r" }).socketPath, "/r/sanlock.sock");
});
