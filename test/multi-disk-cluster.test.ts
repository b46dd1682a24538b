/**
 * Resource leases on three disks (docs/algorithms.md §4.11) between the real sanlock 3.8.5 (host 1)
 * and sanlock-ts (host 2), on one lockspace (io_timeout 1) and three lease files:
 * - write_resource through either daemon writes the same bytes to every disk;
 * - whoever holds the lease, the other host's exclusive acquire is refused (SANLK_ACQUIRE_IDLIVE),
 *   and every disk's leader names the holder;
 * - with the third disk gone (its file renamed: the open fails), sanlock-ts acquires on the other two
 *   and the real sanlock is refused; the real sanlock 3.8.5 cannot acquire with a disk it could not
 *   open at all (-EBADF), where sanlock-ts goes on with a majority (docs/algorithms.md §4.11).
 */
import { renameSync } from "node:fs";
import t from "tap";
import { SanlockClient } from "../packages/client/src/index.js";
import {
  bytesEqual,
  daemonSkipReason,
  readArea,
  readResourceLeader,
  sparseFile,
  startDaemon,
  startLeaseHolder,
  tempLeaseDir,
  type TestDaemon,
} from "./support/index.js";

const LS = "MULTI";
const IO_TIMEOUT = 1;
const MiB = 1 << 20;
const SANLK_ACQUIRE_IDLIVE = -243;
const EBADF = 9;

t.test(
  "a three-disk resource shared by a real sanlock host and a sanlock-ts host",
  { skip: daemonSkipReason(["sanlock", "sanlock-ts"]), timeout: 150_000 },
  async (t) => {
    const dir = tempLeaseDir(t, "multi-disk-");
    const lsPath = sparseFile(dir, "lockspace", MiB);
    const paths = ["disk-a", "disk-b", "disk-c"].map((name) => sparseFile(dir, name, 2 * MiB));
    // The lease on each disk at a different offset, as a user may place it.
    const disks = paths.map((path, i) => ({ path, offset: (i % 2) * MiB }));
    const lease = { lockspace: LS, resource: "MD", disks };
    const real = await startDaemon(t, { kind: "sanlock", label: "host 1 (sanlock)", dir });
    const ours = await startDaemon(t, { kind: "sanlock-ts", label: "host 2 (sanlock-ts)", dir });
    const realClient = new SanlockClient({ runDir: real.runDir });
    const ourClient = new SanlockClient({ runDir: ours.runDir });
    const areas = (): Promise<Uint8Array[]> => Promise.all(disks.map((d) => readArea(d.path, d.offset, MiB)));

    await ourClient.writeResource(LS, "MD", disks);
    const written = await areas();
    await realClient.writeResource(LS, "MD", disks);
    const reference = await areas();
    t.ok(
      reference.every((area, i) => bytesEqual(area, written[i]!)),
      "sanlock-ts wrote the bytes the real sanlock writes, on every disk",
    );
    t.ok(
      reference.every((area) => bytesEqual(area, reference[0]!)),
      "every disk holds the same area",
    );

    await realClient.writeLockspace(LS, lsPath, { iotimeout: IO_TIMEOUT });
    await Promise.all([realClient.addLockspace(LS, 1, lsPath, { iotimeout: IO_TIMEOUT }), ourClient.addLockspace(LS, 2, lsPath, { iotimeout: IO_TIMEOUT })]);

    const leaders = (): Promise<number[]> => Promise.all(disks.map(async (d) => (await readResourceLeader(d.path, d.offset)).ownerId));
    const holdThenRefuse = async (holderHost: TestDaemon, otherHost: TestDaemon, ownerId: number, step: string): Promise<void> => {
      const holder = startLeaseHolder(t, holderHost, { label: `holder on ${holderHost.label}`, ...lease });
      await holder.waitFor("acquired", 20_000);
      const contender = startLeaseHolder(t, otherHost, { label: `contender on ${otherHost.label}`, ...lease });
      await contender.waitFor("gave-up", 30_000);
      t.notOk(
        contender.events.some((e) => e.event === "acquired"),
        `${step}: ${otherHost.label} is refused while ${holderHost.label} holds the lease`,
      );
      const refusal = contender.events.find((e) => e.event === "refused");
      t.equal(refusal?.errno, SANLK_ACQUIRE_IDLIVE, `${step}: with SANLK_ACQUIRE_IDLIVE (${JSON.stringify(refusal)})`);
      const owners = await leaders();
      t.ok(owners.filter((o) => o === ownerId).length >= 2, `${step}: a majority of the disks name host ${ownerId} (${owners.join(", ")})`);
      holder.release();
      await holder.waitFor("released", 15_000);
    };

    await holdThenRefuse(real, ours, 1, "all disks, real sanlock holds");
    t.same(await leaders(), [1, 1, 1], "the real sanlock wrote its leader to every disk");
    await holdThenRefuse(ours, real, 2, "all disks, sanlock-ts holds");
    t.same(await leaders(), [2, 2, 2], "sanlock-ts wrote its leader to every disk");

    // The third disk disappears for both hosts: a majority (two of three) is left. sanlock-ts
    // acquires on it. The real sanlock 3.8.5 opens the majority but its acquire then fails with
    // -EBADF (the disk it could not open), whoever holds the lease: it never acquires here.
    renameSync(paths[2]!, `${paths[2]}.gone`);
    const left = disks.slice(0, 2);
    const holder = startLeaseHolder(t, ours, { label: "holder on host 2, disk 3 gone", ...lease });
    await holder.waitFor("acquired", 20_000);
    t.same(
      await Promise.all(left.map(async (d) => (await readResourceLeader(d.path, d.offset)).ownerId)),
      [2, 2],
      "disk 3 gone: the two disks left name host 2",
    );
    const contender = startLeaseHolder(t, real, { label: "contender on host 1, disk 3 gone", ...lease });
    await contender.waitFor("gave-up", 30_000);
    t.notOk(
      contender.events.some((e) => e.event === "acquired"),
      "disk 3 gone: the real sanlock is refused while sanlock-ts holds the lease",
    );
    t.equal(contender.events.find((e) => e.event === "refused")?.errno, EBADF, "disk 3 gone: the real sanlock answers -EBADF (3.8.5)");
    holder.release();
    await holder.waitFor("released", 15_000);
    t.same(
      await Promise.all(left.map(async (d) => (await readResourceLeader(d.path, d.offset)).timestamp)),
      [0n, 0n],
      "disk 3 gone: released on both disks left",
    );
  },
);
