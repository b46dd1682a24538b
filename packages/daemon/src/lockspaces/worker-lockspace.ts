/**
 * One lockspace inside the renewal worker: its device, its delta lease, its own renewal loop
 * and timers, its outgoing notification bits and events, and the delta release
 * (docs/algorithms.md §2.2-§2.5, §2.7, §6.4). Every lockspace of the worker has its own instance
 * and nothing here waits for another lockspace: the device I/O is asynchronous (libuv
 * threadpool), so a device that never answers stalls only the loop that issued the I/O.
 *
 * Results go to the main thread through the lockspace's RenewalStatus SharedArrayBuffer
 * (last good renewal, last attempt) and messages tagged with its key (worker-protocol.ts).
 */
import { DeltaLease, Errno, LeaseError, SanlkResult, detectAreaGeometry, hostDeadSeconds, isCorruptRenewalError, type BlockDevice } from "@sanlock-ts/core";
import { openDirectDevice, MAX_IO_TIMEOUT_MS } from "../device/index.js";
import { DAEMON_CLOCK } from "../daemon-clock.js";
import { renewIfDueAtJoin, renewWhenDue } from "./renewal-schedule.js";
import { RenewalStatus } from "./renewal-status.js";
import { TimedDevice } from "./renewal-history.js";
import { wireResultOf } from "../results.js";
import type { FromWorkerBody, RenewalMeasure, WorkerJoin } from "./worker-protocol.js";

export type PostToMain = (message: FromWorkerBody) => void;

/** Opens a lockspace's host_id disk (the daemon: O_DIRECT; tests: memory disks, stalling devices). */
export type OpenLockspaceDevice = (path: string, ioTimeout: number) => Promise<BlockDevice>;

/**
 * O_DIRECT device whose per-I/O deadline exceeds every core timeout, so the core's bounds decide
 * (docs/algorithms.md §1.5). It keeps its renewal-read slab between renewals, as sanlock keeps a
 * buffer per lockspace: lockspaces that renew together would otherwise read into fresh slabs
 * and pay their page faults on every renewal (aligned-buffer-pool.ts).
 */
export function openLockspaceDevice(path: string, ioTimeout: number): Promise<BlockDevice> {
  return openDirectDevice(path, { ioTimeoutMs: Math.min(MAX_IO_TIMEOUT_MS, hostDeadSeconds(ioTimeout) * 1000), keepSlab: true });
}

export class WorkerLockspace {
  private readonly status: RenewalStatus;
  private readonly stop = new AbortController();
  private device: BlockDevice | undefined;
  private timed: TimedDevice | undefined;
  private delta: DeltaLease | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly init: WorkerJoin,
    private readonly post: PostToMain,
    private readonly openDevice: OpenLockspaceDevice = openLockspaceDevice,
  ) {
    this.status = new RenewalStatus(init.status);
  }

  /** docs/algorithms.md §2.2: opens the device, checks the host_id against the area, acquires, then renews. */
  async join(): Promise<void> {
    const { spec, hostName } = this.init;
    try {
      const opened = await this.openDevice(spec.path, spec.ioTimeout);
      this.device = opened;
      const offset = Number(spec.offset);
      const geometry = await detectAreaGeometry(opened, offset);
      if (geometry !== undefined && spec.hostId > geometry.maxHosts) {
        this.post({ op: "join-failed", result: SanlkResult.ADDLS_INVALID_HOSTID, message: `host_id ${spec.hostId} exceeds max_hosts ${geometry.maxHosts}` });
        return;
      }
      this.timed = new TimedDevice(opened);
      const delta = new DeltaLease({
        lockspace: spec.name,
        hostId: spec.hostId,
        hostName,
        ioTimeout: spec.ioTimeout,
        device: this.timed,
        offset,
        clock: DAEMON_CLOCK,
        // docs/algorithms.md §3.2: every renewal read reaches the main thread's table, also when the attempt then fails.
        onExamined: (examined) => this.post({ op: "observed", examined }),
      });
      this.delta = delta;
      const joined = await delta.acquire(this.stop.signal, (message) => this.post({ op: "step", message }));
      this.timed?.reset();
      const lastSuccess = await renewIfDueAtJoin(delta, joined.timestamp);
      this.status.recordSuccess(Number(lastSuccess));
      this.status.recordAttempt(Number(lastSuccess), 0);
      const g = delta.geometry;
      this.post({
        op: "joined",
        generation: joined.generation,
        timestamp: lastSuccess,
        sectorSize: g.sectorSize,
        alignSize: g.alignSize,
        maxHosts: g.maxHosts,
      });
      this.loop = renewWhenDue(delta, this.stop.signal, () => this.renewOnce(delta));
    } catch (error) {
      const result = this.stop.signal.aborted ? -1 : joinResult(error);
      this.post({ op: "join-failed", result, message: (error as Error).message });
    }
  }

  /** REM_LOCKSPACE while joining (docs/wire.md §7.3): the join gives up. */
  abort(): void {
    this.stop.abort(new Error("add aborted by remove"));
  }

  /** docs/algorithms.md §2.7: sets host_id's bit in our next renewals. */
  notifyHost(hostId: number): void {
    this.delta?.notifyHost(hostId);
  }

  /** SET_EVENT (docs/algorithms.md §6.4): 0 or the negative result. */
  setEvent(hostId: number, event: { generation: bigint; event: bigint; data: bigint }, flags: number): number {
    try {
      if (this.delta === undefined) throw new LeaseError("ERROR", "not joined");
      this.delta.setEvent(hostId, event, flags);
      return 0;
    } catch (error) {
      return error instanceof LeaseError ? error.result : -Errno.EINVAL;
    }
  }

  /** docs/algorithms.md §2.5: stop renewing, wait for an attempt in flight, release only after a successful last attempt. */
  async leave(): Promise<void> {
    this.stop.abort(new Error("lockspace removed"));
    await this.loop;
    const delta = this.delta;
    if (delta?.lastAttemptSucceeded) {
      try {
        await delta.release();
      } catch (error) {
        this.post({ op: "log", level: "error", message: `delta release failed: ${(error as Error).message}` });
      }
    }
    await this.device?.close().catch(() => undefined);
  }

  private async renewOnce(lease: DeltaLease): Promise<void> {
    const startedAt = DAEMON_CLOCK.now();
    const dueAt = Number(lease.lastSuccess) + lease.timeouts.idRenewalSeconds;
    const measure = (): RenewalMeasure => ({
      startedAt,
      durationMs: (DAEMON_CLOCK.now() - startedAt) * 1000,
      latenessMs: (startedAt - dueAt) * 1000,
    });
    this.timed?.reset();
    try {
      const renewed = await lease.renew();
      this.status.recordSuccess(Number(renewed.timestamp));
      this.status.recordAttempt(startedAt, 0);
      const timed = { readMs: this.timed?.lastReadMs ?? 0, writeMs: this.timed?.lastWriteMs ?? 0 };
      this.post({ op: "renewed", timestamp: renewed.timestamp, ...timed, measure: measure() });
    } catch (error) {
      const result = wireResultOf(error);
      this.status.recordAttempt(startedAt, result);
      this.post({ op: "renew-failed", result, corrupt: isCorruptRenewalError(error), message: (error as Error).message, measure: measure() });
    }
  }
}

/** A failed join's result; a host_id beyond the area carries SANLK_ADDLS_INVALID_HOSTID (docs/wire.md §7.2). */
function joinResult(error: unknown): number {
  return wireResultOf(error);
}
