/**
 * One lockspace instance of this daemon: the host_id delta lease (docs/algorithms.md §2), its
 * renewal loop (docs/algorithms.md §2.3), the failure checks that start recovery (docs/algorithms.md §2.4, §7.2), and leaving (docs/algorithms.md §2.5).
 *
 * The delta lease, its renewal timer and its I/O live in the daemon's one renewal worker thread
 * (renewal-worker.ts, shared by all lockspaces, through WorkerDelta): a busy main event loop
 * cannot make a renewal late, and a stalled device delays only its own lockspace (each
 * lockspace has its own loop there; the I/O is asynchronous). The last good renewal is
 * published through a SharedArrayBuffer (RenewalStatus) that the main thread and a watchdog
 * can read at any time. Tests that inject devices run the same worker code in process
 * (in-process-renewal.ts).
 *
 * Recovery (docs/algorithms.md §7.2) is one-way (docs/algorithms.md §7.11 rule 4). What recovery does to holders (the kill sequence,
 * docs/algorithms.md §7.3) is the recovery module's: this class only calls the `onRecovery` hook once.
 */
import type { LeaseLockspace } from "../resources/lease-lockspace.js";
import { LeaseError, SanlockResult, SanlkResult, type HostStatusTable, type Notification, type PaxosHost } from "@sanlock-ts/core";
import { WorkerDelta } from "./worker-delta.js";
import { InProcessRenewal } from "./in-process-renewal.js";
import { TICK_SECONDS } from "./renewal-schedule.js";
import { DAEMON_CLOCK, DAEMON_RANDOM } from "../daemon-clock.js";
import { RenewalStatus, type LockspaceState } from "./renewal-status.js";
import { RenewalHistory } from "./renewal-history.js";
import { publishRenewal } from "./renewal-diagnostics.js";
import { wireResultOf } from "../results.js";
import type { OpenLockspaceDevice } from "./worker-lockspace.js";
import type { Watchdog, WatchdogConnection } from "../watchdog/watchdog.js";

export interface LockspaceSpec {
  readonly name: string;
  readonly hostId: number;
  readonly path: string;
  readonly offset: bigint;
  /** Our io_timeout N_own, 1..255. */
  readonly ioTimeout: number;
  /** RENEWAL entries kept (daemon renewal_history_size); default 180. */
  readonly historySize?: number;
}

export interface LockspaceHooksIn {
  /** Host name written into our delta record (docs/algorithms.md §2.1.2). */
  readonly hostName: string;
  /** Called once when the lockspace enters recovery (docs/algorithms.md §7.2 step 1). */
  onRecovery(ls: Lockspace, reason: string): void;
  /** Notifications found in other hosts' records at a renewal (docs/algorithms.md §3.2 step 5, §6.2, §8.4). */
  onNotifications(ls: Lockspace, notes: readonly Notification[]): void;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
  /**
   * Opens the host_id disk (tests: memory disks, stalling devices). Given, the worker's code runs
   * in process on these devices (in-process-renewal.ts); without it, in the renewal worker thread.
   */
  openDevice?: OpenLockspaceDevice;
  /** The daemon's watchdog (-w); each joined lockspace registers its expiry there (docs/algorithms.md §7.5). */
  readonly watchdog?: Watchdog;
}

export class Lockspace implements LeaseLockspace {
  readonly renewal = new RenewalStatus();
  /** RENEWAL command history (docs/wire.md §7.30). */
  readonly history: RenewalHistory;
  /** Unique id shown as space_id in STATUS. */
  readonly spaceId: number;
  private stateValue: LockspaceState = "joining";
  private worker: WorkerDelta | undefined;
  private readonly stop = new AbortController();
  private watchTimer: NodeJS.Timeout | undefined;
  private watchdogConnection: WatchdogConnection | undefined;
  /** Set by REM_LOCKSPACE / forced shutdown: leave once the holders are gone (docs/wire.md §8.1). */
  removeRequested = false;
  /** SET_CONFIG USED / USED_BY_ORPHANS (docs/wire.md §7.29). */
  externalUsed = false;
  usedByOrphans = false;
  /**
   * DLM locks held through this lockspace (docs/dlm.md §5.11): set by the DLM service while it is
   * joined. Like a lease holder, it keeps the lockspace from being left until it answers false.
   */
  heldByDlm: (() => boolean) | undefined;
  /** Set once REM_LOCKSPACE or a forced shutdown starts killing the holders: sanlock then shows space_dead and killing_pids 1. */
  killingPids = false;
  recoveryReason = "";
  acquireLastResult = 0;
  acquireLastAttempt = 0;
  acquireLastSuccess = 0;
  corruptResult = 0;

  constructor(
    readonly spec: LockspaceSpec,
    spaceId: number,
    private readonly hooks: LockspaceHooksIn,
  ) {
    if (spec.hostId < 1 || spec.hostId > 2000) throw new RangeError(`host_id ${spec.hostId} outside 1..2000`);
    if (spec.ioTimeout < 1 || spec.ioTimeout > 255) throw new RangeError(`io_timeout ${spec.ioTimeout} outside 1..255`);
    this.spaceId = spaceId;
    this.history = new RenewalHistory(spec.historySize);
    this.renewal.setState("joining");
  }

  get name(): string {
    return this.spec.name;
  }

  get state(): LockspaceState {
    return this.stateValue;
  }

  private setState(state: LockspaceState): void {
    this.stateValue = state;
    this.renewal.setState(state);
  }

  /** The worker's view of the joined delta lease; undefined before the join. */
  private view(): WorkerDelta | undefined {
    if (this.stateValue === "joining") return undefined;
    try {
      const v = this.worker;
      if (v === undefined) return undefined;
      void v.geometry; // throws before the join
      return v;
    } catch {
      return undefined;
    }
  }

  /** Our generation in the lockspace (after join). */
  get generation(): bigint {
    return this.view()?.generation ?? 0n;
  }

  get geometry(): { sectorSize: number; alignSize: number } {
    return this.view()?.geometry ?? { sectorSize: 0, alignSize: 0 };
  }

  /** max_hosts of the lockspace area (0 before the join). */
  get maxHosts(): number {
    return this.view()?.geometry.maxHosts ?? 0;
  }

  /** The host status table (after join; the source of GET_HOSTS / HOST_STATUS). */
  get hostStatus(): HostStatusTable | undefined {
    return this.view()?.status;
  }

  /** Sets host_id's bit in our next renewals (docs/algorithms.md §2.7, after a REQUEST docs/algorithms.md §6.1 step 6). */
  notifyHost(hostId: number): void {
    this.worker?.notifyHost(hostId);
  }

  /** SET_EVENT (docs/algorithms.md §6.4): 0, or the negative result (−EBUSY: another event still being delivered). */
  async setEvent(hostId: number, event: { generation: bigint; event: bigint; data: bigint }, flags: number): Promise<number> {
    if (this.worker === undefined) return SanlockResult.ERROR;
    return this.worker.setEvent(hostId, event, flags);
  }

  /**
   * A lease may be linked to a process only while this is true (docs/algorithms.md §7.11 rule 3). A requested
   * removal counts as failing: sanlock then drops released leases without disk I/O (recorded).
   */
  isUsable(hostId: number, generation: bigint): boolean {
    return this.stateValue === "live" && !this.removeRequested && this.spec.hostId === hostId && this.generation === generation;
  }

  /** What a paxos lease needs from this lockspace instance (core PaxosHost). */
  paxosHost(): PaxosHost {
    const delta = this.requireDelta();
    return {
      lockspace: this.spec.name,
      hostId: this.spec.hostId,
      generation: delta.generation,
      ioTimeout: this.spec.ioTimeout,
      clock: DAEMON_CLOCK,
      random: DAEMON_RANDOM,
      liveness: delta.status,
      readDeltaRecord: (hostId) => delta.readHostRecord(hostId),
    };
  }

  private requireDelta(): WorkerDelta {
    const view = this.view();
    if (view === undefined) throw new LeaseError("ERROR", `lockspace ${this.spec.name} is not joined`);
    return view;
  }

  /**
   * Join (docs/algorithms.md §2.2) in the renewal worker: it opens the path, checks the host_id against the area,
   * acquires the delta lease, then renews. Resolves with 0 or a negative wire result.
   */
  async join(): Promise<number> {
    this.acquireLastAttempt = Math.floor(DAEMON_CLOCK.now());
    let worker: WorkerDelta;
    try {
      worker = this.newWorkerDelta();
    } catch (error) {
      this.hooks.log("error", `add_lockspace ${this.spec.name}:${this.spec.hostId} renewal worker: ${(error as Error).message}`);
      return this.joinFailed(SanlockResult.ERROR);
    }
    this.worker = worker;
    // sanlock's words (lockspace.c, delta_lease.c): the lockspace and the start of the host_id acquire.
    const spaceTag = `s${this.spaceId}`;
    this.hooks.log("info", `${spaceTag} lockspace ${this.spec.name}:${this.spec.hostId}:${this.spec.path}:${this.spec.offset}`);
    this.hooks.log("info", `${spaceTag} delta_acquire begin ${this.spec.name}:${this.spec.hostId}`);
    const abort = (): void => worker.abort();
    this.stop.signal.addEventListener("abort", abort, { once: true });
    try {
      await worker.acquire();
    } catch (error) {
      const result = this.stop.signal.aborted ? -1 : ((error as { joinResult?: number }).joinResult ?? wireResultOf(error));
      this.hooks.log("error", `add_lockspace ${this.spec.name}:${this.spec.hostId} failed ${result}: ${(error as Error).message}`);
      this.worker = undefined;
      await worker.leave().catch(() => undefined);
      return this.joinFailed(result);
    } finally {
      this.stop.signal.removeEventListener("abort", abort);
    }
    if (this.stop.signal.aborted) {
      // Removed while joining: the host_id was acquired but is given back at once (docs/algorithms.md §2.5).
      this.worker = undefined;
      await worker.leave();
      return this.joinFailed(-1);
    }
    if (!this.armWatchdog()) {
      this.worker = undefined;
      await worker.leave();
      return this.joinFailed(SanlkResult.WD_ERROR);
    }
    this.history.success(this.renewal.lastSuccess, 0, 0);
    this.acquireLastResult = 1;
    this.acquireLastSuccess = this.renewal.lastSuccess;
    this.acquireLastAttempt = this.acquireLastSuccess;
    this.setState("live");
    this.watchTimer = setInterval(() => this.checkGap(), TICK_SECONDS * 1000);
    this.hooks.log("info", `lockspace ${this.spec.name}:${this.spec.hostId} joined generation ${this.generation} (renewals in a worker thread)`);
    this.hooks.log("info", `${spaceTag} add_lockspace done`);
    return 0;
  }

  /** Attaches this lockspace to the daemon's renewal worker (started now if none runs). */
  private newWorkerDelta(): WorkerDelta {
    const openDevice = this.hooks.openDevice;
    const options = openDevice === undefined ? {} : { channel: new InProcessRenewal(openDevice), openDevice };
    return new WorkerDelta(
      this.spec,
      this.hooks.hostName,
      this.renewal.buffer,
      {
        renewed: (timestamp, readMs, writeMs, notes, measure) => {
          this.history.success(Number(timestamp), readMs, writeMs);
          publishRenewal(this.spec, { result: 0, timestamp: Number(timestamp), readMs, writeMs }, measure);
          this.watchdogRenewed(Number(timestamp));
          if (notes.length > 0 && this.stateValue !== "removed") this.hooks.onNotifications(this, notes);
        },
        renewFailed: (result, corrupt, message, measure) => {
          this.history.failure(result === SanlockResult.AIO_TIMEOUT);
          publishRenewal(this.spec, { result, timestamp: 0, readMs: 0, writeMs: 0 }, measure);
          this.hooks.log("error", `lockspace ${this.spec.name} renewal failed ${result}: ${message}`);
          if (corrupt) {
            this.corruptResult = result;
            this.enterRecovery(`renewal result ${result}`);
          }
        },
        workerExited: (reason) => this.workerExited(reason),
        log: this.hooks.log,
        step: (line) => this.hooks.log("info", `s${this.spaceId} ${line}`),
      },
      options,
    );
  }

  /**
   * The renewal worker ended: no renewal of this lockspace will happen any more. Recorded as a
   * failed attempt (renew_fail in STATUS); the gap check then starts recovery at last_success
   * + 8N like for any renewal that keeps failing (docs/algorithms.md §2.4).
   */
  private workerExited(reason: string): void {
    if (this.stateValue === "removed") return;
    this.renewal.recordAttempt(DAEMON_CLOCK.now(), SanlockResult.ERROR);
    this.history.failure(false);
    this.hooks.log("error", `lockspace ${this.spec.name}:${this.spec.hostId} renewal failed: ${reason}`);
  }

  /**
   * docs/algorithms.md §7.5.1 / §7.11.1: register the expiry `last_success + 8N` before the lockspace is
   * usable. False when the watchdog refuses (device missing or not at 60 s): the join
   * then fails with SANLK_WD_ERROR after giving the host_id back, as sanlock does.
   */
  private armWatchdog(): boolean {
    const watchdog = this.hooks.watchdog;
    if (watchdog === undefined) return true;
    try {
      this.watchdogConnection = watchdog.register(`${this.spec.name}:${this.spec.hostId}`, this.renewal.lastSuccess, this.spec.ioTimeout);
      return true;
    } catch (error) {
      this.hooks.log("error", `add_lockspace ${this.spec.name}:${this.spec.hostId} watchdog: ${(error as Error).message}`);
      return false;
    }
  }

  /** docs/algorithms.md §7.11.2: advance the expiry after a completed renewal write; never once leaving (rule 5). */
  private watchdogRenewed(timestamp: number): void {
    if (this.stateValue === "removed") return;
    this.watchdogConnection?.renewed(timestamp);
  }

  private joinFailed(result: number): number {
    this.acquireLastResult = result;
    this.setState("removed");
    return result;
  }

  /** Aborts a join in progress (REM_LOCKSPACE while adding, docs/wire.md §7.3): the add answers −1. */
  abortJoin(): void {
    if (this.stateValue === "joining") this.stop.abort(new Error("add aborted by remove"));
  }

  /** docs/algorithms.md §2.4: the gap check runs independently of a renewal that may be stuck in I/O. */
  private checkGap(): void {
    if (this.stateValue !== "live") return;
    const gap = DAEMON_CLOCK.now() - this.renewal.lastSuccess;
    const n = this.spec.ioTimeout;
    if (gap >= 8 * n) this.enterRecovery(`renewal gap ${Math.floor(gap)} s ≥ 8·io_timeout`);
    else if (gap >= 6 * n) this.hooks.log("warn", `lockspace ${this.spec.name} renewal gap ${Math.floor(gap)} s`);
  }

  /** docs/algorithms.md §7.2 step 1: one-way (docs/algorithms.md §7.11 rule 4). */
  enterRecovery(reason: string): void {
    if (this.stateValue !== "live") return;
    this.setState("recovery");
    this.recoveryReason = reason;
    this.hooks.log("error", `lockspace ${this.spec.name}:${this.spec.hostId} recovery: ${reason}`);
    this.hooks.onRecovery(this, reason);
  }

  /**
   * Leave (docs/algorithms.md §2.5, §7.11 rules 5-6): called only once no process uses the lockspace. Stops
   * renewals, waits for an attempt in progress, then writes the delta release only if the
   * last renewal attempt succeeded.
   */
  async leave(): Promise<void> {
    if (this.stateValue === "removed") return;
    this.setState("removed");
    // docs/algorithms.md §7.4: every holder is gone, so the host need not be reset any more; cleared before
    // renewals stop and before the delta release (docs/algorithms.md §7.11 rules 5-6).
    this.watchdogConnection?.clearExpiry();
    this.stop.abort(new Error("lockspace removed"));
    if (this.watchTimer !== undefined) clearInterval(this.watchTimer);
    // The worker stops renewing and writes the release only if its last attempt succeeded.
    this.hooks.log("info", `s${this.spaceId} delta_release begin ${this.spec.name}:${this.spec.hostId}`);
    await this.worker?.leave();
    // The worker wrote the release only after a successful last attempt (docs/algorithms.md §7.11 rule 6).
    const released = this.renewal.lastResult === 0;
    this.hooks.log("info", `s${this.spaceId} delta_release ${released ? "done" : "skipped, last renewal failed"} ${this.spec.hostId} ${this.generation} 0`);
    this.watchdogConnection?.close();
  }

  /** Recovery, or a removal that has begun killing the holders: no new holder should count on this lockspace. */
  private get dying(): boolean {
    return this.stateValue === "recovery" || this.killingPids;
  }

  /** LOCKSPACE state string fields of STATUS (docs/wire.md §10.5), minus `list`. */
  stateFields(): string {
    const geometry = this.geometry;
    const r = this.renewal;
    return [
      `space_id=${this.spaceId}`,
      `io_timeout=${this.spec.ioTimeout}`,
      `sector_size=${geometry.sectorSize}`,
      `align_size=${geometry.alignSize}`,
      `host_generation=${this.generation}`,
      `renew_fail=${r.lastResult < 0 ? 1 : 0}`,
      `space_dead=${this.dying ? 1 : 0}`,
      `killing_pids=${this.dying ? 1 : 0}`,
      `used_retries=0`,
      `external_used=${Number(this.externalUsed)}`,
      `used_by_orphans=${Number(this.usedByOrphans)}`,
      `renewal_read_extend_sec=${this.spec.ioTimeout}`,
      `set_max_sectors_kb=0`,
      `corrupt_result=${this.corruptResult}`,
      `acquire_last_result=${this.acquireLastResult}`,
      `renewal_last_result=${r.lastResult === 0 ? 1 : r.lastResult}`,
      `acquire_last_attempt=${this.acquireLastAttempt}`,
      `acquire_last_success=${this.acquireLastSuccess}`,
      `renewal_last_attempt=${r.lastAttempt}`,
      `renewal_last_success=${r.lastSuccess}`,
    ].join(" ");
  }
}
