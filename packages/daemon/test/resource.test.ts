/**
 * Resource leases held for local clients (resources/resource-manager.ts) on real lease
 * files (O_DIRECT) in a joined lockspace with io_timeout 1: the same-host rules, all or
 * nothing, who may release, orphans, the LVB, client exit, and docs/algorithms.md §7.11 rule 3.
 */
import { Socket } from "node:net";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import t from "tap";
import type { Test } from "tap";
import { AcquireFlag, Errno, ResFlag, disk, resource, type SanlkResource } from "@sanlock-ts/client";
import { decodeLeader, geometryFor, initLockspaceArea, initResourceArea } from "@sanlock-ts/core";
import { Connection } from "../src/connection.js";
import { openDirectDevice } from "../src/device/index.js";
import { DaemonLog } from "../src/log.js";
import { createLeaseEngine } from "../src/handlers/engine.js";
import type { LockspaceSet } from "../src/lockspaces/lockspace-set.js";
import { tempLeaseDir } from "../../../test/support/index.js";

const MB = 1048576;
const LS = "RESLS";
const GEOMETRY = geometryFor(512, MB);

interface Setup {
  engine: LockspaceSet;
  resFile: string;
  res(name: string, index: number, fields?: Partial<SanlkResource>): SanlkResource;
  client(pid: number): Connection;
  leaderOf(index: number): Promise<{ timestamp: bigint; ownerId: number; lver: bigint }>;
}

let nextCi = 100;

async function setup(t: Test): Promise<Setup> {
  const dir = tempLeaseDir(t, "slts-res-");
  const lsFile = join(dir, "ls");
  const resFile = join(dir, "res");
  writeFileSync(lsFile, new Uint8Array(MB));
  writeFileSync(resFile, new Uint8Array(4 * MB));
  const lsDev = await openDirectDevice(lsFile);
  await initLockspaceArea(lsDev, { offset: 0, spaceName: LS, geometry: GEOMETRY, ioTimeout: 1 });
  await lsDev.close();
  const resDev = await openDirectDevice(resFile);
  for (let i = 0; i < 4; i++) await initResourceArea(resDev, { offset: i * MB, spaceName: LS, resourceName: `R${i}`, geometry: GEOMETRY });
  await resDev.close();

  // The test's clients are not processes: "killing" a holder means its connection closes.
  const engine: LockspaceSet = createLeaseEngine({
    log: new DaemonLog({ monotonicSeconds: () => Math.floor(performance.now() / 1000) }),
    killHolders: (_ls, holders) => holders.forEach((h) => h.conn && engine.clientGone(h.conn)),
  });
  const added = engine.add({ name: LS, hostId: 1, path: lsFile, offset: 0n, ioTimeout: 1, hostName: "res-test" });
  t.equal(added.result, 0);
  t.equal(await added.done, 0, "lockspace joined");
  t.teardown(() => engine.removeAll());
  const sockets: Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  return {
    engine,
    resFile,
    res: (name, index, fields = {}) => ({ ...resource(LS, name, [disk(resFile, BigInt(index * MB))]), ...fields }),
    client: (pid) => {
      const socket = new Socket();
      sockets.push(socket);
      const conn = new Connection(nextCi++, socket, -1);
      conn.registered = true;
      conn.pid = pid;
      return conn;
    },
    leaderOf: async (index) => {
      const dev = await openDirectDevice(resFile);
      try {
        const leader = decodeLeader(await dev.read(index * MB, 512), 0, { kind: "paxos" });
        return { timestamp: leader.timestamp, ownerId: leader.ownerId, lver: leader.lver };
      } finally {
        await dev.close();
      }
    },
  };
}

const waitUntil = async (check: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
};

t.test("same-host rules: exclusive once, shared together, only the holder releases", async (t) => {
  const s = await setup(t);
  const rm = s.engine.resources;
  const [c1, c2, c3] = [s.client(1001), s.client(1002), s.client(1003)];
  t.equal(await rm.acquire(c1, { resources: [s.res("R0", 0)], flags: 0 }), 0, "c1 holds R0");
  t.equal((await s.leaderOf(0)).ownerId, 1, "on disk: host 1 owns R0");
  t.equal(await rm.acquire(c2, { resources: [s.res("R0", 0)], flags: 0 }), -Errno.EEXIST, "another local client: EEXIST");
  t.equal(
    await rm.acquire(c2, { resources: [s.res("R0", 0, { flags: ResFlag.SHARED })], flags: 0 }),
    -Errno.EEXIST,
    "shared on a locally exclusive lease: EEXIST",
  );
  t.equal(await rm.releaseNamed(c2, [s.res("R0", 0)]), -Errno.EPERM, "a client that does not hold R0 cannot release it");
  t.equal((await s.leaderOf(0)).ownerId, 1, "R0 still owned");

  const sh = s.res("R1", MB / MB, { flags: ResFlag.SHARED });
  t.equal(await rm.acquire(c2, { resources: [sh], flags: 0 }), 0, "c2 holds R1 shared");
  t.equal(await rm.acquire(c3, { resources: [sh], flags: 0 }), 0, "c3 holds R1 shared too (no disk I/O)");
  t.equal(await rm.acquire(c1, { resources: [s.res("R1", 1)], flags: 0 }), -Errno.EEXIST, "exclusive on a shared lease: EEXIST");
  t.equal(await rm.releaseNamed(c2, [sh]), 0, "c2 lets go");
  t.equal(rm.tokens.get(LS, "R1")?.tokens.length, 1, "c3 still holds R1");
  t.equal(await rm.releaseNamed(c3, [sh]), 0);
  t.equal(rm.tokens.get(LS, "R1"), undefined, "the last shared holder released the on-disk mark");

  t.equal(await rm.releaseNamed(c1, [s.res("R0", 0)]), 0, "c1 releases R0");
  t.equal((await s.leaderOf(0)).timestamp, 0n, "on disk: R0 free");
});

t.test("a second acquire while the first is on disk gets EBUSY; all or nothing", async (t) => {
  const s = await setup(t);
  const rm = s.engine.resources;
  const [c1, c2] = [s.client(2001), s.client(2002)];
  const first = rm.acquire(c1, { resources: [s.res("R0", 0)], flags: 0 });
  const second = rm.acquire(c2, { resources: [s.res("R0", 0)], flags: 0 });
  t.same(await Promise.all([first, second]), [0, -Errno.EBUSY], "being acquired on this host: EBUSY");

  const result = await rm.acquire(c2, { resources: [s.res("R2", 2), s.res("WRONG", 3)], flags: 0 });
  t.equal(result, -227, "the second lease's name differs on disk: SANLK_LEADER_RESOURCE");
  t.equal(rm.tokens.get(LS, "R2"), undefined, "the first lease of the request was given up");
  t.equal((await s.leaderOf(2)).timestamp, 0n, "and released on disk");
  t.same(rm.tokens.clientTokens(c2), [], "c2 holds nothing");
});

t.test("client exit: leases released in the background; persistent ones become orphans", async (t) => {
  const s = await setup(t);
  const rm = s.engine.resources;
  const c1 = s.client(3001);
  t.equal(await rm.acquire(c1, { resources: [s.res("R0", 0), s.res("R1", 1, { flags: ResFlag.PERSISTENT })], flags: 0 }), 0);
  s.engine.clientGone(c1);
  t.ok(await waitUntil(async () => (await s.leaderOf(0)).timestamp === 0n), "R0 released on disk after the client left");
  const orphan = rm.tokens.get(LS, "R1");
  t.equal(orphan?.tokens[0]?.conn, undefined, "R1 kept as an orphan");
  t.not((await s.leaderOf(1)).timestamp, 0n, "still owned on disk");

  const c2 = s.client(3002);
  t.equal(await rm.acquire(c2, { resources: [s.res("R1", 1)], flags: 0 }), -Errno.EUCLEAN, "an orphan must be adopted explicitly");
  t.equal(
    await rm.acquire(c2, { resources: [s.res("R1", 1, { flags: ResFlag.SHARED })], flags: AcquireFlag.ORPHAN }),
    -Errno.EUCLEAN,
    "adoption only in the orphan's mode",
  );
  t.equal(await rm.acquire(c2, { resources: [s.res("R1", 1)], flags: AcquireFlag.ORPHAN }), 0, "adopted");
  t.equal(rm.tokens.clientTokens(c2).length, 1);
  s.engine.clientGone(c2);
  t.equal(rm.releaseOrphans(LS, "R1"), 1, "REL_ORPHAN counts the orphans queued");
  t.ok(await waitUntil(async () => (await s.leaderOf(1)).timestamp === 0n), "the orphan is released on disk");
});

t.test("LVB: set by the holder, written at release, read back by the next holder", async (t) => {
  const s = await setup(t);
  const rm = s.engine.resources;
  const c1 = s.client(4001);
  t.equal(await rm.acquire(c1, { resources: [s.res("R3", 3)], flags: AcquireFlag.LVB }), 0);
  t.equal(rm.setLvb(LS, "R3", new TextEncoder().encode("value-1")), 0);
  t.equal(rm.setLvb(LS, "R0", new Uint8Array(1)), -Errno.ENOENT, "not held: ENOENT");
  t.equal(await rm.releaseNamed(c1, [s.res("R3", 3)]), 0);
  const c2 = s.client(4002);
  t.equal(await rm.acquire(c2, { resources: [s.res("R3", 3)], flags: AcquireFlag.LVB }), 0);
  const got = rm.getLvb(LS, "R3", 7);
  t.equal(got.result, 0);
  t.equal(new TextDecoder().decode(got.data), "value-1", "the LVB survived the release");
  t.equal(await rm.acquire(c2, { resources: [s.res("R0", 0)], flags: 0 }), 0);
  t.equal(rm.setLvb(LS, "R0", new Uint8Array(1)), -Errno.EINVAL, "held without ACQUIRE_LVB: EINVAL");
});

t.test("a lease is not handed to a client whose lockspace failed during the acquire (§7.11 rule 3)", async (t) => {
  const s = await setup(t);
  const rm = s.engine.resources;
  const c1 = s.client(5001);
  const ls = s.engine.active(LS);
  t.ok(ls);
  const pending = rm.acquire(c1, { resources: [s.res("R0", 0)], flags: 0 });
  ls?.enterRecovery("test: lockspace failed while acquiring");
  t.equal(await pending, -Errno.ENOSPC, "the acquire fails");
  t.same(rm.tokens.clientTokens(c1), [], "nothing linked to the client");
  t.equal(rm.tokens.get(LS, "R0"), undefined, "dropped locally without disk I/O (§7.11 rule 10)");
  t.equal(await rm.acquire(c1, { resources: [s.res("R1", 1)], flags: 0 }), -Errno.ENOSPC, "no acquire in a failed lockspace");
});

t.test("a client that died during the acquire gets ENOTTY and the lease is released again", async (t) => {
  const s = await setup(t);
  const rm = s.engine.resources;
  const c1 = s.client(6001);
  const pending = rm.acquire(c1, { resources: [s.res("R2", 2)], flags: 0 });
  c1.pidDead = true;
  t.equal(await pending, -Errno.ENOTTY);
  t.equal((await s.leaderOf(2)).timestamp, 0n, "released on disk");
});
