/**
 * STATUS while an acquire waits for its disk (found by test/lockmanager-lockfailure.test.ts, whose
 * STATUS poll once got "the daemon closed the connection without replying"): the resource record
 * of an acquire whose first read of the leader has not returned must be listed, with
 * sector_size=0 align_size=0 as sanlock's zeroed resource (resource.c sets them after
 * acquire_disk), not make the STATUS handler fail. The lease area is a stalled FUSE file, so the
 * acquire's first read hangs for as long as the test wants.
 */
import t from "tap";
import { SanlockClient } from "../packages/client/src/index.js";
import { daemonSkipReason, mountStallFs, sleep, sparseFile, stallFsSkipReason, startDaemon, tempLeaseDir } from "./support/index.js";

const MiB = 1 << 20;
const LS = "STATACQ";
const RES = "waiting";

t.test("STATUS lists a resource whose acquire waits for its first read", { skip: daemonSkipReason("sanlock-ts") || stallFsSkipReason() }, async (t) => {
  const fs = await mountStallFs(t, { files: { res: MiB }, maxStallSeconds: 60 });
  const dir = tempLeaseDir(t, "status-acquiring-");
  const daemon = await startDaemon(t, { kind: "sanlock-ts", dir });
  t.teardown(() => fs.unstall()); // before the daemon is killed (teardowns run last-in first-out)
  const client = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 30_000 });
  const lockspaceFile = sparseFile(dir, "ls", MiB);
  await client.writeLockspace(LS, lockspaceFile, { iotimeout: 1 });
  await client.addLockspace(LS, 1, lockspaceFile, { iotimeout: 1 });
  const disks = [{ path: fs.path("res"), offset: 0 }];
  await client.writeResource(LS, RES, disks);

  fs.stall();
  const registration = await client.register();
  t.teardown(() => registration.close());
  const acquired = client.acquire(LS, RES, disks, { registration }).then(
    () => "acquired",
    (err: Error) => err.message,
  );
  let record: { list: string; state: Record<string, string> } | undefined;
  for (let i = 0; i < 100 && record === undefined; i++) {
    const status = await client.status(); // before the fix: rejected, the handler threw on the unknown geometry
    record = status.resources.find((r) => r.resource === RES);
    if (record === undefined) await sleep(100);
  }
  t.ok(record, "STATUS answered and lists the resource being acquired");
  t.match(record?.state, { list: "add", sector_size: "0", align_size: "0" }, "sizes 0 until the leader was read, list add");

  fs.unstall();
  t.equal(await acquired, "acquired", "the acquire completes once the disk answers");
  const held = (await client.status()).resources.find((r) => r.resource === RES);
  t.match(held?.state, { list: "held", sector_size: "512", align_size: "1048576" }, "then the leader's sizes");
});
