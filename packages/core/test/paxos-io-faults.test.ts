// Failure paths of paxos leases: timed-out I/O, num_hosts limits, retraction.
import t from "tap";
import {
  LeaseError,
  MemoryDevice,
  PaxosLease,
  SeededRandom,
  VirtualClock,
  DBLOCK_FL_RELEASED,
  decodeDblockSector,
  readLeaderFields,
  type BlockDevice,
  type PaxosHost,
} from "../src/index.js";
import { drive, placeResource } from "./delta-harness.js";

const MiB = 1048576;

function host(clock: VirtualClock, hostId: number): PaxosHost {
  return {
    lockspace: "LS",
    hostId,
    generation: 1n,
    ioTimeout: 2,
    clock,
    random: new SeededRandom(hostId),
    liveness: { snapshot: () => undefined, isSharedHolderAlive: () => true },
    readDeltaRecord: async () => {
      throw new Error("not used");
    },
  };
}

/** Device whose writes at chosen offsets never complete (a stalled I/O that may land later). */
class StallingDevice implements BlockDevice {
  readonly stalledWrites: number[] = [];
  constructor(
    private readonly inner: MemoryDevice,
    private readonly stallWrite: (offset: number, nth: number) => boolean,
  ) {}
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  private writes = 0;
  write(offset: number, data: Uint8Array): Promise<void> {
    this.writes++;
    if (this.stallWrite(offset, this.writes)) {
      this.stalledWrites.push(offset);
      return new Promise(() => undefined);
    }
    return this.inner.write(offset, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

t.test("a phase-2 write that times out fails the acquire (-202 path) and retracts our dblock", async (t) => {
  const mem = new MemoryDevice({ sectorSize: 512, size: 2 * MiB });
  placeResource(mem, 0, "R");
  // write 1 = phase 1, write 2 = phase 2 (stalls), later writes (retraction) complete
  const dev = new StallingDevice(mem, (_offset, nth) => nth === 2);
  const clock = new VirtualClock(500);
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: dev, offset: 0 });
  const start = clock.now();
  const err = await drive(
    clock,
    lease.acquire().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(err instanceof LeaseError && err.result === -211, `phase-2 failure reported (${String(err)})`);
  t.ok(clock.now() - start >= 2, "waited the io_timeout for the stalled write");
  t.equal(readLeaderFields(mem.contents, 0).timestamp, 0n, "leader never written");
  const ours = decodeDblockSector(mem.contents, 2 * 512);
  t.ok(ours.dblock.flags & DBLOCK_FL_RELEASED, "our dblock marked RELEASED so nobody continues our proposal");
  t.equal(lease.mode, undefined);
});

t.test("num_hosts committed by an acquire limits who may use the lease", async (t) => {
  const mem = new MemoryDevice({ sectorSize: 512, size: 2 * MiB });
  placeResource(mem, 0, "R");
  const clock = new VirtualClock(500);
  const one = new PaxosLease(host(clock, 1), { resource: "R", device: mem, offset: 0 });
  await drive(clock, one.acquire({ numHosts: 4 }));
  t.equal(readLeaderFields(mem.contents, 0).numHosts, 4);
  await drive(clock, one.release());
  const five = new PaxosLease(host(clock, 5), { resource: "R", device: mem, offset: 0 });
  const err = await drive(
    clock,
    five.acquire().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(err instanceof LeaseError && err.result === -228, "host_id 5 > num_hosts 4: -228");
});

t.test("required lver and a cleared lease are refused", async (t) => {
  const mem = new MemoryDevice({ sectorSize: 512, size: 2 * MiB });
  placeResource(mem, 0, "R");
  const clock = new VirtualClock(500);
  const lease = new PaxosLease(host(clock, 1), { resource: "R", device: mem, offset: 0 });
  const wrong = await drive(
    clock,
    lease.acquire({ requiredLver: 3n }).then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(wrong instanceof LeaseError && wrong.result === -240, "lver 0 is not the required 3: -240");
  new DataView(mem.contents.buffer).setUint32(0, 0x11282016, true);
  const cleared = await drive(
    clock,
    lease.acquire().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  t.ok(cleared instanceof LeaseError && cleared.result === -223, "cleared lease: no lease (-223)");
});
