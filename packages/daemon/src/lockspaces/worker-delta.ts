/**
 * Main-thread side of a lockspace whose delta lease lives in the daemon's renewal worker
 * (renewal-thread.ts, worker-lockspace.ts): relays the join, events and the release to it,
 * and keeps the host status table the paxos leases and GET_HOSTS read, a mirror of the worker's
 * own: fed with the records the worker's table examined in each renewal read (docs/algorithms.md §3.2). A second, read-only
 * DeltaLease on its own device serves direct reads of other hosts' records (docs/algorithms.md §4.4 step 2.1).
 */
import {
  DeltaLease,
  HostStatusTable,
  LeaseError,
  SanlkResult,
  deriveTimeouts,
  hostDeadSeconds,
  type BlockDevice,
  type LeaderRecord,
  type Notification,
  type ObservedRecord,
} from "@sanlock-ts/core";
import { DAEMON_CLOCK } from "../daemon-clock.js";
import { renewalThread, type RenewalChannel } from "./renewal-thread.js";
import { openLockspaceDevice, type OpenLockspaceDevice } from "./worker-lockspace.js";
import type { FromWorker, RenewalMeasure, ToWorker, WorkerSpec } from "./worker-protocol.js";

/** Outstanding replies to wait for at most (events and leave are rare). */
const MAX_PENDING_REPLIES = 1024;
/** A leave waits for a renewal write in flight (up to 8N+60 s); bounded above that. */
const LEAVE_EXTRA_SECONDS = 120;
/** Result of everything asked of a worker that has ended (SANLK_ERROR). */
const WORKER_GONE = SanlkResult.ERROR;
/** Notifications kept between two successful renewals at most (2 per host of the largest area). */
const MAX_PENDING_NOTES = 4000;
/**
 * How long after the join is reported its renewal read is examined. sanlock examines the last
 * renewal read from its main loop, once a second: between add_lockspace returning and that
 * examination get_hosts answers EAGAIN, and a second later it lists the hosts (sanlock's own
 * test_acquire_release_resource relies on both). We examine the join's read half a second after.
 */
const JOIN_READ_EXAMINE_MS = 500;

export interface WorkerDeltaEvents {
  renewed(timestamp: bigint, readMs: number, writeMs: number, notes: readonly Notification[], measure: RenewalMeasure): void;
  renewFailed(result: number, corrupt: boolean, message: string, measure: RenewalMeasure): void;
  /** The renewal worker ended: this lockspace will never renew again. */
  workerExited(reason: string): void;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
  /** A step of the join in sanlock's words, for the lockspace's own log tag. */
  step(message: string): void;
}

export interface AreaGeometry {
  readonly sectorSize: number;
  readonly alignSize: number;
  readonly maxHosts: number;
}

type WithoutKey<M> = M extends ToWorker ? Omit<M, "key"> : never;

export class WorkerDelta {
  private readonly thread: RenewalChannel;
  private readonly openDevice: OpenLockspaceDevice;
  private readonly key: number;
  private readonly pending = new Map<number, (result: number) => void>();
  private nextId = 1;
  private joinWaiter: ((message: FromWorker) => void) | undefined;
  private table: HostStatusTable | undefined;
  private geometryValue: AreaGeometry | undefined;
  private generationValue = 0n;
  private reader: DeltaLease | undefined;
  private readerDevice: BlockDevice | undefined;
  private exited = false;
  private detached = false;
  private notes: Notification[] = [];
  /** Renewal reads that arrived before the join was reported (the renewal at join), oldest first. */
  private early: Array<readonly ObservedRecord[]> = [];
  private earlyTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly spec: WorkerSpec,
    private readonly hostName: string,
    private readonly statusBuffer: SharedArrayBuffer,
    private readonly events: WorkerDeltaEvents,
    options: { channel?: RenewalChannel; openDevice?: OpenLockspaceDevice } = {},
  ) {
    this.thread = options.channel ?? renewalThread();
    this.openDevice = options.openDevice ?? openLockspaceDevice;
    this.key = this.thread.attach({ onMessage: (message) => this.onMessage(message), workerExited: (reason) => this.onExit(reason) });
  }

  get generation(): bigint {
    return this.generationValue;
  }

  get geometry(): AreaGeometry {
    if (this.geometryValue === undefined) throw new LeaseError("ERROR", `lockspace ${this.spec.name} is not joined`);
    return this.geometryValue;
  }

  get status(): HostStatusTable {
    if (this.table === undefined) throw new LeaseError("ERROR", `lockspace ${this.spec.name} is not joined`);
    return this.table;
  }

  /** Join in the worker (docs/algorithms.md §2.2); resolves with the generation or throws a LeaseError-like result. */
  async acquire(): Promise<{ generation: bigint; timestamp: bigint }> {
    const answer = await new Promise<FromWorker>((resolve) => {
      this.joinWaiter = resolve;
      this.send({ op: "join", join: { spec: this.spec, hostName: this.hostName, status: this.statusBuffer } });
    });
    if (answer.op !== "joined") {
      const failed = answer.op === "join-failed" ? answer : { result: WORKER_GONE, message: "renewal worker exited" };
      throw Object.assign(new Error(failed.message), { joinResult: failed.result });
    }
    const device = await this.openDevice(this.spec.path, this.spec.ioTimeout);
    this.readerDevice = device;
    this.reader = new DeltaLease({
      lockspace: this.spec.name,
      hostId: this.spec.hostId,
      hostName: "reader",
      ioTimeout: this.spec.ioTimeout,
      device,
      offset: Number(this.spec.offset),
      clock: DAEMON_CLOCK,
    });
    return { generation: answer.generation, timestamp: answer.timestamp };
  }

  abort(): void {
    this.send({ op: "abort" });
  }

  readHostRecord(hostId: number): Promise<LeaderRecord> {
    if (this.reader === undefined) return Promise.reject(new LeaseError("ERROR", `lockspace ${this.spec.name} is not joined`));
    return this.reader.readHostRecord(hostId);
  }

  notifyHost(hostId: number): void {
    this.send({ op: "notify", hostId });
  }

  /** SET_EVENT in the worker; resolves with 0 or the negative result (e.g. −EBUSY). */
  setEvent(hostId: number, event: { generation: bigint; event: bigint; data: bigint }, flags: number): Promise<number> {
    return this.call((id) => ({ op: "set-event", id, hostId, ...event, flags }));
  }

  /** Leave (docs/algorithms.md §2.5) in the worker, then detach from it and close our reader. */
  async leave(): Promise<void> {
    const bound = (hostDeadSeconds(this.spec.ioTimeout) + LEAVE_EXTRA_SECONDS) * 1000;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      this.call((id) => ({ op: "leave", id })).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), bound);
      }),
    ]);
    clearTimeout(timer);
    if (!answered) this.events.log("error", `lockspace ${this.spec.name} leave not finished by the renewal worker after ${bound / 1000} s`);
    this.detach();
    await this.readerDevice?.close().catch(() => undefined);
  }

  private detach(): void {
    clearTimeout(this.earlyTimer);
    if (this.detached) return;
    this.detached = true;
    this.thread.detach(this.key);
  }

  private call(build: (id: number) => WithoutKey<ToWorker>): Promise<number> {
    if (this.exited) return Promise.resolve(WORKER_GONE);
    if (this.pending.size >= MAX_PENDING_REPLIES) return Promise.resolve(-16);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send(build(id));
    });
  }

  private send(message: WithoutKey<ToWorker>): void {
    if (this.exited || this.detached) return;
    this.thread.send({ ...message, key: this.key } as ToWorker);
  }

  private onMessage(message: FromWorker): void {
    switch (message.op) {
      case "joined":
        this.onJoined(message);
        return;
      case "join-failed": {
        const waiter = this.joinWaiter;
        this.joinWaiter = undefined;
        waiter?.(message);
        return;
      }
      case "observed":
        this.observe(message.examined);
        return;
      case "renewed":
        this.events.renewed(message.timestamp, message.readMs, message.writeMs, this.takeNotes(), message.measure);
        return;
      case "renew-failed":
        this.events.renewFailed(message.result, message.corrupt, message.message, message.measure);
        return;
      case "reply": {
        const resolve = this.pending.get(message.id);
        this.pending.delete(message.id);
        resolve?.(message.result);
        return;
      }
      case "log":
        this.events.log(message.level, `lockspace ${this.spec.name}: ${message.message}`);
        return;
      case "step":
        this.events.step(message.message);
        return;
    }
  }

  /**
   * The worker renews once before it reports a join that took 2N or longer (renewal-schedule.ts
   * renewIfDueAtJoin), so that renewal's read arrives before "joined", when there is no table
   * yet. It is kept and examined shortly after the join (JOIN_READ_EXAMINE_MS), then every later
   * read in order: the mirror stays equal to the worker's table only if every read is applied, in order.
   */
  private onJoined(message: Extract<FromWorker, { op: "joined" }>): void {
    this.geometryValue = { sectorSize: message.sectorSize, alignSize: message.alignSize, maxHosts: message.maxHosts };
    this.generationValue = message.generation;
    this.table = new HostStatusTable({
      ourHostId: this.spec.hostId,
      ownIoTimeout: this.spec.ioTimeout,
      maxHosts: message.maxHosts,
      clock: DAEMON_CLOCK,
      setBitmapSeconds: deriveTimeouts(this.spec.ioTimeout).setBitmapSeconds,
    });
    if (this.early.length > 0) this.earlyTimer = setTimeout(() => this.examineEarly(), JOIN_READ_EXAMINE_MS);
    const waiter = this.joinWaiter;
    this.joinWaiter = undefined;
    waiter?.(message);
  }

  /** docs/algorithms.md §3.2: every renewal read updates the table, even when the attempt then fails. */
  private observe(examined: readonly ObservedRecord[]): void {
    if (this.table === undefined) {
      // At most the reads of the join's own renewal; more would mean a worker out of step.
      if (this.early.length >= 2) this.events.log("error", `lockspace ${this.spec.name}: renewal reads before the join finished: ${this.early.length + 1}`);
      else this.early.push(examined);
      return;
    }
    this.examineEarly();
    this.examine(examined);
  }

  /** The reads kept from before the join, once (a later read or the timer, whichever comes first). */
  private examineEarly(): void {
    clearTimeout(this.earlyTimer);
    this.earlyTimer = undefined;
    const early = this.early;
    this.early = [];
    for (const read of early) this.examine(read);
  }

  private examine(examined: readonly ObservedRecord[]): void {
    if (this.table === undefined) return;
    for (const note of this.table.observeExamined(examined)) {
      if (this.notes.length >= MAX_PENDING_NOTES) this.notes.shift();
      this.notes.push(note);
    }
  }

  private takeNotes(): Notification[] {
    const notes = this.notes;
    this.notes = [];
    return notes;
  }

  private onExit(reason: string): void {
    if (this.exited) return;
    this.exited = true;
    this.detached = true;
    this.joinWaiter?.({ key: this.key, op: "join-failed", result: WORKER_GONE, message: reason });
    this.joinWaiter = undefined;
    for (const resolve of this.pending.values()) resolve(WORKER_GONE);
    this.pending.clear();
    this.events.workerExited(reason);
  }
}
