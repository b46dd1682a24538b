// The DLM workload's simulated daemon of one host (docs/dlm.md §9 tests 36-40): it joins the
// lockspace with the real DeltaLease, renews it, arms the watchdog, runs the real DlmEngine over
// the host's SimDevice, and drives several local processes that lock random resources in random
// modes with random flags, hold, convert and unlock. On lockspace failure (renewal gap ≥ 8N) the
// engine stops without I/O and the processes are killed, as for sanlock leases (docs/dlm.md §5.11).
// Facts go to the DLM checker in true time.
import type { BlockDevice } from "../block-device.js";
import { DeltaLease } from "../delta-lease.js";
import { DlmEngine, type DlmVariant } from "../dlm/engine.js";
import type { Completion } from "../dlm/lock.js";
import { LKM, lvbOperation } from "../dlm/modes.js";
import { LKF } from "../dlm/status.js";
import type { DlmChecker } from "./dlm-checker.js";
import { simGeometry } from "./init-disk.js";
import { SIM_LOCKSPACE } from "./layout.js";
import { CrashRestart } from "./crash-restart.js";
import { HostClock } from "./sim-host.js";
import type { HostActor, HostContext } from "./world.js";

/** Local processes per host (several processes on one host share its slot). */
export const DLM_PROCESSES_PER_HOST = 3;
export const DLM_LVB_LEN = 32;
const MAX_JOIN_ATTEMPTS = 20;
/** A request not completed after this long is cancelled by its process (seconds, local). */
const PATIENCE_SECONDS = 30;
/** Modes drawn for requests, weighted: EX and PR most, every mode present. */
const MODE_DRAW = [LKM.NL, LKM.CR, LKM.CR, LKM.CW, LKM.CW, LKM.PR, LKM.PR, LKM.PR, LKM.PW, LKM.PW, LKM.EX, LKM.EX, LKM.EX];

function errorText(err: unknown): string {
  return err instanceof Error ? `${(err as { code?: string }).code ?? ""} ${err.message}`.trim() : String(err);
}

export class DlmHostActor implements HostActor {
  private opsLeft: number;
  private daemon: DlmDaemon | undefined;
  private readonly crashRestart: CrashRestart;

  constructor(
    private readonly ctx: HostContext,
    private readonly checker: DlmChecker,
  ) {
    this.opsLeft = ctx.config.opsPerHost;
    this.crashRestart = new CrashRestart(ctx);
    checker.hostIds[ctx.index] = ctx.hostId;
  }

  get done(): boolean {
    return this.opsLeft <= 0;
  }

  takeOp(): boolean {
    if (this.opsLeft <= 0) return false;
    this.opsLeft--;
    return true;
  }

  boot(): void {
    this.daemon = new DlmDaemon(this.ctx, this, this.checker);
    void this.daemon.run();
  }

  onReset(): void {
    this.daemon?.stop("reset");
    this.daemon = undefined;
    this.checker.died(this.ctx.index);
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

interface Held {
  resource: string;
  lkid: number;
  mode: number;
  valblk: boolean;
}

class DlmDaemon {
  private readonly daemonId: number;
  private readonly clock: HostClock;
  private readonly n: number;
  private delta: DeltaLease | undefined;
  private engine: DlmEngine | undefined;
  private generation = 0n;
  private joinCount = 0;
  private state: "joining" | "joined" | "recovery" | "left" | "stopped" = "joining";
  private lastSuccess = 0;
  private readonly alivePids = new Set<number>();
  private readonly engineStop = new AbortController();
  private writeCounter = 0;

  constructor(
    private readonly ctx: HostContext,
    private readonly actor: DlmHostActor,
    private readonly checker: DlmChecker,
  ) {
    this.daemonId = ctx.host.daemon;
    this.clock = new HostClock(ctx.host, this.daemonId);
    this.n = ctx.plan.ioTimeout;
  }

  private get alive(): boolean {
    return this.state !== "stopped";
  }

  private hasLeft(): boolean {
    return this.state === "left";
  }

  private get watchdogKey(): string {
    return `${this.daemonId}/${this.joinCount}/${SIM_LOCKSPACE}`;
  }

  private log(text: string): void {
    this.ctx.host.log(text);
  }

  stop(why: "reset" | "crash"): void {
    if (this.state === "joined" || this.state === "recovery")
      this.ctx.checker.hostIdReleased(this.ctx.scheduler.now, this.ctx.hostId, this.ctx.index, this.daemonId);
    this.state = "stopped";
    this.engine?.stop();
    this.engineStop.abort();
    // A crashed daemon's processes keep their locks until the watchdog resets the host.
    if (why === "reset") this.alivePids.clear();
  }

  async run(): Promise<void> {
    try {
      for (let attempt = 0; attempt < MAX_JOIN_ATTEMPTS && this.alive && !this.actor.done; attempt++) {
        if (await this.join()) {
          const engine = this.startEngine();
          const pids = Array.from({ length: DLM_PROCESSES_PER_HOST }, (_, i) => this.daemonId * 100 + this.joinCount * 10 + i + 1);
          for (const pid of pids) this.alivePids.add(pid);
          await Promise.all([this.renewalThread(), this.mainLoop(), engine.run(this.engineStop.signal), ...pids.map((pid) => this.processLoop(pid, engine))]);
        }
        if (!this.alive) return;
        await this.clock.sleep(this.ctx.random.between(1, 4 * this.n));
      }
    } catch (err) {
      this.log(`dlm daemon error: ${errorText(err)}`);
    }
  }

  private async join(): Promise<boolean> {
    this.state = "joining";
    this.joinCount++;
    const tag = Math.floor(this.ctx.random.next() * 0xffffffff)
      .toString(16)
      .padStart(8, "0");
    this.delta = new DeltaLease({
      lockspace: SIM_LOCKSPACE,
      hostId: this.ctx.hostId,
      hostName: `${tag}.${this.ctx.host.name}`,
      ioTimeout: this.n,
      device: this.ctx.device,
      offset: this.ctx.layout.lockspaceOffset,
      clock: this.clock,
    });
    try {
      const joined = await this.delta.acquire();
      if (!this.alive) return false;
      this.generation = joined.generation;
      this.lastSuccess = Number(joined.timestamp);
      this.ctx.watchdog.setExpiry(this.watchdogKey, this.lastSuccess + 8 * this.n);
      this.state = "joined";
      this.ctx.checker.hostIdOwned(this.ctx.scheduler.now, this.ctx.hostId, {
        host: this.ctx.index,
        daemon: this.daemonId,
        generation: Number(joined.generation),
        allowedOverlap: 2 * this.n + 2,
      });
      this.log(`dlm: joined host_id ${this.ctx.hostId} gen ${joined.generation}`);
      return true;
    } catch (err) {
      if (this.alive) this.log(`join failed: ${errorText(err)}`);
      return false;
    }
  }

  private startEngine(): DlmEngine {
    const delta = this.delta as DeltaLease;
    const layout = this.ctx.layout;
    const engine = new DlmEngine({
      lockspace: SIM_LOCKSPACE,
      hostId: this.ctx.hostId,
      generation: this.generation,
      ioTimeout: this.n,
      clock: this.clock,
      random: this.ctx.random,
      liveness: delta.status,
      readDeltaRecord: (id) => delta.readHostRecord(id),
      device: this.observedDevice(),
      geometry: simGeometry(layout),
      numHosts: Math.max(this.ctx.config.hosts, 4),
      lvbLen: DLM_LVB_LEN,
      pollMs: 1000,
      locate: (name) => {
        const text = new TextDecoder().decode(name);
        const r = layout.resources.find((x) => x.name === text);
        return r ? { sanlockName: r.name, offset: r.offset } : undefined;
      },
      variant: this.ctx.config.variant as DlmVariant,
      log: (text) => this.log(`dlm: ${text}`),
    });
    this.engine = engine;
    return engine;
  }

  /** The host's device, with every write of our own dblock sectors shown to the D5 check first. */
  private observedDevice(): BlockDevice {
    const inner = this.ctx.device;
    const layout = this.ctx.layout;
    const ss = layout.sectorSize;
    return {
      get sectorSize() {
        return inner.sectorSize;
      },
      size: () => inner.size(),
      read: (offset, length) => inner.read(offset, length),
      write: (offset, data) => {
        const r = layout.resources.find((x) => offset === x.offset + (this.ctx.hostId + 1) * ss);
        if (r && data.length === ss && this.engine) {
          this.checker.ownSectorWrite(this.ctx.scheduler.now, r.name, this.ctx.index, this.engine.grantedMode(r.name), this.generation, data);
        }
        return inner.write(offset, data);
      },
      close: () => inner.close(),
    };
  }

  private async renewalThread(): Promise<void> {
    const delta = this.delta as DeltaLease;
    let failed = false;
    const maxTicks = Math.ceil(this.ctx.config.maxSeconds * 2) + 100;
    for (let tick = 0; tick < maxTicks && this.alive && this.state !== "left"; tick++) {
      await this.clock.sleep(failed ? 0.5 : 1);
      if (!this.alive || this.hasLeft()) return;
      if (!failed && this.clock.now() - this.lastSuccess < 2 * this.n) continue;
      try {
        const result = await delta.renew();
        if (!this.alive) return;
        this.lastSuccess = Number(result.timestamp);
        if (this.state === "joined") this.ctx.watchdog.setExpiry(this.watchdogKey, this.lastSuccess + 8 * this.n);
        failed = false;
      } catch (err) {
        if (!this.alive) return;
        this.log(`renewal failed: ${errorText(err)}`);
        failed = true;
      }
    }
  }

  /** docs/algorithms.md §7.2 with docs/dlm.md §5.11: a renewal gap of 8N fails the lockspace. */
  private async mainLoop(): Promise<void> {
    const maxTicks = Math.ceil(this.ctx.config.maxSeconds) + 100;
    for (let tick = 0; tick < maxTicks && this.alive; tick++) {
      await this.clock.sleep(1);
      if (!this.alive) return;
      if (this.state === "joined" && this.clock.now() - this.lastSuccess >= 8 * this.n) {
        this.state = "recovery";
        this.log(`RECOVERY: renewal gap ${(this.clock.now() - this.lastSuccess).toFixed(1)} s; DLM locks dropped, processes killed`);
        this.engine?.stop();
        this.engineStop.abort();
        for (const pid of this.alivePids) this.checker.died(this.ctx.index, pid);
        this.alivePids.clear();
        this.ctx.watchdog.setExpiry(this.watchdogKey, 0);
        this.ctx.checker.hostIdReleased(this.ctx.scheduler.now, this.ctx.hostId, this.ctx.index, this.daemonId);
        this.state = "left";
        try {
          await (this.delta as DeltaLease).release();
        } catch (err) {
          this.log(`delta release: ${errorText(err)}`);
        }
        return;
      }
    }
  }

  private usable(pid: number): boolean {
    return this.alive && this.state === "joined" && this.alivePids.has(pid);
  }

  /** Waits for a completion; a request still pending after PATIENCE_SECONDS is cancelled (docs/dlm.md §5.7). */
  private async awaitCompletion(engine: DlmEngine, lkid: number, done: Promise<Completion>): Promise<Completion | undefined> {
    let result: Completion | undefined;
    void done.then((c) => {
      result = c;
    });
    for (let waited = 0; waited < PATIENCE_SECONDS * 4 && result === undefined; waited++) {
      await this.clock.sleep(0.25);
      if (!this.alive) return undefined;
    }
    if (result === undefined && !engine.isStopped) {
      try {
        engine.cancel(lkid);
      } catch {
        // already gone
      }
      await this.clock.sleep(0.25);
    }
    return result;
  }

  private lvbValue(): Uint8Array {
    const out = new Uint8Array(DLM_LVB_LEN);
    out.set(new TextEncoder().encode(`h${this.ctx.hostId}.${this.daemonId}.${++this.writeCounter}`));
    return out;
  }

  private readLvb(c: Completion): { value: string; valNotValid: boolean } {
    return { value: new TextDecoder().decode(c.lvb ?? new Uint8Array(0)).replace(/\0+$/, ""), valNotValid: c.sb.valNotValid };
  }

  private async processLoop(pid: number, engine: DlmEngine): Promise<void> {
    const maxIterations = this.ctx.config.opsPerHost * 4 + 10;
    for (let i = 0; i < maxIterations && this.usable(pid); i++) {
      await this.clock.sleep(this.ctx.random.between(0, 2));
      if (!this.usable(pid) || !this.actor.takeOp()) return;
      const held = await this.lockOnce(pid, engine);
      if (!held || !this.usable(pid)) continue;
      await this.clock.sleep(this.ctx.random.between(0.05, 3));
      if (!this.usable(pid)) return;
      if (this.ctx.random.chance(0.35)) await this.convertOnce(pid, engine, held);
      if (!this.usable(pid)) return;
      await this.clock.sleep(this.ctx.random.between(0, 1));
      if (!this.usable(pid)) return;
      this.unlockOnce(pid, engine, held);
    }
  }

  private async lockOnce(pid: number, engine: DlmEngine): Promise<Held | undefined> {
    const resource = this.ctx.random.pick(this.ctx.layout.resources).name;
    const mode = this.ctx.random.pick(MODE_DRAW);
    const valblk = this.ctx.random.chance(0.6);
    let flags = valblk ? LKF.VALBLK : 0;
    if (this.ctx.random.chance(0.15)) flags |= LKF.NOQUEUE;
    if (mode === LKM.NL && this.ctx.random.chance(0.3)) flags |= LKF.EXPEDITE;
    if (mode !== LKM.PR && this.ctx.random.chance(0.1)) flags |= LKF.ALTPR;
    this.log(`pid ${pid}: lock ${resource} mode ${mode} flags 0x${flags.toString(16)}`);
    let handle;
    try {
      // The checker learns of a completion from the AST, when the engine delivers it.
      const ast = (done: Completion): void => {
        if (done.status !== 0 || !this.usable(pid)) return;
        this.ctx.checker.operations++;
        this.checker.granted(this.ctx.scheduler.now, resource, this.ctx.index, pid, done.mode, valblk, valblk ? this.readLvb(done) : undefined);
      };
      handle = engine.lock({ pid, mode, resource, flags, ast, ...(valblk ? { lvb: new Uint8Array(DLM_LVB_LEN) } : {}) });
    } catch (err) {
      this.log(`pid ${pid}: lock ${resource} refused: ${errorText(err)}`);
      return undefined;
    }
    const c = await this.awaitCompletion(engine, handle.lkid, handle.done);
    if (c?.status !== 0 || !this.usable(pid)) return undefined;
    this.log(`pid ${pid}: HOLDS ${resource} mode ${c.mode} lkid ${handle.lkid}`);
    return { resource, lkid: handle.lkid, mode: c.mode, valblk };
  }

  private async convertOnce(pid: number, engine: DlmEngine, held: Held): Promise<void> {
    const to = this.ctx.random.pick(MODE_DRAW);
    if (to === held.mode) return;
    const writes = held.valblk && lvbOperation(held.mode, to) === "write";
    const lvb = writes ? this.lvbValue() : held.valblk ? new Uint8Array(DLM_LVB_LEN) : undefined;
    const down = to < held.mode && !(held.mode === LKM.PR && to === LKM.CW);
    // The process stops using the higher mode before it asks for the lower one.
    if (down) this.checker.lowered(held.resource, this.ctx.index, pid, to);
    this.log(`pid ${pid}: convert ${held.resource} lkid ${held.lkid} ${held.mode}→${to}`);
    // Every W conversion is a down-conversion, granted inside the call (docs/dlm.md §5.7): the ghost
    // register takes the value first, so that a reader granted in the same call is checked against it.
    const before = writes ? this.checker.ghostOf(held.resource) : undefined;
    if (writes && lvb) this.checker.wrote(held.resource, new TextDecoder().decode(lvb).replace(/\0+$/, ""));
    let handle;
    try {
      const from = held.mode;
      const ast = (done: Completion): void => {
        if (!this.usable(pid)) return;
        if (done.status === 0) {
          this.ctx.checker.operations++;
          const reads = held.valblk && lvbOperation(from, done.mode) === "read";
          if (!down)
            this.checker.granted(this.ctx.scheduler.now, held.resource, this.ctx.index, pid, done.mode, held.valblk, reads ? this.readLvb(done) : undefined);
        } else if (done.mode >= 0) this.checker.lowered(held.resource, this.ctx.index, pid, done.mode);
      };
      handle = engine.lock({ pid, mode: to, lkid: held.lkid, flags: LKF.CONVERT | (held.valblk ? LKF.VALBLK : 0), ast, ...(lvb ? { lvb } : {}) });
    } catch (err) {
      if (before) this.checker.restoreGhost(held.resource, before);
      this.log(`pid ${pid}: convert refused: ${errorText(err)}`);
      return;
    }
    const c = await this.awaitCompletion(engine, held.lkid, handle.done);
    this.log(`pid ${pid}: convert of lkid ${held.lkid} completed ${c ? `status ${c.status} mode ${c.mode}` : "never"}`);
    if (c && c.mode >= 0) held.mode = c.mode;
  }

  private unlockOnce(pid: number, engine: DlmEngine, held: Held): void {
    this.checker.ended(held.resource, this.ctx.index, pid);
    this.log(`pid ${pid}: unlock ${held.resource} lkid ${held.lkid}`);
    const write = held.valblk && held.mode >= LKM.PW;
    const lvb = write ? this.lvbValue() : undefined;
    // The unlock and its W happen inside the call; a refused unlock writes nothing.
    const before = write ? this.checker.ghostOf(held.resource) : undefined;
    if (write && lvb) this.checker.wrote(held.resource, new TextDecoder().decode(lvb).replace(/\0+$/, ""));
    try {
      void engine.unlock({ lkid: held.lkid, ...(write ? { flags: LKF.VALBLK, lvb } : {}) });
      this.ctx.checker.operations++;
    } catch (err) {
      if (before) this.checker.restoreGhost(held.resource, before);
      this.log(`pid ${pid}: unlock: ${errorText(err)}`);
    }
  }
}
