// The simulator's own machinery (scheduler, clocks, devices, shared disk, watchdog, checker),
// exercised with trivial stand-in actors instead of the real lease algorithms:
// * a naive "read, if free write my id" lock, which is racy: the checker must catch it;
// * an oracle lock kept outside the simulated disk, which is correct: the checker must stay quiet.
import t from "tap";
import { InvariantChecker } from "../src/sim/checker.js";
import { SimRandom } from "../src/sim/prng.js";
import { Scheduler } from "../src/sim/scheduler.js";
import { SharedDisk } from "../src/sim/shared-disk.js";
import { SimDevice, NO_IO_FAULTS } from "../src/sim/sim-device.js";
import { HostClock, SimHost } from "../src/sim/sim-host.js";
import { Trace } from "../src/sim/trace.js";
import { WatchdogModel } from "../src/sim/watchdog.js";
import { runSimulation, type HostActor, type HostContext, type SimConfig } from "../src/sim/world.js";

const SECTOR = 4096;

function config(seed: number, overrides: Partial<SimConfig> = {}): SimConfig {
  return {
    seed,
    hosts: 3,
    resources: 1,
    opsPerHost: 6,
    variant: "none",
    faults: { enabled: true, ioTimeouts: [1, 2] },
    maxSeconds: 400,
    maxEvents: 200_000,
    herdChance: 0,
    keepTraceLines: 50,
    ...overrides,
  };
}

/** Stand-in actor: take the resource when a sector read shows it free, then write our id into it. */
class NaiveLockActor implements HostActor {
  private ops: number;
  private running = false;
  constructor(
    private readonly ctx: HostContext,
    private readonly oracle: Map<string, number> | undefined,
  ) {
    this.ops = ctx.config.opsPerHost;
  }
  get done(): boolean {
    return this.ops <= 0;
  }
  boot(): void {
    if (this.running) return;
    this.running = true;
    void this.loop(new HostClock(this.ctx.host, this.ctx.host.daemon));
  }
  onReset(): void {
    this.running = false;
    for (const [name, holder] of this.oracle ?? []) if (holder === this.ctx.index) this.oracle?.delete(name);
  }
  onDaemonCrash(): void {
    this.running = false;
  }
  private async loop(clock: HostClock): Promise<void> {
    const res = this.ctx.layout.resources[0]!;
    const dev = this.ctx.device;
    for (let i = 0; i < 100 && this.ops > 0; i++) {
      await clock.sleep(this.ctx.random.between(0, 3));
      let sector: Uint8Array;
      try {
        sector = await dev.read(res.offset, SECTOR);
      } catch {
        continue;
      }
      const free = this.oracle ? !this.oracle.has(res.name) : sector[0] === 0;
      if (!free) continue;
      this.oracle?.set(res.name, this.ctx.index);
      this.ops--;
      const mark = new Uint8Array(SECTOR);
      mark[0] = this.ctx.index + 1;
      try {
        await dev.write(res.offset, mark);
      } catch {
        this.oracle?.delete(res.name);
        continue;
      }
      this.ctx.checker.operations++;
      this.ctx.checker.holdStart(this.ctx.scheduler.now, res.name, {
        host: this.ctx.index,
        mode: "exclusive",
        lver: this.ctx.checker.operations,
        hostId: this.ctx.hostId,
        generation: 1,
      });
      await clock.sleep(this.ctx.random.between(0.5, 4));
      this.ctx.checker.holdEnd(res.name, this.ctx.index);
      this.oracle?.delete(res.name);
      try {
        await dev.write(res.offset, new Uint8Array(SECTOR));
      } catch {
        // A failed release write leaves the mark: the resource looks taken forever (liveness only).
      }
    }
  }
}

const noInit = (): void => {};

t.test("racy stand-in lock: the checker reports mutual exclusion within 30 seeds", async (t) => {
  let caught: number | undefined;
  for (let seed = 1; seed <= 30 && caught === undefined; seed++) {
    const r = await runSimulation(config(seed, { faults: { enabled: false, ioTimeouts: [1] } }), (ctx) => new NaiveLockActor(ctx, undefined), noInit);
    if (r.violations.some((v) => v.kind === "mutual-exclusion")) caught = seed;
  }
  t.ok(caught !== undefined, `caught at seed ${caught}`);
});

t.test("oracle stand-in lock: no violations across 40 seeds with faults", async (t) => {
  let violations = 0;
  let ops = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const oracle = new Map<string, number>();
    const r = await runSimulation(config(seed), (ctx) => new NaiveLockActor(ctx, oracle), noInit);
    violations += r.violations.length;
    ops += r.operations;
  }
  t.equal(violations, 0);
  t.ok(ops > 100, `performed ${ops} lease operations`);
});

t.test("same seed gives the identical trace; another seed a different one", async (t) => {
  const lines: string[][] = [[], [], []];
  const run = (seed: number, sink: string[]) =>
    runSimulation(config(seed, { traceSink: (l) => void sink.push(l) }), (ctx) => new NaiveLockActor(ctx, undefined), noInit);
  const a = await run(7, lines[0]!);
  const b = await run(7, lines[1]!);
  const c = await run(8, lines[2]!);
  t.ok(lines[0]!.length > 50, "the trace records I/O");
  t.same(lines[1], lines[0]);
  t.equal(b.traceDigest, a.traceDigest);
  t.not(c.traceDigest, a.traceDigest);
});

t.test("scheduler runs events in time order and breaks ties by seed", async (t) => {
  const order: string[] = [];
  const s = new Scheduler(new SimRandom(1));
  s.at(2, () => order.push("c"));
  s.at(1, () => order.push("a"));
  s.at(1.5, () => order.push("b"));
  const cancelled = s.at(1.7, () => order.push("x"));
  s.cancel(cancelled);
  const result = await s.run({ untilTime: 10, maxEvents: 100 });
  t.same(order, ["a", "b", "c"]);
  t.equal(result.reason, "idle");
  const tieOrders = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) {
    const seen: number[] = [];
    const ts = new Scheduler(new SimRandom(seed));
    for (let i = 0; i < 4; i++) ts.at(1, () => seen.push(i));
    await ts.run({ untilTime: 10, maxEvents: 100 });
    tieOrders.add(seen.join(""));
  }
  t.ok(tieOrders.size > 1, "ties are ordered by the seed, not by insertion");
});

t.test("host clock: drifted rate, sleeps measured on the local clock, reset restarts it", async (t) => {
  const s = new Scheduler(new SimRandom(3));
  const trace = new Trace({ keepLines: 10 });
  const host = new SimHost(s, trace, { index: 0, name: "h", rate: 1.0001, bootLocal: 500 });
  const clock = new HostClock(host, host.daemon);
  let wokeLocal = 0;
  void clock.sleep(100).then(() => (wokeLocal = clock.now()));
  await s.run({ untilTime: 1000, maxEvents: 100 });
  t.ok(wokeLocal >= 600 && wokeLocal < 600.001, `woke at local ${wokeLocal}`);
  t.ok(Math.abs(s.now - 100 / 1.0001) < 1e-6, "true time advanced by 100 / rate");
  let staleWoke = false;
  void clock.sleep(5).then(() => (staleWoke = true));
  host.reset("test");
  await s.run({ untilTime: 2000, maxEvents: 100 });
  t.notOk(staleWoke, "a reset daemon never resumes");
  host.powerOn(7);
  t.ok(Math.abs(host.localNow() - 7) < 1e-9, "monotonic clock restarts near zero");
});

t.test("device: reset drops unlanded writes; torn writes land by sector; completed writes are visible", async (t) => {
  const s = new Scheduler(new SimRandom(5));
  const trace = new Trace({ keepLines: 100 });
  const disk = new SharedDisk(SECTOR, 16 * SECTOR);
  const host = new SimHost(s, trace, { index: 0, name: "h", rate: 1, bootLocal: 10 });
  const stalled = new SimDevice(s, disk, host, new SimRandom(9), 1, { fail: 0, slow: 0, stall: 1, split: 0 }, () => "x");
  void stalled.write(0, new Uint8Array(SECTOR).fill(7));
  s.after(0.5, () => host.reset("test"));
  await s.run({ untilTime: 1000, maxEvents: 1000 });
  t.equal(disk.snapshot(0, SECTOR)[0], 0, "a write stalled past a reset never lands (A4)");

  host.powerOn(1);
  const device = new SimDevice(s, disk, host, new SimRandom(11), 1, { ...NO_IO_FAULTS, split: 1 }, () => "x");
  const landed: number[] = [];
  disk.onSectorWrite((sector) => landed.push(sector));
  let readBack: Uint8Array | undefined;
  void device.write(4 * SECTOR, new Uint8Array(8 * SECTOR).fill(3)).then(async () => {
    readBack = await device.read(4 * SECTOR, 8 * SECTOR);
  });
  await s.run({ untilTime: 2000, maxEvents: 1000 });
  t.same(
    [...landed].sort((a, b) => a - b),
    [4, 5, 6, 7, 8, 9, 10, 11],
    "every sector lands exactly once",
  );
  t.ok(
    readBack?.every((b) => b === 3),
    "a completed write is visible to later reads",
  );
});

t.test("watchdog fires 50..60 s after the expiry when the expiry is not renewed", async (t) => {
  for (let seed = 1; seed <= 10; seed++) {
    const s = new Scheduler(new SimRandom(seed));
    const host = new SimHost(s, new Trace({ keepLines: 0 }), { index: 0, name: "h", rate: 1, bootLocal: 1000 });
    let firedAt: number | undefined;
    const wd = new WatchdogModel(s, host, () => {
      firedAt = host.localNow();
      host.reset("watchdog");
    });
    wd.start(new SimRandom(seed + 100).between(0, 10));
    wd.setExpiry("ls", 1080);
    await s.run({ untilTime: 500, maxEvents: 10_000 });
    t.ok(firedAt !== undefined && firedAt >= 1080 + 50 && firedAt < 1080 + 60, `seed ${seed}: fired at ${firedAt}`);
  }
  const s = new Scheduler(new SimRandom(1));
  const host = new SimHost(s, new Trace({ keepLines: 0 }), { index: 0, name: "h", rate: 1, bootLocal: 1000 });
  let fired = false;
  const wd = new WatchdogModel(s, host, () => (fired = true));
  wd.start(3);
  wd.setExpiry("ls", 1080);
  s.at(50, () => wd.setExpiry("ls", 0));
  await s.run({ untilTime: 500, maxEvents: 10_000 });
  t.notOk(fired, "a cleared expiry never fires");
});

t.test("checker: overlapping exclusive holds, double decisions, lver going back, two host_id owners", async (t) => {
  const c = new InvariantChecker();
  c.holdStart(1, "r", { host: 0, mode: "shared", lver: 1, hostId: 1, generation: 1 });
  c.holdStart(2, "r", { host: 1, mode: "shared", lver: 2, hostId: 2, generation: 1 });
  t.equal(c.violations.length, 0, "two shared holders are fine");
  c.holdStart(3, "r", { host: 2, mode: "exclusive", lver: 3, hostId: 3, generation: 1 });
  t.equal(c.violations[0]?.kind, "mutual-exclusion");
  c.processesGone(0);
  c.processesGone(1);
  c.holdEnd("r", 2);
  c.holdStart(4, "r", { host: 0, mode: "exclusive", lver: 3, hostId: 1, generation: 1 });
  t.ok(
    c.violations.some((v) => v.kind === "unique-decision"),
    "v3 decided for two owners",
  );
  c.holdEnd("r", 0);
  c.holdStart(5, "r", { host: 1, mode: "exclusive", lver: 2, hostId: 2, generation: 1 });
  t.ok(
    c.violations.some((v) => v.kind === "lver-order"),
    "exclusive v2 after v3",
  );
  c.hostIdOwned(10, 5, { host: 0, daemon: 1, generation: 1, allowedOverlap: 4 });
  c.hostIdOwned(11, 5, { host: 1, daemon: 1, generation: 2, allowedOverlap: 4 });
  c.hostIdReleased(13, 5, 0, 1);
  t.notOk(
    c.violations.some((v) => v.kind === "host-id-owners"),
    "overlap within one renewal interval is allowed",
  );
  c.hostIdOwned(20, 6, { host: 0, daemon: 1, generation: 1, allowedOverlap: 4 });
  c.hostIdOwned(21, 6, { host: 1, daemon: 1, generation: 2, allowedOverlap: 4 });
  c.finish(40);
  t.ok(c.violations.some((v) => v.kind === "host-id-owners"));
});
