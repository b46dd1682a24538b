// Paxos leases on an in-memory device: sanlock's own sector images (vectors
// scenarios S and T) are reproduced, and the acquire rules hold between hosts.
import t from "tap";
import {
  DeltaLease,
  LeaseError,
  MemoryDevice,
  PaxosLease,
  SeededRandom,
  VirtualClock,
  readResourceOwners,
  requestResource,
  examineRequest,
  ForceMode,
  buildResourceArea,
  geometryFor,
  type HostLiveness,
  type PaxosHost,
} from "../src/index.js";
import { ScriptedClock, drive, loadVector, lockspaceDevice, placeResource } from "./delta-harness.js";

const MiB = 1048576;

/** Liveness port for single-host replays: nobody else is ever observed. */
const nobodyObserved: HostLiveness = { snapshot: () => undefined, isSharedHolderAlive: () => true };

function scriptedHost(clock: ScriptedClock, hostId = 1, generation = 1n): PaxosHost {
  return {
    lockspace: "LS",
    hostId,
    generation,
    ioTimeout: 1,
    clock,
    random: new SeededRandom(hostId),
    liveness: nobodyObserved,
    readDeltaRecord: async () => {
      throw new Error("no lockspace in this replay");
    },
  };
}

t.test("scenario S: exclusive acquire, release, reacquire, request match sanlock's sectors", async (t) => {
  const dev = new MemoryDevice({ sectorSize: 512, size: 6 * MiB });
  placeResource(dev, MiB, "RES_EX");
  const clock = new ScriptedClock(695);
  const lease = new PaxosLease(scriptedHost(clock), { resource: "RES_EX", device: dev, offset: MiB });
  await lease.acquire();
  t.same(dev.contents.slice(MiB, MiB + 1536), loadVector("res-512-ex-acquired.bin"), "leader + dblock after acquire");
  await lease.release();
  t.same(dev.contents.slice(MiB, MiB + 1536), loadVector("res-512-ex-released.bin"), "leader free, dblock RELEASED");
  await lease.acquire();
  t.same(dev.contents.slice(MiB, MiB + 1536), loadVector("res-512-ex-reacquired.bin"), "lver 2, mbal 2001");
  const requested = await requestResource({
    lockspace: "LS",
    location: lease.location,
    hostId: 1,
    ioTimeout: 1,
    clock,
    forceMode: ForceMode.GRACEFUL,
  });
  t.same(requested, { notifyHostId: 1, lver: 3n });
  t.same(dev.contents.slice(MiB, MiB + 1536), loadVector("res-512-requested.bin"), "request record lver 3, graceful");
  t.equal(await examineRequest(lease), ForceMode.GRACEFUL, "the holder sees a request newer than its version");
});

t.test("scenario S: shared acquire and release match sanlock's sectors", async (t) => {
  const dev = new MemoryDevice({ sectorSize: 512, size: 6 * MiB });
  placeResource(dev, 2 * MiB, "RES_SH");
  const clock = new ScriptedClock(695);
  const lease = new PaxosLease(scriptedHost(clock), { resource: "RES_SH", device: dev, offset: 2 * MiB });
  await lease.acquire({ shared: true });
  t.same(dev.contents.slice(2 * MiB, 2 * MiB + 1536), loadVector("res-512-sh-acquired.bin"), "leader free again, mode block SHARED");
  const owners = await readResourceOwners("LS", lease.location, clock, 1);
  t.same(owners, [{ hostId: 1, generation: 1n, shared: true, timestamp: 0n }], "owners list the shared holder");
  await lease.release();
  t.same(dev.contents.slice(2 * MiB, 2 * MiB + 1536), loadVector("res-512-sh-released.bin"), "mode block cleared");
});

t.test("scenario S: LVB written at exclusive release into sector 2002", async (t) => {
  const dev = new MemoryDevice({ sectorSize: 512, size: 6 * MiB });
  placeResource(dev, 3 * MiB, "RES_LVB");
  const clock = new ScriptedClock(695);
  const lease = new PaxosLease(scriptedHost(clock), { resource: "RES_LVB", device: dev, offset: 3 * MiB });
  await lease.acquire({ lvb: true });
  t.same(lease.getLvb(), new Uint8Array(512), "LVB read at acquire (zero after init)");
  lease.setLvb(new TextEncoder().encode("hello lvb"));
  t.same(dev.contents.slice(3 * MiB + 2002 * 512, 3 * MiB + 2003 * 512), new Uint8Array(512), "set_lvb does not write");
  await lease.release();
  t.same(dev.contents.slice(3 * MiB + 2002 * 512, 3 * MiB + 2003 * 512), loadVector("res-512-lvb-sector.bin"));
});

t.test("scenario T: two shared holders and a request on another host's lease", async (t) => {
  const dev = new MemoryDevice({ sectorSize: 512, size: 5 * MiB });
  placeResource(dev, 2 * MiB, "RES_SH");
  placeResource(dev, 3 * MiB, "RES_REQ");
  const clock = new ScriptedClock(1076);
  const hostB = scriptedHost(clock, 2, 1n);
  const hostA = scriptedHost(clock, 1, 1n);
  await new PaxosLease(hostB, { resource: "RES_SH", device: dev, offset: 2 * MiB }).acquire({ shared: true });
  const req = new PaxosLease(hostB, { resource: "RES_REQ", device: dev, offset: 3 * MiB });
  await req.acquire();
  clock.current = 1077;
  await new PaxosLease(hostA, { resource: "RES_SH", device: dev, offset: 2 * MiB }).acquire({ shared: true });
  t.same(dev.contents.slice(2 * MiB, 2 * MiB + 2048), loadVector("two-res-sh-both.bin"), "both shared marks, leader lver 2 free");
  const out = await requestResource({
    lockspace: "LS",
    location: { resource: "RES_REQ", device: dev, offset: 3 * MiB },
    hostId: 1,
    ioTimeout: 1,
    clock,
    forceMode: ForceMode.GRACEFUL,
  });
  t.equal(out.notifyHostId, 2, "requester must notify the owner, host 2");
  t.same(dev.contents.slice(3 * MiB, 3 * MiB + 2048), loadVector("two-res-requested.bin"));
  clock.current = 1078;
  await req.release();
  t.same(dev.contents.slice(3 * MiB, 3 * MiB + 2048), loadVector("two-res-request-honored.bin"), "owner released; request record kept");
});

interface LiveHost {
  delta: DeltaLease;
  host: PaxosHost;
  stop: boolean;
  loop: Promise<void> | undefined;
}

/** Real delta leases on one shared device; paxos hosts wired to their watchers. */
async function joinHosts(clock: VirtualClock, dev: MemoryDevice, names: string[]): Promise<LiveHost[]> {
  const hosts = names.map((name, i): LiveHost => {
    const delta = new DeltaLease({ lockspace: "LS", hostId: i + 1, hostName: name, ioTimeout: 1, device: dev, offset: 0, clock });
    const host: PaxosHost = {
      lockspace: "LS",
      hostId: i + 1,
      generation: 0n,
      ioTimeout: 1,
      clock,
      random: new SeededRandom(i + 7),
      liveness: { snapshot: (h) => delta.status.snapshot(h), isSharedHolderAlive: (h, g) => delta.status.isSharedHolderAlive(h, g) },
      readDeltaRecord: (h) => delta.readHostRecord(h),
    };
    return { delta, host, stop: false, loop: undefined };
  });
  await drive(
    clock,
    Promise.all(
      hosts.map(async (h) => {
        const joined = await h.delta.acquire();
        h.host.generation = joined.generation;
      }),
    ),
  );
  for (const h of hosts) {
    h.loop = (async () => {
      while (!h.stop) {
        await clock.sleep(2);
        if (!h.stop) await h.delta.renew().catch(() => undefined);
      }
    })();
  }
  // let every watcher see every other host change once
  await drive(clock, clock.sleep(5));
  return hosts;
}

async function stopAll(clock: VirtualClock, hosts: LiveHost[]): Promise<void> {
  for (const h of hosts) h.stop = true;
  await drive(clock, Promise.all(hosts.map((h) => h.loop)));
}

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

function ioTimeoutOneLockspace(): MemoryDevice {
  const dev = lockspaceDevice(6 * MiB);
  for (let h = 0; h < 2000; h++) dev.contents[h * 512 + 174] = 1;
  return dev;
}

t.test("a lease held by a live host cannot be taken; after release it can", async (t) => {
  const clock = new VirtualClock(1000);
  const dev = ioTimeoutOneLockspace();
  placeResource(dev, MiB, "R");
  const [a, b] = await joinHosts(clock, dev, ["hostA", "hostB"]);
  const la = new PaxosLease(a!.host, { resource: "R", device: dev, offset: MiB });
  const lb = new PaxosLease(b!.host, { resource: "R", device: dev, offset: MiB });
  await drive(clock, la.acquire());
  const err = await drive(clock, failure(lb.acquire()));
  t.ok(err instanceof LeaseError && err.result === -243, "held by a live host: -243 at once");
  await drive(clock, la.release());
  await drive(clock, lb.acquire());
  t.equal(lb.mode, "exclusive");
  t.equal(lb.lver, 2n);
  await stopAll(clock, [a!, b!]);
});

t.test("two hosts acquiring a free lease at once: exactly one wins", async (t) => {
  const clock = new VirtualClock(1000);
  const dev = ioTimeoutOneLockspace();
  placeResource(dev, MiB, "R");
  const hosts = await joinHosts(clock, dev, ["h1", "h2", "h3"]);
  const leases = hosts.map((h) => new PaxosLease(h.host, { resource: "R", device: dev, offset: MiB }));
  const results = await drive(clock, Promise.allSettled(leases.map((l) => l.acquire())));
  const winners = results.filter((r) => r.status === "fulfilled").length;
  t.equal(winners, 1, "one exclusive owner");
  const owners = await drive(clock, readResourceOwners("LS", { resource: "R", device: dev, offset: MiB }, clock, 1));
  const winner = leases.findIndex((l) => l.mode === "exclusive");
  t.same(
    owners.map((o) => o.hostId),
    [winner + 1],
    "the leader names the winner",
  );
  await stopAll(clock, hosts);
});

t.test("a dead owner's lease is taken only after host_dead_seconds", async (t) => {
  const clock = new VirtualClock(1000);
  const dev = ioTimeoutOneLockspace();
  placeResource(dev, MiB, "RES_A");
  placeResource(dev, 2 * MiB, "RES_SH");
  const [a, b] = await joinHosts(clock, dev, ["hostA", "hostB"]);
  const lbA = new PaxosLease(b!.host, { resource: "RES_A", device: dev, offset: MiB });
  await drive(clock, lbA.acquire());
  await drive(clock, new PaxosLease(b!.host, { resource: "RES_SH", device: dev, offset: 2 * MiB }).acquire({ shared: true }));
  // host B dies: no more renewals
  b!.stop = true;
  await drive(clock, b!.loop!);
  const lastRenewal = Number(b!.delta.lastSuccess);
  const laA = new PaxosLease(a!.host, { resource: "RES_A", device: dev, offset: MiB });
  const first = await drive(clock, failure(laA.acquire()));
  t.ok(first instanceof LeaseError && first.result === -243, "owner just seen renewing: immediate -243");
  let acquired = false;
  for (let tries = 0; tries < 40 && !acquired; tries++) {
    await drive(clock, clock.sleep(5));
    acquired = (await drive(clock, failure(laA.acquire()))) === undefined;
  }
  t.ok(acquired, "taken over eventually");
  t.ok(clock.now() - lastRenewal > 8 * 1 + 60, "no earlier than host_dead_seconds after the owner's last renewal");
  t.equal(laA.lver, 2n);
  const bSector = dev.contents.slice(MiB + 3 * 512, MiB + 4 * 512);
  t.equal(bSector[16], 2, "dead owner's dblock left as it was (inp = 2)");
  // exclusive acquire over a dead shared holder zeroes its sector
  const laSh = new PaxosLease(a!.host, { resource: "RES_SH", device: dev, offset: 2 * MiB });
  await drive(clock, laSh.acquire());
  t.same(dev.contents.slice(2 * MiB + 3 * 512, 2 * MiB + 4 * 512), new Uint8Array(512), "dead shared holder's sector zeroed");
  await stopAll(clock, [a!]);
});

t.test("exclusive acquire fails with EAGAIN while a live host holds it shared; conversions", async (t) => {
  const clock = new VirtualClock(1000);
  const dev = ioTimeoutOneLockspace();
  placeResource(dev, MiB, "R");
  const [a, b] = await joinHosts(clock, dev, ["hostA", "hostB"]);
  const la = new PaxosLease(a!.host, { resource: "R", device: dev, offset: MiB });
  const lb = new PaxosLease(b!.host, { resource: "R", device: dev, offset: MiB });
  await drive(clock, lb.acquire({ shared: true }));
  const err = await drive(clock, failure(la.acquire()));
  t.ok(err instanceof LeaseError && err.result === -11, "live shared holder: -11");
  await drive(clock, la.acquire({ shared: true }));
  const convErr = await drive(clock, failure(la.convert("exclusive")));
  t.ok(convErr instanceof LeaseError && convErr.result === -11, "sh->ex with another live holder: -11");
  t.equal(la.mode, "shared", "still shared after the failed conversion");
  const marks = await drive(clock, readResourceOwners("LS", la.location, clock, 1));
  t.same(marks.map((o) => o.hostId).sort(), [1, 2], "both shared marks remain");
  await drive(clock, lb.release());
  await drive(clock, la.convert("exclusive"));
  t.equal(la.mode, "exclusive");
  const exOwners = await drive(clock, readResourceOwners("LS", la.location, clock, 1));
  t.same(
    exOwners.map((o) => [o.hostId, o.shared]),
    [[1, false]],
    "exclusive owner, no shared marks",
  );
  await drive(clock, la.convert("shared"));
  const shOwners = await drive(clock, readResourceOwners("LS", la.location, clock, 1));
  t.same(
    shOwners.map((o) => [o.hostId, o.shared]),
    [[1, true]],
    "back to shared, leader free",
  );
  await stopAll(clock, [a!, b!]);
});

t.test("simulator variant no-dead-wait takes a dead owner's lease too early", async (t) => {
  const clock = new VirtualClock(1000);
  const dev = ioTimeoutOneLockspace();
  placeResource(dev, MiB, "R");
  const [a, b] = await joinHosts(clock, dev, ["hostA", "hostB"]);
  await drive(clock, new PaxosLease(b!.host, { resource: "R", device: dev, offset: MiB }).acquire());
  b!.stop = true;
  await drive(clock, b!.loop!);
  const lastRenewal = Number(b!.delta.lastSuccess);
  await drive(clock, clock.sleep(10));
  const broken = new PaxosLease({ ...a!.host, variant: "no-dead-wait" }, { resource: "R", device: dev, offset: MiB });
  await drive(clock, broken.acquire());
  t.ok(clock.now() - lastRenewal < 8 + 60, "the broken rule is observable: taken before host_dead_seconds");
  await stopAll(clock, [a!]);
});

t.test("scenario T: takeover from a dead host and clearing its shared mark match sanlock's sectors", async (t) => {
  const dev = new MemoryDevice({ sectorSize: 512, size: 5 * MiB });
  placeResource(dev, MiB, "RES_A");
  placeResource(dev, 2 * MiB, "RES_SH");
  const clock = new ScriptedClock(1076);
  const hostB = scriptedHost(clock, 2, 1n);
  await new PaxosLease(hostB, { resource: "RES_A", device: dev, offset: MiB }).acquire();
  await new PaxosLease(hostB, { resource: "RES_SH", device: dev, offset: 2 * MiB }).acquire({ shared: true });
  clock.current = 1077;
  const hostA = scriptedHost(clock, 1, 1n);
  const shA = new PaxosLease(hostA, { resource: "RES_SH", device: dev, offset: 2 * MiB });
  await shA.acquire({ shared: true });
  await shA.release();
  // Host B is dead: the watcher proves it (the timing of that proof is tested with live hosts above).
  const deadB: PaxosHost = {
    ...hostA,
    liveness: { snapshot: () => undefined, isSharedHolderAlive: (h) => h !== 2 },
    readDeltaRecord: async () => ({ ownerId: 2, ownerGeneration: 1n, timestamp: 0n, ioTimeout: 1 }),
  };
  clock.current = 1152;
  await new PaxosLease(deadB, { resource: "RES_A", device: dev, offset: MiB }).acquire();
  t.same(dev.contents.slice(MiB, MiB + 2048), loadVector("two-res-ex-takeover.bin"), "lver 2, mbal 2001, host 2's dblock untouched");
  await new PaxosLease(deadB, { resource: "RES_SH", device: dev, offset: 2 * MiB }).acquire();
  t.same(dev.contents.slice(2 * MiB, 2 * MiB + 2048), loadVector("two-res-sh-dead-cleared.bin"), "lver 3, mbal 4001, host 2's sector zeroed");
});

t.test("4K sectors / 1M alignment: shared acquire matches sanlock's sectors", async (t) => {
  const geometry = geometryFor(4096, MiB);
  const dev = new MemoryDevice({ sectorSize: 4096, size: 4 * MiB });
  dev.contents.set(buildResourceArea({ spaceName: "LS", resourceName: "RES_SH" }, geometry), 2 * MiB);
  const clock = new ScriptedClock(775);
  await new PaxosLease(scriptedHost(clock), { resource: "RES_SH", device: dev, offset: 2 * MiB }).acquire({ shared: true });
  t.same(dev.contents.slice(2 * MiB, 2 * MiB + 12288), loadVector("res-4096-1M-sh-acquired.bin"));
});
