/**
 * Main-thread side of a lockspace whose delta lease lives in a renewal worker
 * (renewal-worker.ts): starts the worker, relays joins, events and the release to it, and
 * keeps the host status table the paxos leases and GET_HOSTS read, fed with the worker's
 * renewal reads (algorithms.md §3.2). A second, read-only DeltaLease on its own device
 * serves direct reads of other hosts' records (§4.4 step 2.1).
 */
import { Worker } from "node:worker_threads";
import {
  DELTA_DISK_MAGIC, DeltaLease, HostStatusTable, LeaseError, deriveTimeouts, namesEqual, readLeaderFields, testHostBit,
  type BlockDevice, type LeaderRecord, type Notification, type ObservedRecord,
} from "@sanlock-ts/core";
import { openDirectDevice, MAX_IO_TIMEOUT_MS } from "../device/index.js";
import { DAEMON_CLOCK } from "./daemon-clock.js";
import type { FromWorker, ToWorker, WorkerInit, WorkerSpec } from "./worker-protocol.js";

/** Outstanding replies to wait for at most (events and leave are rare). */
const MAX_PENDING_REPLIES = 1024;
/** A leave waits for a renewal write in flight (up to 8N+60 s); bounded above that. */
const LEAVE_EXTRA_SECONDS = 120;

export interface WorkerDeltaEvents {
  renewed(timestamp: bigint, readMs: number, writeMs: number, notes: readonly Notification[]): void;
  renewFailed(result: number, corrupt: boolean, message: string): void;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
}

export interface AreaGeometry {
  readonly sectorSize: number;
  readonly alignSize: number;
  readonly maxHosts: number;
}

/** The worker module next to this one (.js when built, .ts when run from source by tests). */
function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  return new URL(`./renewal-worker.${ext}`, import.meta.url);
}

/** Per-host view of a whole-area read, as the renewal's watcher step takes it (§3.2 step 2). */
export function observedRecords(area: Uint8Array, geometry: AreaGeometry, lockspace: string, ourHostId: number): ObservedRecord[] {
  const records: ObservedRecord[] = [];
  for (let h = 1; h <= geometry.maxHosts; h++) {
    const sector = area.subarray((h - 1) * geometry.sectorSize, h * geometry.sectorSize);
    if (sector.length < geometry.sectorSize) break;
    const rec = readLeaderFields(sector, 0);
    records.push({
      hostId: h,
      valid: rec.magic === DELTA_DISK_MAGIC && namesEqual(rec.spaceName, lockspace),
      ownerId: rec.ownerId, ownerGeneration: rec.ownerGeneration, timestamp: rec.timestamp, ioTimeout: rec.ioTimeout,
      hostName: rec.resourceName, ourBitSet: testHostBit(sector, ourHostId),
      eventGeneration: rec.writeId, eventNumber: rec.writeGeneration, eventData: rec.writeTimestamp,
    });
  }
  return records;
}

export class WorkerDelta {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (result: number) => void>();
  private nextId = 1;
  private joinWaiter: ((message: FromWorker) => void) | undefined;
  private table: HostStatusTable | undefined;
  private geometryValue: AreaGeometry | undefined;
  private generationValue = 0n;
  private reader: DeltaLease | undefined;
  private readerDevice: BlockDevice | undefined;
  private exited = false;

  constructor(private readonly spec: WorkerSpec, hostName: string, statusBuffer: SharedArrayBuffer, private readonly events: WorkerDeltaEvents) {
    const init: WorkerInit = { spec, hostName, status: statusBuffer };
    this.worker = new Worker(workerUrl(), { workerData: init });
    this.worker.on("message", (message: FromWorker) => this.onMessage(message));
    this.worker.on("error", (error) => this.events.log("error", `lockspace ${spec.name} renewal worker: ${error.message}`));
    this.worker.on("exit", () => this.onExit());
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

  /** Join in the worker (§2.2); resolves with the generation or throws a LeaseError-like result. */
  async acquire(): Promise<{ generation: bigint; timestamp: bigint }> {
    const answer = await new Promise<FromWorker>((resolve) => {
      this.joinWaiter = resolve;
      this.send({ op: "join" });
    });
    if (answer.op !== "joined") {
      const failed = answer.op === "join-failed" ? answer : { result: -201, message: "renewal worker exited" };
      throw Object.assign(new Error(failed.message), { joinResult: failed.result });
    }
    this.geometryValue = { sectorSize: answer.sectorSize, alignSize: answer.alignSize, maxHosts: answer.maxHosts };
    this.generationValue = answer.generation;
    this.table = new HostStatusTable({
      ourHostId: this.spec.hostId, ownIoTimeout: this.spec.ioTimeout, maxHosts: answer.maxHosts, clock: DAEMON_CLOCK,
      setBitmapSeconds: deriveTimeouts(this.spec.ioTimeout).setBitmapSeconds,
    });
    const device = await openDirectDevice(this.spec.path, { ioTimeoutMs: Math.min(MAX_IO_TIMEOUT_MS, (8 * this.spec.ioTimeout + 60) * 1000) });
    this.readerDevice = device;
    this.reader = new DeltaLease({
      lockspace: this.spec.name, hostId: this.spec.hostId, hostName: "reader", ioTimeout: this.spec.ioTimeout,
      device, offset: Number(this.spec.offset), clock: DAEMON_CLOCK,
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

  /** Leave (§2.5) in the worker, then stop it and close our reader. */
  async leave(): Promise<void> {
    const bound = (8 * this.spec.ioTimeout + 60 + LEAVE_EXTRA_SECONDS) * 1000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.call((id) => ({ op: "leave", id })),
      new Promise((resolve) => { timer = setTimeout(resolve, bound); }),
    ]);
    clearTimeout(timer);
    await this.worker.terminate();
    await this.readerDevice?.close().catch(() => undefined);
  }

  private call(build: (id: number) => ToWorker): Promise<number> {
    if (this.exited) return Promise.resolve(-201);
    if (this.pending.size >= MAX_PENDING_REPLIES) return Promise.resolve(-16);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send(build(id));
    });
  }

  private send(message: ToWorker): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  private onMessage(message: FromWorker): void {
    switch (message.op) {
      case "joined":
      case "join-failed": {
        const waiter = this.joinWaiter;
        this.joinWaiter = undefined;
        waiter?.(message);
        return;
      }
      case "area":
        this.observe(new Uint8Array(message.bytes));
        return;
      case "renewed":
        this.events.renewed(message.timestamp, message.readMs, message.writeMs, this.takeNotes());
        return;
      case "renew-failed":
        this.events.renewFailed(message.result, message.corrupt, message.message);
        return;
      case "reply": {
        const resolve = this.pending.get(message.id);
        this.pending.delete(message.id);
        resolve?.(message.result);
        return;
      }
      case "log":
        this.events.log(message.level, message.message);
        return;
    }
  }

  private notes: Notification[] = [];

  /** §3.2: every renewal read updates the table, even when the attempt then fails. */
  private observe(area: Uint8Array): void {
    if (this.table === undefined || this.geometryValue === undefined) return;
    const records = observedRecords(area, this.geometryValue, this.spec.name, this.spec.hostId);
    this.notes.push(...this.table.observe(records));
  }

  private takeNotes(): Notification[] {
    const notes = this.notes;
    this.notes = [];
    return notes;
  }

  private onExit(): void {
    this.exited = true;
    this.joinWaiter?.({ op: "join-failed", result: -201, message: "renewal worker exited" });
    this.joinWaiter = undefined;
    for (const resolve of this.pending.values()) resolve(-201);
    this.pending.clear();
  }
}
