/**
 * Lock-manager scenario 11 (docs/lockmanager.md §10): two hosts configured with the same host_id on
 * one `disk_lease_dir`. Host A (the real sanlock daemon) joins __LIBVIRT__DISKS__ first; host B (a
 * sanlock-ts daemon) then finds host id 1 renewed by another host:
 *
 * - B's init resolves (libvirt's quirk Q2: the plugin keeps running) with `lockspaceError` holding
 *   SANLK_HOSTID_BUSY (-262). `strictInit`, which rejects with that failure instead, is a unit test
 *   (packages/client/test/lockmanager-units.test.ts): a second busy join here would wait again;
 * - B's later acquire of an automatic disk lease fails as libvirt's does: ERR_ACQUIRE,
 *   "Failed to acquire lock: No space left on device" (-ENOSPC: the lockspace is not joined);
 * - A, meanwhile, acquires the same disk's lease.
 *
 * A busy host id shows only after the joining daemon watched the record for 8 × io_timeout + 60 s
 * (docs/algorithms.md §2.2 step 5): about 68 s here with io_timeout 1, the bulk of this file's time.
 */
import t from "tap";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LockManagerError, LockManagerErrorCode, SanlockLockDriver } from "../packages/client/src/lockmanager/index.js";
import { SanlockClient } from "../packages/client/src/client.js";
import { daemonSkipReason, startDaemon, tempLeaseDir } from "./support/index.js";

const UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
/** SANLK_HOSTID_BUSY: the delta lease of the host id is renewed by another host. */
const HOSTID_BUSY = -262;

t.test(
  "11: two hosts with one host_id: the second is told the host id is busy, and cannot acquire",
  { skip: daemonSkipReason(["sanlock-ts", "sanlock"]) },
  async (t) => {
    const dir = tempLeaseDir(t, "lockmgr-hostid-");
    const leaseDir = join(dir, "leases");
    mkdirSync(leaseDir);
    const configFile = join(dir, "qemu-sanlock.conf");
    writeFileSync(configFile, `auto_disk_leases = 1\ndisk_lease_dir = "${leaseDir}"\nhost_id = 1\nio_timeout = 1\n`);
    const [hostA, hostB] = await Promise.all([
      startDaemon(t, { kind: "sanlock", label: "host A (sanlock)", dir }),
      startDaemon(t, { kind: "sanlock-ts", label: "host B (sanlock-ts)", dir }),
    ]);
    const driverA = await SanlockLockDriver.init({ configFile, socketPath: hostA.socketPath, strictInit: true });
    t.equal(driverA.lockspaceError, null, "host A joined __LIBVIRT__DISKS__ as host 1");

    const initAt = Date.now();
    const driverB = await SanlockLockDriver.init({ configFile, socketPath: hostB.socketPath });
    t.comment(`host B's init took ${Date.now() - initAt} ms`);
    const failure = driverB.lockspaceError;
    t.ok(failure instanceof LockManagerError, "host B's init resolves (quirk Q2) with the join failure kept");
    t.match(failure, { code: LockManagerErrorCode.LOCKSPACE_SETUP, sanlockResult: HOSTID_BUSY }, "SANLK_HOSTID_BUSY");
    t.match(failure?.message ?? "", /^Unable to add lockspace .*__LIBVIRT__DISKS__: Lease host ID is being used by another host$/, "libvirt's text");
    const clientB = new SanlockClient({ runDir: hostB.runDir, timeoutMs: 10_000 });
    t.same(
      (await clientB.getLockspaces()).map((l) => l.lockspace),
      [],
      "host B has not joined",
    );

    // B's workload (this process registers, as QEMU would) asks for the automatic disk lease.
    const disk = join(dir, "guest.img");
    const managerB = await driverB.newManager("domain", { uuid: UUID, name: "guest-b", pid: process.pid }, { started: true });
    await managerB.addResource("disk", disk);
    const refused = await managerB.acquire().then(
      () => undefined,
      (err: unknown) => err,
    );
    t.match(
      refused,
      { code: LockManagerErrorCode.ACQUIRE, virError: "SYSTEM_ERROR", message: "Failed to acquire lock: No space left on device" },
      "libvirt's message for -ENOSPC",
    );
    managerB.free();

    // Host A, the rightful host 1, takes the same disk's lease (this process as its registered workload).
    const managerA = await driverA.newManager("domain", { uuid: UUID, name: "guest-a", pid: process.pid }, { started: true });
    await managerA.addResource("disk", disk);
    const { registration } = await managerA.acquire();
    t.ok(registration, "host A registered and acquired");
    t.teardown(() => registration?.close());
    const clientA = new SanlockClient({ runDir: hostA.runDir, timeoutMs: 10_000 });
    t.match(
      (await clientA.status()).resources.filter((r) => r.lockspace === "__LIBVIRT__DISKS__"),
      [{ pid: process.pid, list: "held" }],
      "host A holds the disk lease host B was refused",
    );
    managerA.free();
  },
);
