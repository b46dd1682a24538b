// The simulated daemon of one host, running the real core algorithms (DeltaLease, PaxosLease)
// over the host's SimDevice and clock. It models what the daemon around the core does:
// * join the lockspace, arm the watchdog before anything is used (docs/algorithms.md §2.2 step 9, §7.11.1);
// * the renewal thread: tick every second, renew once now − last_success ≥ 2N (+0.5 s),
//   retry 0.5 s after a failure, move the watchdog expiry after each success (docs/algorithms.md §2.3, §7.5.2);
// * recovery when now − last_success ≥ 8N or a renewal result is corrupt (docs/algorithms.md §2.4, §7.2): kill
//   processes (SIGTERM, SIGKILL after the grace period; some processes cannot be killed), drop
//   their leases without I/O (docs/algorithms.md §7.1), and once all are gone clear the expiry and release the
//   host_id (docs/algorithms.md §7.4), then join again later;
// * processes: each loops acquire (exclusive or shared) → hold → maybe convert → release; a
//   lease is handed to the process only if the lockspace is still healthy (docs/algorithms.md §7.11.3).
// Facts go to the invariant checker in true time.

import type { DeltaLease as DeltaLeaseType } from "../delta-lease.js";
import { DeltaLease, isCorruptRenewalError } from "../delta-lease.js";
import { PaxosLease, type LeaseMode, type PaxosHost } from "../paxos-lease.js";
import type { BrokenVariant } from "../variants.js";
import type { ResourceLocation } from "../paxos-area.js";
import { ReplicaDevice } from "./disk-faults.js";
import { SIM_LOCKSPACE, type SimResource } from "./layout.js";
import { releaseLeftBehindOnMajority, type ReleasedHold } from "./release-progress.js";
import { CrashRestart } from "./crash-restart.js";
import { HostClock } from "./sim-host.js";
import type { HostActor, HostContext } from "./world.js";

/** Graceful-kill period after recovery starts (daemon -g default, docs/algorithms.md §7.3). */
const KILL_GRACE_SECONDS = 40;
/** Bounds on the loops of one daemon instance. */
const MAX_JOIN_ATTEMPTS = 20;
const MAX_RELEASE_RETRIES = 5;
const PROCESSES_PER_HOST = 2;

interface SimProcess {
  readonly id: number;
  /** When (local) the kill takes effect; Infinity = cannot be killed (only a reset ends it). */
  dieAt: number | undefined;
  dead: boolean;
  readonly unkillable: boolean;
  readonly ignoresSigterm: boolean;
  /** Resource held and the lease object, if any. */
  holding: { resource: string; lease: PaxosLease; mode: LeaseMode } | undefined;
}

function errorText(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; message?: unknown };
    return `${String(e.code ?? "")} ${String(e.message ?? "")}`.trim();
  }
  return String(err);
}

export class RealHostActor implements HostActor {
  private opsLeft: number;
  private daemon: DaemonInstance | undefined;

  private readonly crashRestart: CrashRestart;

  constructor(private readonly ctx: HostContext) {
    this.opsLeft = ctx.config.opsPerHost;
    this.crashRestart = new CrashRestart(ctx);
  }

  get done(): boolean {
    return this.opsLeft <= 0;
  }

  /** Takes one operation from the host's budget; false when it is spent. */
  takeOp(): boolean {
    if (this.opsLeft <= 0) return false;
    this.opsLeft--;
    return true;
  }

  boot(): void {
    this.daemon = new DaemonInstance(this.ctx, this);
    void this.daemon.run();
  }

  onReset(): void {
    this.daemon?.stop("reset");
    this.daemon = undefined;
  }

  onDaemonCrash(): void {
    this.daemon?.stop("crash");
    this.daemon = undefined;
    this.crashRestart.schedule(
      () => this.daemon === undefined,
      () => this.boot(),
    );
  }
}

class DaemonInstance {
  private readonly daemonId: number;
  private readonly clock: HostClock;
  private readonly hostName: string;
  private readonly n: number;
  private delta: DeltaLeaseType | undefined;
  private generation = 0n;
  private joinCount = 0;
  private state: "joining" | "joined" | "recovery" | "left" | "stopped" = "joining";
  private lastSuccess = 0;
  private readonly processes: SimProcess[] = [];
  private readonly busy = new Set<string>();
  /** I/Os a disk-fault window failed or stalled (like device.faultCount, for the progress rule). */
  private diskFaultCount = 0;
  private nextProcessId = 1;

  constructor(
    private readonly ctx: HostContext,
    private readonly actor: RealHostActor,
  ) {
    this.daemonId = ctx.host.daemon;
    this.clock = new HostClock(ctx.host, this.daemonId);
    this.n = ctx.plan.ioTimeout;
    // A fresh random name per daemon start (docs/algorithms.md §2.1.2, §8.4 item 4).
    const tag = Math.floor(ctx.random.next() * 0xffffffff)
      .toString(16)
      .padStart(8, "0");
    this.hostName = `${tag}.${ctx.host.name}`;
  }

  private get watchdogKey(): string {
    return `${this.daemonId}/${this.joinCount}/${SIM_LOCKSPACE}`;
  }

  private log(text: string): void {
    this.ctx.host.log(text);
  }

  private hasLeft(): boolean {
    return this.state === "left";
  }

  private get alive(): boolean {
    return this.state !== "stopped";
  }

  stop(why: "reset" | "crash"): void {
    if (this.state === "joined" || this.state === "recovery") {
      this.ctx.checker.hostIdReleased(this.ctx.scheduler.now, this.ctx.hostId, this.ctx.index, this.daemonId);
    }
    this.state = "stopped";
    if (why === "reset") for (const p of this.processes) p.dead = true;
  }

  async run(): Promise<void> {
    try {
      for (let attempt = 0; attempt < MAX_JOIN_ATTEMPTS && this.alive && !this.actor.done; attempt++) {
        if (await this.join()) {
          await Promise.all([this.renewalThread(), this.mainLoop(), ...this.startProcesses()]);
        }
        if (!this.alive) return;
        await this.clock.sleep(this.ctx.random.between(1, 4 * this.n));
      }
    } catch (err) {
      this.log(`daemon error: ${errorText(err)}`);
    }
  }

  private variant(): BrokenVariant {
    return this.ctx.config.variant as BrokenVariant;
  }

  private async join(): Promise<boolean> {
    this.state = "joining";
    this.joinCount++;
    this.delta = new DeltaLease({
      lockspace: SIM_LOCKSPACE,
      hostId: this.ctx.hostId,
      hostName: this.hostName,
      ioTimeout: this.n,
      device: this.ctx.device,
      offset: this.ctx.layout.lockspaceOffset,
      clock: this.clock,
      variant: this.variant(),
    });
    this.log(`join host_id ${this.ctx.hostId} as ${this.hostName}`);
    try {
      const joined = await this.delta.acquire();
      if (!this.alive) return false;
      this.generation = joined.generation;
      this.lastSuccess = Number(joined.timestamp);
      // docs/algorithms.md §7.11.1: the watchdog expiry is registered before any lease can be granted.
      this.ctx.watchdog.setExpiry(this.watchdogKey, this.lastSuccess + 8 * this.n);
      this.state = "joined";
      this.ctx.checker.hostIdOwned(this.ctx.scheduler.now, this.ctx.hostId, {
        host: this.ctx.index,
        daemon: this.daemonId,
        generation: Number(joined.generation),
        allowedOverlap: 2 * this.n + 2,
      });
      this.log(`joined host_id ${this.ctx.hostId} gen ${joined.generation} ts ${joined.timestamp}`);
      return true;
    } catch (err) {
      if (this.alive) this.log(`join failed: ${errorText(err)}`);
      return false;
    }
  }

  /** docs/algorithms.md §2.3 scheduling: the renewal thread; ends once the lockspace is left. */
  private async renewalThread(): Promise<void> {
    const delta = this.delta;
    if (!delta) return;
    let lastAttemptFailed = false;
    const maxTicks = Math.ceil(this.ctx.config.maxSeconds * 2) + 100;
    for (let tick = 0; tick < maxTicks && this.alive && !this.hasLeft(); tick++) {
      await this.clock.sleep(lastAttemptFailed ? 0.5 : 1);
      if (!this.alive || this.hasLeft()) return;
      if (lastAttemptFailed || this.clock.now() - this.lastSuccess >= 2 * this.n) {
        if (!lastAttemptFailed) await this.clock.sleep(0.5);
        if (!this.alive || this.hasLeft()) return;
        lastAttemptFailed = !(await this.renewOnce(delta));
      }
    }
  }

  /** docs/algorithms.md §7.2: the daemon's main loop, independent of the renewal thread (which may be stuck in I/O). */
  private async mainLoop(): Promise<void> {
    const delta = this.delta;
    if (!delta) return;
    const maxTicks = Math.ceil(this.ctx.config.maxSeconds * 2) + 100;
    for (let tick = 0; tick < maxTicks && this.alive; tick++) {
      await this.clock.sleep(this.state === "recovery" ? 0.2 : 1);
      if (!this.alive) return;
      const now = this.clock.now();
      if (this.state === "joined" && now - this.lastSuccess >= 8 * this.n) {
        this.startRecovery(`renewal gap ${(now - this.lastSuccess).toFixed(1)} s >= 8N`);
      }
      if (this.state === "recovery") {
        this.killTick();
        if (this.processes.every((p) => p.dead)) {
          await this.leave(delta);
          return;
        }
      }
    }
  }

  private async renewOnce(delta: DeltaLeaseType): Promise<boolean> {
    try {
      const result = await delta.renew();
      if (!this.alive) return true;
      this.lastSuccess = Number(result.timestamp);
      // docs/algorithms.md §7.5.2 / §7.11.2: the expiry moves only after the write completed, from the timestamp
      // sampled before it.
      if (this.state === "joined") this.ctx.watchdog.setExpiry(this.watchdogKey, this.lastSuccess + 8 * this.n);
      return true;
    } catch (err) {
      if (!this.alive) return false;
      this.log(`renewal failed: ${errorText(err)}`);
      if (isCorruptRenewalError(err)) {
        if (this.state === "joined") this.ctx.checker.hostIdReleased(this.ctx.scheduler.now, this.ctx.hostId, this.ctx.index, this.daemonId);
        this.startRecovery("corrupt renewal result");
      }
      return false;
    }
  }

  private startRecovery(reason: string): void {
    if (this.state !== "joined") return;
    this.state = "recovery";
    const now = this.clock.now();
    this.log(`RECOVERY: ${reason}; killing ${this.processes.filter((p) => !p.dead).length} processes`);
    const sigkillAt = this.lastSuccess + 8 * this.n + KILL_GRACE_SECONDS;
    for (const p of this.processes) {
      if (p.dead) continue;
      if (p.unkillable) p.dieAt = Infinity;
      else if (p.ignoresSigterm) p.dieAt = Math.max(now, sigkillAt);
      else p.dieAt = now + this.ctx.random.between(0, 2);
    }
  }

  /** docs/algorithms.md §7.3: the daemon's kill attempts take effect when due; a process death drops its leases without I/O. */
  private killTick(): void {
    const now = this.clock.now();
    for (const p of this.processes) {
      if (p.dead || p.dieAt === undefined || now < p.dieAt) continue;
      this.processDies(p, "killed");
    }
  }

  private processDies(p: SimProcess, why: string): void {
    p.dead = true;
    if (p.holding) {
      this.ctx.checker.holdEnd(p.holding.resource, this.ctx.index);
      this.log(`process ${p.id} ${why}; drops ${p.holding.resource} without disk I/O`);
      this.busy.delete(p.holding.resource);
      p.holding = undefined;
    }
  }

  /** docs/algorithms.md §7.4: all processes gone → clear the expiry, then release the host_id (if the last attempt succeeded). */
  private async leave(delta: DeltaLeaseType): Promise<void> {
    this.ctx.watchdog.setExpiry(this.watchdogKey, 0);
    this.ctx.checker.hostIdReleased(this.ctx.scheduler.now, this.ctx.hostId, this.ctx.index, this.daemonId);
    this.state = "left";
    try {
      await delta.release();
      this.log("left the lockspace (delta release written)");
    } catch (err) {
      this.log(`delta release: ${errorText(err)}`);
    }
  }

  private startProcesses(): Array<Promise<void>> {
    const runs: Array<Promise<void>> = [];
    for (let i = 0; i < PROCESSES_PER_HOST; i++) {
      const p: SimProcess = {
        id: this.nextProcessId++,
        dieAt: undefined,
        dead: false,
        unkillable: this.ctx.random.chance(this.ctx.plan.unkillable),
        ignoresSigterm: this.ctx.random.chance(this.ctx.plan.ignoresSigterm),
        holding: undefined,
      };
      this.processes.push(p);
      runs.push(this.processLoop(p));
    }
    return runs;
  }

  private paxosHost(): PaxosHost {
    const delta = this.delta as DeltaLeaseType;
    return {
      lockspace: SIM_LOCKSPACE,
      hostId: this.ctx.hostId,
      generation: this.generation,
      ioTimeout: this.n,
      clock: this.clock,
      random: this.ctx.random,
      liveness: delta.status,
      readDeltaRecord: (hostId: number) => delta.readHostRecord(hostId),
      variant: this.variant(),
      observeBallot: (seen) => this.ctx.checker.ballotSeen(seen.values),
    };
  }

  private usable(p: SimProcess): boolean {
    return this.alive && this.state === "joined" && !p.dead;
  }

  private async processLoop(p: SimProcess): Promise<void> {
    const maxIterations = this.ctx.config.opsPerHost * 4 + 10;
    for (let i = 0; i < maxIterations && this.usable(p); i++) {
      await this.clock.sleep(this.pauseBeforeAcquire());
      if (!this.usable(p)) return;
      const resource = this.ctx.random.pick(this.ctx.layout.resources);
      if (this.busy.has(resource.name)) continue;
      if (!this.actor.takeOp()) return;
      this.busy.add(resource.name);
      try {
        await this.useResource(p, resource);
      } finally {
        if (!p.holding || p.holding.resource !== resource.name) this.busy.delete(resource.name);
      }
    }
  }

  /** A random think time, or in herd runs the time to the next herd moment plus 0-3 ms. */
  private pauseBeforeAcquire(): number {
    const think = this.ctx.random.between(0, 3 * this.n);
    const period = this.ctx.herdPeriod;
    if (period === undefined) return think;
    const now = this.ctx.scheduler.now;
    return Math.ceil((now + think / 4) / period) * period - now + this.ctx.random.between(0, 0.003);
  }

  /** Where this host reaches `resource`: its device, through ReplicaDevice when the resource has several disks. */
  private locationOf(resource: SimResource): ResourceLocation {
    if (resource.replicas.length === 0) return { resource: resource.name, device: this.ctx.device, offset: resource.offset };
    const device = (disk: number): ReplicaDevice =>
      new ReplicaDevice(
        this.ctx.device,
        disk,
        this.ctx.index,
        this.ctx.diskFaults,
        () => this.ctx.scheduler.now,
        () => this.diskFaultCount++,
      );
    return {
      resource: resource.name,
      device: device(0),
      offset: resource.offset,
      otherDisks: resource.replicas.map((offset, i) => ({ device: device(i + 1), offset })),
    };
  }

  private async useResource(p: SimProcess, simResource: SimResource): Promise<void> {
    const resource = simResource.name;
    const shared = this.ctx.random.chance(0.35);
    const mode: LeaseMode = shared ? "shared" : "exclusive";
    const lease = new PaxosLease(this.paxosHost(), this.locationOf(simResource));
    this.log(`process ${p.id}: acquire ${resource} ${mode}`);
    try {
      await lease.acquire({ shared });
    } catch (err) {
      if (this.alive) this.log(`process ${p.id}: acquire ${resource} failed: ${errorText(err)}`);
      return;
    }
    if (!this.alive) return;
    // docs/algorithms.md §7.11.3: handed to the process only if the lockspace is healthy; otherwise released again.
    if (!this.usable(p)) {
      this.log(`process ${p.id}: ${resource} acquired during recovery; not handed out`);
      if (this.state === "joined") await this.releaseLease(p, lease, resource);
      return;
    }
    p.holding = { resource, lease, mode };
    this.ctx.checker.operations++;
    this.ctx.checker.holdStart(this.ctx.scheduler.now, resource, {
      host: this.ctx.index,
      mode,
      lver: Number(lease.lver),
      hostId: this.ctx.hostId,
      generation: Number(this.generation),
    });
    this.log(`process ${p.id}: HOLDS ${resource} ${mode} v${lease.lver}`);
    await this.clock.sleep(this.ctx.random.between(0.5, 6 * this.n));
    if (!this.usable(p) || !p.holding) return;
    if (this.ctx.random.chance(0.3)) {
      await this.convert(p, lease, resource, mode === "exclusive" ? "shared" : "exclusive");
      if (!this.usable(p) || !p.holding) return;
      await this.clock.sleep(this.ctx.random.between(0.5, 3 * this.n));
      if (!this.usable(p) || !p.holding) return;
    }
    await this.releaseLease(p, lease, resource);
  }

  /** What the progress rule checks after the release of `lease` (undefined: nothing to check). */
  private heldState(lease: PaxosLease, resource: string): ReleasedHold | undefined {
    const mode = lease.mode;
    const place = this.ctx.layout.resources.find((r) => r.name === resource);
    if (mode === undefined || place === undefined || lease.clearsAllAtRelease) return undefined;
    return { offset: place.offset, replicas: place.replicas, hostId: this.ctx.hostId, generation: this.generation, lver: lease.lver, mode };
  }

  private async convert(p: SimProcess, lease: PaxosLease, resource: string, to: LeaseMode): Promise<void> {
    const holding = p.holding;
    if (!holding) return;
    this.log(`process ${p.id}: convert ${resource} to ${to}`);
    // Exclusive use ends before an ex→sh conversion starts (others may share as soon as the leader is free).
    if (to === "shared") {
      this.ctx.checker.holdStart(this.ctx.scheduler.now, resource, {
        host: this.ctx.index,
        mode: "shared",
        lver: Number(lease.lver),
        hostId: this.ctx.hostId,
        generation: Number(this.generation),
      });
      holding.mode = "shared";
    }
    try {
      await lease.convert(to);
    } catch (err) {
      if (!this.alive) return;
      this.log(`process ${p.id}: convert ${resource} failed: ${errorText(err)}`);
      if (to === "exclusive" && this.usable(p)) await this.releaseLease(p, lease, resource);
      return;
    }
    if (!this.usable(p) || !p.holding) return;
    this.ctx.checker.operations++;
    if (to === "exclusive") {
      holding.mode = "exclusive";
      this.ctx.checker.holdStart(this.ctx.scheduler.now, resource, {
        host: this.ctx.index,
        mode: "exclusive",
        lver: Number(lease.lver),
        hostId: this.ctx.hostId,
        generation: Number(this.generation),
      });
    }
    this.log(`process ${p.id}: HOLDS ${resource} ${to} v${lease.lver}`);
  }

  /** The process stops using the resource, then the daemon releases it on disk (docs/algorithms.md §4.8, §5.3, §7.7). */
  private async releaseLease(p: SimProcess, lease: PaxosLease, resource: string): Promise<void> {
    this.ctx.checker.holdEnd(resource, this.ctx.index);
    p.holding = undefined;
    this.log(`process ${p.id}: release ${resource}`);
    const hold = this.heldState(lease, resource);
    for (let attempt = 0; attempt <= MAX_RELEASE_RETRIES; attempt++) {
      const faultsBefore = this.ctx.device.faultCount + this.diskFaultCount;
      try {
        await lease.release();
        this.ctx.checker.operations++;
        // The progress rule applies to a release that met no fault (a failed best-effort dblock
        // write, say, leaves the lease to the owner-gone rules, as in sanlock).
        if (hold && this.alive && this.ctx.device.faultCount + this.diskFaultCount === faultsBefore) {
          this.ctx.checker.releaseChecked(this.ctx.scheduler.now, resource, this.ctx.index, releaseLeftBehindOnMajority(this.ctx.disk, hold));
        }
        break;
      } catch (err) {
        if (!this.alive) return;
        this.log(`process ${p.id}: release ${resource} failed: ${errorText(err)}`);
        if (!/TIMEOUT/.test(errorText(err)) || this.state !== "joined") break;
        // docs/algorithms.md §7.7: retried first N s after the attempt, later every 2N s.
        await this.clock.sleep(attempt === 0 ? this.n : 2 * this.n);
      }
    }
    this.busy.delete(resource);
  }
}
