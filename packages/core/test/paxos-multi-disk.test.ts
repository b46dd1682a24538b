// Resource leases on several disks (docs/algorithms.md §4.11): majority phases, leader agreement,
// a failed or stalled disk, and the byte layout every disk gets.
import t from "tap";
import {
  LeaseError,
  MemoryDevice,
  PaxosLease,
  SeededRandom,
  VirtualClock,
  isMajority,
  readLeaderFields,
  readResourceOwners,
  type BlockDevice,
  type LeaderRecord,
  type PaxosHost,
  type ResourceLocation,
} from "../src/index.js";
import { drive, placeResource } from "./delta-harness.js";

const MiB = 1048576;
const IO_TIMEOUT = 2;

/** A disk that works, fails every I/O (EIO), or never completes an I/O (a stalled path). */
class FaultyDisk implements BlockDevice {
  state: "ok" | "fail" | "stall" = "ok";
  ios = 0;
  writes = 0;
  constructor(readonly mem: MemoryDevice) {}
  get sectorSize(): number {
    return this.mem.sectorSize;
  }
  size(): Promise<number> {
    return this.mem.size();
  }
  private gate(): Promise<void> | undefined {
    this.ios++;
    if (this.state === "fail") return Promise.reject(Object.assign(new Error("EIO"), { code: "EIO" }));
    if (this.state === "stall") return new Promise(() => undefined);
    return undefined;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return (this.gate() as Promise<never> | undefined) ?? this.mem.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.writes++;
    return this.gate() ?? this.mem.write(offset, data);
  }
  close(): Promise<void> {
    return this.mem.close();
  }
}

/** `count` disks, each with the resource area of R at a different offset (as a user may place them). */
function makeDisks(count: number): { disks: FaultyDisk[]; location: ResourceLocation } {
  const disks: FaultyDisk[] = [];
  const places: { device: FaultyDisk; offset: number }[] = [];
  for (let i = 0; i < count; i++) {
    const mem = new MemoryDevice({ sectorSize: 512, size: 4 * MiB });
    const offset = i * MiB;
    placeResource(mem, offset, "R");
    const disk = new FaultyDisk(mem);
    disks.push(disk);
    places.push({ device: disk, offset });
  }
  const [first, ...rest] = places;
  return { disks, location: { resource: "R", ...first!, otherDisks: rest } };
}

function leaderOn(disks: FaultyDisk[], index: number): LeaderRecord {
  const offset = index * MiB;
  return readLeaderFields(disks[index]!.mem.contents, offset);
}

/** host_id `hostId`; other hosts look alive (their delta timestamp advances on every read). */
function host(clock: VirtualClock, hostId: number): PaxosHost {
  let renewals = 100n;
  return {
    lockspace: "LS",
    hostId,
    generation: 1n,
    ioTimeout: IO_TIMEOUT,
    clock,
    random: new SeededRandom(hostId),
    liveness: { snapshot: () => undefined, isSharedHolderAlive: () => true },
    readDeltaRecord: async (id: number) => ({ ownerId: id, ownerGeneration: 1n, timestamp: renewals++, ioTimeout: IO_TIMEOUT }) as never,
  };
}

function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

t.test("majority of N disks is more than half (sanlock's majority_disks)", async (t) => {
  t.same(
    [1, 2, 3, 4].map((n) => Array.from({ length: n + 1 }, (_, k) => isMajority(k, n))),
    [
      [false, true],
      [false, false, true],
      [false, false, true, true],
      [false, false, false, true, true],
    ],
  );
});

t.test("acquire and release on three healthy disks write the same leader to every disk", async (t) => {
  const clock = new VirtualClock(1000);
  const { disks, location } = makeDisks(3);
  const lease = new PaxosLease(host(clock, 1), location);
  await drive(clock, lease.acquire());
  const held = [0, 1, 2].map((i) => leaderOn(disks, i));
  for (const leader of held) {
    t.equal(leader.ownerId, 1, "owner host_id 1 on this disk");
    t.equal(leader.lver, 1n, "lver 1 on this disk");
    t.not(leader.timestamp, 0n, "held");
  }
  t.same(held[1], held[0], "disk 2 holds the leader of disk 1");
  t.same(held[2], held[0], "disk 3 holds the leader of disk 1");
  await drive(clock, lease.release());
  for (const i of [0, 1, 2]) t.equal(leaderOn(disks, i).timestamp, 0n, `disk ${i + 1}: released`);
});

t.test("one failed disk of three: the acquire succeeds on the other two, and a second host sees the owner", async (t) => {
  const clock = new VirtualClock(1000);
  const { disks, location } = makeDisks(3);
  disks[1]!.state = "fail";
  const lease = new PaxosLease(host(clock, 1), location);
  await drive(clock, lease.acquire());
  t.equal(leaderOn(disks, 0).ownerId, 1, "disk 1 names host_id 1");
  t.equal(leaderOn(disks, 2).ownerId, 1, "disk 3 names host_id 1");
  t.equal(leaderOn(disks, 1).timestamp, 0n, "the failed disk still has the free leader");
  // The failed disk comes back with its stale (free) leader: the majority still names host 1.
  disks[1]!.state = "ok";
  const err = await drive(clock, failure(new PaxosLease(host(clock, 2), location).acquire()));
  t.ok(err instanceof LeaseError && err.result === -243, `host 2 finds the owner alive (${String(err)})`);
  t.equal(leaderOn(disks, 0).ownerId, 1, "the leader is unchanged");
});

t.test("one stalled disk of three: the acquire succeeds, waiting one io_timeout per step, not per disk", async (t) => {
  const clock = new VirtualClock(1000);
  const { disks, location } = makeDisks(3);
  disks[2]!.state = "stall";
  const start = clock.now();
  const lease = new PaxosLease(host(clock, 1), location);
  await drive(clock, lease.acquire());
  const took = clock.now() - start;
  // Six steps (read, write+read twice, leader write), each waits at most io_timeout for the stalled disk.
  t.ok(took <= 6 * IO_TIMEOUT + 1, `took ${took} s of virtual time`);
  t.equal(leaderOn(disks, 0).ownerId, 1, "disk 1 names host_id 1");
  t.equal(leaderOn(disks, 1).ownerId, 1, "disk 2 names host_id 1");
});

t.test("two failed disks of three: no majority, the acquire fails and changes no leader", async (t) => {
  const clock = new VirtualClock(1000);
  const { disks, location } = makeDisks(3);
  disks[0]!.state = "fail";
  disks[2]!.state = "fail";
  const err = await drive(clock, failure(new PaxosLease(host(clock, 1), location).acquire()));
  // One readable disk gives the largest mbal but its leader is not on a majority: SANLK_LEADER_DIFF.
  t.ok(err instanceof LeaseError && err.result === -222, `LEADER_DIFF (${String(err)})`);
  t.equal(leaderOn(disks, 1).timestamp, 0n, "the healthy disk's leader is still free");
});

t.test("two failed disks of four: half is not a majority", async (t) => {
  const clock = new VirtualClock(1000);
  const { disks, location } = makeDisks(4);
  disks[1]!.state = "fail";
  disks[3]!.state = "fail";
  const err = await drive(clock, failure(new PaxosLease(host(clock, 1), location).acquire()));
  t.ok(err instanceof LeaseError, `fails (${String(err)})`);
  for (const i of [0, 2]) t.equal(leaderOn(disks, i).timestamp, 0n, `disk ${i + 1}: no leader written`);
});

t.test("leaders that differ on every disk: LEADER_DIFF, nothing written", async (t) => {
  const clock = new VirtualClock(1000);
  const { disks, location } = makeDisks(3);
  // Give each disk a different owner by acquiring on each disk alone as a different host.
  for (const i of [0, 1, 2]) {
    const single: ResourceLocation = { resource: "R", device: disks[i]!, offset: i * MiB };
    await drive(clock, new PaxosLease(host(clock, i + 1), single).acquire());
  }
  const before = disks.map((d) => ({ ios: d.ios, writes: d.writes }));
  const err = await drive(clock, failure(new PaxosLease(host(clock, 4), location).acquire()));
  t.ok(err instanceof LeaseError && err.result === -222, `LEADER_DIFF (${String(err)})`);
  t.same(
    disks.map((d, i) => d.writes - before[i]!.writes),
    [0, 0, 0],
    "no disk written",
  );
  t.ok(
    disks.every((d, i) => d.ios > before[i]!.ios),
    "every disk read",
  );
});

t.test("two hosts contending on three disks with one disk failing for one host: one owner", async (t) => {
  const clock = new VirtualClock(1000);
  const { location } = makeDisks(3);
  // Host 2 cannot reach disk 1 (a path failure on that host only).
  const disk1 = location.device as FaultyDisk;
  const brokenPath = new FaultyDisk(disk1.mem);
  brokenPath.state = "fail";
  const host2Location: ResourceLocation = { ...location, device: brokenPath };
  const a = new PaxosLease(host(clock, 1), location);
  const b = new PaxosLease(host(clock, 2), host2Location);
  const results = await drive(clock, Promise.allSettled([a.acquire(), b.acquire()]));
  const winners = results.filter((r) => r.status === "fulfilled").length;
  t.equal(winners, 1, `exactly one acquire succeeds (${results.map((r) => r.status).join(", ")})`);
});

t.test("read_resource_owners reads the owner a majority of the disks agree on", async (t) => {
  const clock = new VirtualClock(1000);
  const { location } = makeDisks(3);
  await drive(clock, new PaxosLease(host(clock, 5), location).acquire());
  const owners = await drive(clock, readResourceOwners("LS", location, clock, IO_TIMEOUT));
  t.same(
    owners.map((o) => [o.hostId, o.shared]),
    [[5, false]],
  );
});
