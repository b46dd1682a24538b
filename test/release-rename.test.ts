/**
 * REL_RENAME (sanlock_release with SANLK_REL_RENAME; the client's `release(..., { renameTo })`):
 * the lease is freed on disk with the new resource name written into its leader, on the real
 * sanlock 3.8.5 (the reference) and on sanlock-ts. A rename of a resource the caller does not
 * hold fails and leaves the leader's name alone.
 */
import t, { type Test } from "tap";
import { SanlockClient, SanlockError } from "../packages/client/src/index.js";
import { type DaemonKind, daemonSkipReason, sparseFile, startDaemon, tempLeaseDir } from "./support/index.js";

const MiB = 1 << 20;
const LS = "RENLS";

async function renameOnRelease(t: Test, kind: DaemonKind): Promise<void> {
  const dir = tempLeaseDir(t, "release-rename-");
  const lsPath = sparseFile(dir, "lockspace", MiB);
  const resPath = sparseFile(dir, "resource", MiB);
  const daemon = await startDaemon(t, { kind, label: `${kind} daemon`, dir });
  const client = new SanlockClient({ runDir: daemon.runDir, timeoutMs: 30_000 });
  const disks = [{ path: resPath, offset: 0 }];
  await client.writeLockspace(LS, lsPath, { iotimeout: 1 });
  await client.addLockspace(LS, 1, lsPath, { iotimeout: 1 });
  await client.writeResource(LS, "OLD", disks);

  const registration = await client.register();
  t.teardown(() => registration.close());
  await client.acquire(LS, "OLD", disks, { registration });
  const refused = await client.release(LS, "OTHER", disks, { registration, renameTo: "NEVER" }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(refused instanceof SanlockError, `renaming a resource not held fails: ${String(refused)}`);
  t.equal((await client.readResource(resPath)).resource, "OLD", "the held lease keeps its name");

  await client.release(LS, "OLD", disks, { registration, renameTo: "NEW" });
  const after = await client.readResource(resPath);
  t.equal(after.resource, "NEW", "the freed leader carries the new name");
  t.equal(after.version, 1n, "at the version that was held");
  await client.acquire(LS, "NEW", disks, { registration });
  t.pass("the lease is acquirable under its new name");
}

for (const kind of ["sanlock", "sanlock-ts"] as const) {
  t.test(`${kind}: release with rename`, { skip: daemonSkipReason([kind]) }, (t) => renameOnRelease(t, kind));
}
