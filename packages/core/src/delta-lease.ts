/**
 * Delta leases: one host_id in one lockspace (docs/algorithms.md §2, docs/ondisk.md §5).
 * The caller (daemon lockspace thread or simulator) schedules renewals; this
 * class performs the I/O and the checks of one join / renewal / release.
 */
import type { BlockDevice } from "./block-device.js";
import { nowSeconds, type Clock } from "./clock.js";
import { HostStatusTable, type Notification, type ObservedRecord } from "./host-status.js";
import { assertInvariant as assert } from "./errors.js";
import { LeaseError, SanlockResult, toLeaseError } from "./lease-errors.js";
import { boundedIo, readBytes, type IoContext } from "./lease-io.js";
import { ownSectorWrites } from "./paxos-disk.js";
import { DETECT_READ_SIZE, detectGeometry, type Geometry } from "./ondisk/geometry.js";
import { HOSTID_BITMAP_SIZE, setHostBit } from "./ondisk/host-bitmap.js";
import { DELTA_DISK_MAGIC, decodeLeader, leaderFieldsEqual, type LeaderRecord } from "./ondisk/leader-record.js";
import { encodeDeltaSector } from "./ondisk/delta-sector.js";
import { namesEqual } from "./ondisk/names.js";
import { assertIoTimeout, deltaAcquireHeldWait, deltaShortDelay, deriveTimeouts, type Timeouts } from "./timeouts.js";
import type { BrokenVariant } from "./variants.js";

export interface DeltaLeaseOptions {
  /** Lockspace name (≤ 48 bytes). */
  lockspace: string;
  /** Our host_id, 1..max_hosts. */
  hostId: number;
  /** Unique per daemon instance (docs/algorithms.md §2.1.2); compared on join for fast reacquire. */
  hostName: string;
  /** Our io_timeout N_own, 1..255. */
  ioTimeout: number;
  device: BlockDevice;
  /** Byte offset of the lockspace area on `device`. */
  offset: number;
  clock: Clock;
  /** set_bitmap_seconds (daemon -b); default 6N. */
  setBitmapSeconds?: number;
  /**
   * Given the records each renewal read examined (HostStatusTable.examineArea), after this
   * lease's own table applied them: another table given every such list in order stays the
   * same as this one (the daemon's main thread mirrors its renewal worker's table this way).
   * Must not throw: a throw fails the renewal attempt, as an undecodable record does.
   */
  onExamined?: (examined: readonly ObservedRecord[]) => void;
  /** SIMULATOR-ONLY rule breaking; default "none". */
  variant?: BrokenVariant;
}

export interface JoinResult {
  generation: bigint;
  /** The timestamp written by the join = initial last_success. */
  timestamp: bigint;
}

/** What a renewal takes from its read of the whole area (docs/algorithms.md §2.3 steps 2-3). */
interface RenewalRead {
  readonly notifications: Notification[];
  /** A copy of our own delta sector. */
  readonly ownSector: Uint8Array;
  /** What examining the other hosts' records threw (an undecodable record). */
  readonly observeError?: unknown;
}

export interface RenewResult {
  /** The timestamp written (= new last_success). */
  timestamp: bigint;
  /** Notifications addressed to us in records that changed since the last look. */
  notifications: Notification[];
}

/** Outgoing host event (docs/algorithms.md §6.4). */
export interface HostEvent {
  /** Target generation (written to write_id). */
  generation: bigint;
  /** Event number (write_generation); 0 = none. */
  event: bigint;
  /** Event data (write_timestamp). */
  data: bigint;
}

/** sanlock SANLK_SETEV_* flags (docs/algorithms.md §6.4). */
export const SetEventFlags = {
  CUR_GENERATION: 0x1,
  CLEAR_HOSTID: 0x2,
  CLEAR_EVENT: 0x4,
  REPLACE_EVENT: 0x8,
  ALL_HOSTS: 0x10,
} as const;

/** Results after which the renewal must not be retried: start recovery at once (docs/algorithms.md §2.4). */
const CORRUPT_RENEWAL_RESULTS: ReadonlySet<number> = new Set([
  SanlockResult.RENEW_OWNER,
  SanlockResult.RENEW_DIFF,
  SanlockResult.LEADER_MAGIC,
  SanlockResult.LEADER_VERSION,
  SanlockResult.LEADER_SECTORSIZE,
  SanlockResult.LEADER_LOCKSPACE,
  SanlockResult.LEADER_CHECKSUM,
]);

/** True when a renewal failure means someone else wrote our record (docs/algorithms.md §2.4). */
export function isCorruptRenewalError(err: unknown): boolean {
  return err instanceof LeaseError && CORRUPT_RENEWAL_RESULTS.has(err.result);
}

/** Every field equal (the stored checksum is not compared: it derives from the fields). */
function leaderBytesEqual(a: LeaderRecord, b: LeaderRecord): boolean {
  return leaderFieldsEqual(a, b);
}

export class DeltaLease {
  readonly timeouts: Timeouts;
  private readonly io: IoContext;
  private geometryValue: Geometry | undefined;
  private statusTable: HostStatusTable | undefined;
  /** The record as we last wrote it (join or renewal). */
  private lastWritten: LeaderRecord | undefined;
  private lastAttemptOk = false;
  private lastSuccessValue = 0n;
  private released = false;
  /** A renewal read that timed out and may still complete (docs/algorithms.md §2.3 step 1). */
  private pendingRenewalRead: Promise<RenewalRead> | undefined;
  /** Outgoing notification bits: target host_id -> local time the bit was set (docs/algorithms.md §2.7). */
  private readonly bitSetTimes = new Map<number, number>();
  private outgoingEvent: HostEvent | undefined;
  private ownRecordKeyValue: string | undefined;
  private lastSetEventTime = 0;

  constructor(readonly options: DeltaLeaseOptions) {
    assertIoTimeout(options.ioTimeout);
    if (!Number.isInteger(options.hostId) || options.hostId < 1 || options.hostId > 2000) {
      throw new RangeError(`host_id must be 1..2000, got ${options.hostId}`);
    }
    if (options.hostName.length === 0) throw new RangeError("host name must not be empty");
    this.timeouts = deriveTimeouts(options.ioTimeout, options.setBitmapSeconds === undefined ? {} : { setBitmapSeconds: options.setBitmapSeconds });
    this.io = { device: options.device, clock: options.clock };
  }

  private get variant(): BrokenVariant {
    return this.options.variant ?? "none";
  }

  /** Geometry found in record 1 at join. */
  get geometry(): Geometry {
    if (!this.geometryValue) throw new LeaseError("ERROR", "delta lease geometry unknown before join");
    return this.geometryValue;
  }

  /** The watcher's table; exists after join. */
  get status(): HostStatusTable {
    if (!this.statusTable) throw new LeaseError("ERROR", "host status unavailable before join");
    return this.statusTable;
  }

  /** Our generation G (after join). */
  get generation(): bigint {
    if (!this.lastWritten) throw new LeaseError("ERROR", "generation unknown before join");
    return this.lastWritten.ownerGeneration;
  }

  /** Timestamp of the last successful join/renewal write (monotonic seconds, docs/algorithms.md §2.3 step 11). */
  get lastSuccess(): bigint {
    return this.lastSuccessValue;
  }

  /** Whether the most recent join/renewal attempt succeeded (gates the release write, docs/algorithms.md §2.5). */
  get lastAttemptSucceeded(): boolean {
    return this.lastAttemptOk;
  }

  /** Local time at which the next renewal is due (last_success + 2N, docs/algorithms.md §2.3). */
  get renewalDueAt(): number {
    return Number(this.lastSuccessValue) + this.timeouts.idRenewalSeconds;
  }

  private sectorOffset(hostId: number): number {
    return this.options.offset + (hostId - 1) * this.geometry.sectorSize;
  }

  private decodeRecord(bytes: Uint8Array, at: number, what: string): LeaderRecord {
    try {
      return decodeLeader(bytes, 0, { kind: "delta", at, spaceName: this.options.lockspace });
    } catch (err) {
      throw toLeaseError(err, what);
    }
  }

  /** docs/algorithms.md §2.1: sector and align size come from record 1; host_id must fit max_hosts. */
  private async detectGeometry(): Promise<Geometry> {
    const first = await readBytes(this.io, this.options.offset, DETECT_READ_SIZE, this.options.ioTimeout, "lockspace record 1 read", "LEADER_READ");
    const found = detectGeometry(first);
    if (!found || new DataView(first.buffer, first.byteOffset).getUint32(0, true) !== DELTA_DISK_MAGIC) {
      throw new LeaseError("LEADER_MAGIC", `lockspace ${this.options.lockspace}: record 1 at byte ${this.options.offset} is not a valid delta lease`);
    }
    if (this.options.hostId > found.maxHosts) {
      throw new LeaseError("ADDLS_INVALID_HOSTID", `host_id ${this.options.hostId} exceeds max_hosts ${found.maxHosts} of lockspace ${this.options.lockspace}`);
    }
    return found;
  }

  /** Read and validate host_id's delta record directly (docs/algorithms.md §2.2 step 1, §4.4 step 2.1). */
  async readHostRecord(hostId: number, timeoutSeconds = this.options.ioTimeout): Promise<LeaderRecord> {
    this.geometryValue ??= await this.detectGeometry();
    const geometry = this.geometryValue;
    if (!Number.isInteger(hostId) || hostId < 1 || hostId > geometry.maxHosts) {
      throw new RangeError(`host_id ${hostId} outside 1..${geometry.maxHosts}`);
    }
    const at = this.sectorOffset(hostId);
    const bytes = await readBytes(this.io, at, geometry.sectorSize, timeoutSeconds, `delta record ${hostId} read`, "LEADER_READ");
    return this.decodeRecord(bytes, at, `delta record of host_id ${hostId}`);
  }

  /**
   * Join the host_id (docs/algorithms.md §2.2). Resolves with our new generation. `trace` is told
   * the steps in the words of sanlock's delta_acquire debug lines (the daemon's log).
   */
  async acquire(signal?: AbortSignal, trace?: (line: string) => void): Promise<JoinResult> {
    if (this.lastWritten) throw new LeaseError("EEXIST", `host_id ${this.options.hostId} already joined`);
    const { hostId, hostName, clock } = this.options;
    await this.requireOwnRecordWritesSettled();
    this.geometryValue = await this.detectGeometry();
    // Step 1: read our record; any validation failure ends the join.
    const first = await this.readHostRecord(hostId);
    // Step 2: the previous owner's io_timeout paces the waits (0 -> ours).
    const previousIo = first.ioTimeout === 0 ? this.options.ioTimeout : first.ioTimeout;
    if (first.ioTimeout === 0) trace?.(`delta_acquire use own io_timeout ${this.options.ioTimeout}`);
    else if (first.ioTimeout !== this.options.ioTimeout) trace?.(`delta_acquire other_io_timeout ${first.ioTimeout} our ${this.options.ioTimeout}`);
    let base = first;
    const held = first.timestamp !== 0n && !namesEqual(first.resourceName, hostName);
    if (held) base = await this.waitOutHolder(first, previousIo, signal);
    // Step 6: write our claim; everything not listed is carried over.
    assert(nowSeconds(clock) > 0, "monotonic time must be > 0 (timestamp 0 means free)");
    const claim: LeaderRecord = {
      ...base,
      timestamp: BigInt(nowSeconds(clock)),
      ioTimeout: this.options.ioTimeout & 0xff,
      ownerId: hostId,
      ownerGeneration: base.ownerGeneration + 1n,
      resourceName: hostName,
    };
    trace?.(`delta_acquire write ${hostId} ${claim.ownerGeneration} ${claim.timestamp} ${hostName}`);
    await this.writeRecord(claim, new Uint8Array(HOSTID_BITMAP_SIZE), this.options.ioTimeout, "join write");
    // Step 7: every simultaneous contender's write lands within 2·No (A5); the last writer wins.
    trace?.(`delta_acquire delta_short_delay ${deltaShortDelay(previousIo)}`);
    await clock.sleep(deltaShortDelay(previousIo), signal);
    // Step 8: re-read; anything other than our own write means another contender won.
    if (this.variant !== "skip-join-reread") {
      const check = await this.readHostRecord(hostId);
      if (!leaderBytesEqual(check, claim)) {
        throw new LeaseError("HOSTID_BUSY", `host_id ${hostId}: record changed after our join write (another host joined)`);
      }
    }
    trace?.(`delta_acquire done ${hostId} ${claim.ownerGeneration} ${claim.timestamp}`);
    this.lastWritten = claim;
    this.lastSuccessValue = claim.timestamp;
    this.lastAttemptOk = true;
    this.statusTable = new HostStatusTable({
      ourHostId: hostId,
      ownIoTimeout: this.options.ioTimeout,
      maxHosts: this.geometry.maxHosts,
      clock,
      setBitmapSeconds: this.timeouts.setBitmapSeconds,
    });
    return { generation: claim.ownerGeneration, timestamp: claim.timestamp };
  }

  /**
   * docs/algorithms.md §2.2 step 5: a record held under another name is taken only after it stayed
   * unchanged for max(8No+60, 8No) — the previous owner's watchdog has fired by then.
   */
  private async waitOutHolder(first: LeaderRecord, previousIo: number, signal?: AbortSignal): Promise<LeaderRecord> {
    if (this.variant !== "no-join-wait") await this.options.clock.sleep(deltaAcquireHeldWait(previousIo), signal);
    const second = await this.readHostRecord(this.options.hostId);
    if (second.timestamp === 0n || leaderBytesEqual(second, first)) return second;
    throw new LeaseError("HOSTID_BUSY", `host_id ${this.options.hostId} is held by live host "${second.resourceName}"`);
  }

  private async writeRecord(record: LeaderRecord, bitmap: Uint8Array, timeoutSeconds: number, what: string): Promise<void> {
    const sector = encodeDeltaSector(record, this.geometry.sectorSize, bitmap);
    const io = this.io.device.write(this.sectorOffset(this.options.hostId), sector);
    ownSectorWrites(this.io.clock).track(this.ownRecordKey, io);
    await boundedIo(this.io.clock, timeoutSeconds, io, what, "LEADER_WRITE");
  }

  /** Our delta record in the I/O domain's tracker of own writes (paxos-disk.ts OwnSectorWrites); built once, used by every write. */
  private get ownRecordKey(): string {
    this.ownRecordKeyValue ??= `delta\u0000${this.options.lockspace}\u0000${this.options.offset}\u0000${this.options.hostId}`;
    return this.ownRecordKeyValue;
  }

  /**
   * Stricter than sanlock (docs/deviations.md D2): a join starts only once every earlier write of
   * our own delta record in this I/O domain has settled. A timed-out write may land late; a stale
   * release (timestamp 0) of the previous instance landing after our join would show our host_id
   * free, and other hosts would take our leases at once while our processes still use them
   * (simulator seed 118146). We wait up to io_timeout for it, then fail with −202, and the join
   * can be tried again. No I/O is added.
   */
  private async requireOwnRecordWritesSettled(): Promise<void> {
    const { clock, ioTimeout, hostId } = this.options;
    const tracker = ownSectorWrites(clock);
    if (await tracker.settle(this.ownRecordKey, clock, ioTimeout)) return;
    throw new LeaseError("AIO_TIMEOUT", `host_id ${hostId}: ${tracker.inFlight(this.ownRecordKey)} earlier write(s) of our delta record still in flight`);
  }

  /** One renewal attempt (docs/algorithms.md §2.3). Throws on failure; see isCorruptRenewalError. */
  async renew(): Promise<RenewResult> {
    const last = this.lastWritten;
    if (!last || this.released) throw new LeaseError("ERROR", `host_id ${this.options.hostId} is not joined`);
    const previousOk = this.lastAttemptOk;
    this.lastAttemptOk = false;
    const { notifications, ownSector, observeError } = await this.readArea();
    if (observeError !== undefined) throw observeError;
    const ours = this.decodeRecord(ownSector, this.sectorOffset(this.options.hostId), "own delta record");
    // Step 5: someone else owns our record now.
    if (ours.ownerId !== last.ownerId || ours.ownerGeneration !== last.ownerGeneration || !namesEqual(ours.resourceName, last.resourceName)) {
      throw new LeaseError("RENEW_OWNER", `host_id ${this.options.hostId}: record now owned by ${ours.ownerId}/${ours.ownerGeneration} "${ours.resourceName}"`);
    }
    // Step 6: after a successful attempt, any change means another writer (a failed write may have landed, so skip then).
    if (previousOk && !leaderBytesEqual(ours, last)) {
      throw new LeaseError("RENEW_DIFF", `host_id ${this.options.hostId}: record differs from our last write`);
    }
    const now = nowSeconds(this.options.clock);
    assert(now > 0, "monotonic time must be > 0 (timestamp 0 means free)");
    const event = this.takeOutgoingEvent();
    const next: LeaderRecord = {
      ...ours,
      ioTimeout: this.options.ioTimeout & 0xff,
      timestamp: BigInt(now),
      writeId: event.generation,
      writeGeneration: event.event,
      writeTimestamp: event.data,
    };
    // Step 10: long write timeout; reissuing early would gain nothing.
    await this.writeRecord(next, this.composeBitmap(now), this.timeouts.renewalWriteTimeout, "renewal write");
    // Step 11: last_success is the timestamp sampled before the write.
    this.lastWritten = next;
    this.lastSuccessValue = next.timestamp;
    this.lastAttemptOk = true;
    return { timestamp: next.timestamp, notifications };
  }

  /**
   * The renewal read's content, taken while the bytes are at hand: step 3 (other hosts are
   * examined even if our own checks fail after) and a copy of our own sector. With readWith the
   * 1 MiB area is parsed in the device's buffer, never copied (it is read every 2N s per lockspace).
   */
  private parseArea(area: Uint8Array): RenewalRead {
    const sectorSize = this.geometry.sectorSize;
    const ourStart = (this.options.hostId - 1) * sectorSize;
    const ownSector = area.slice(ourStart, ourStart + sectorSize);
    try {
      const table = this.statusTable!;
      const examined = table.examineArea(area, sectorSize, this.options.lockspace);
      const notifications = table.observeExamined(examined);
      this.options.onExamined?.(examined);
      return { notifications, ownSector };
    } catch (observeError) {
      // Thrown by renew() itself, as when the area was examined after the read: not a read failure.
      return { notifications: [], ownSector, observeError };
    }
  }

  /** docs/algorithms.md §2.3 steps 1-2: reuse a previously timed-out read if it completes within the extension. */
  private async readArea(): Promise<RenewalRead> {
    const { alignSize } = this.geometry;
    const pending = this.pendingRenewalRead;
    this.pendingRenewalRead = undefined;
    if (pending) {
      const late = await this.awaitWithin(pending, this.timeouts.renewalReadExtendSeconds);
      if (late) return late;
    }
    const device = this.options.device;
    const read = device.readWith
      ? device.readWith(this.options.offset, alignSize, (area) => this.parseArea(area))
      : device.read(this.options.offset, alignSize).then((area) => this.parseArea(area));
    try {
      return await boundedIo(this.options.clock, this.options.ioTimeout, read, "renewal read", "LEADER_READ");
    } catch (err) {
      if (err instanceof LeaseError && err.result === SanlockResult.AIO_TIMEOUT) this.pendingRenewalRead = read;
      throw err;
    }
  }

  private async awaitWithin<T>(io: Promise<T>, seconds: number): Promise<T | undefined> {
    const stop = new AbortController();
    const timer = this.options.clock.sleep(seconds, stop.signal).then(
      () => undefined,
      () => undefined,
    );
    try {
      return await Promise.race([io.catch(() => undefined), timer]);
    } finally {
      stop.abort();
    }
  }

  /** docs/algorithms.md §2.7: bits set within set_bitmap_seconds ride on this write; older ones are dropped. */
  private composeBitmap(now: number): Uint8Array {
    if (this.bitSetTimes.size === 0) return new Uint8Array(HOSTID_BITMAP_SIZE); // the common case: no request pending
    const sector = new Uint8Array(512);
    for (const [target, setAt] of [...this.bitSetTimes]) {
      if (now - setAt <= this.timeouts.setBitmapSeconds && target !== this.options.hostId) setHostBit(sector, target);
      else this.bitSetTimes.delete(target);
    }
    return sector.slice(256, 512);
  }

  private takeOutgoingEvent(): HostEvent {
    return this.outgoingEvent ?? { generation: 0n, event: 0n, data: 0n };
  }

  /** Leave the lockspace (docs/algorithms.md §2.5). Call only after every local lease user is gone. */
  async release(): Promise<void> {
    const last = this.lastWritten;
    if (!last || this.released) throw new LeaseError("ERROR", `host_id ${this.options.hostId} is not joined`);
    this.released = true;
    // docs/algorithms.md §2.5 step 2: after a failed attempt our record state is unknown; write nothing.
    if (!this.lastAttemptOk) return;
    // Stricter than sanlock (docs/algorithms.md §8.4 item 3, compatible): re-read and write only if the record is still ours.
    const current = await this.readHostRecord(this.options.hostId);
    if (current.ownerId !== last.ownerId || current.ownerGeneration !== last.ownerGeneration || !namesEqual(current.resourceName, last.resourceName)) {
      throw new LeaseError("RENEW_OWNER", `host_id ${this.options.hostId}: record taken over, release not written`);
    }
    await this.writeRecord({ ...last, timestamp: 0n }, new Uint8Array(HOSTID_BITMAP_SIZE), this.options.ioTimeout, "delta release write");
  }

  /** Set the notification bit for host_id, e.g. after a request (docs/algorithms.md §6.1 step 6). */
  notifyHost(hostId: number): void {
    if (hostId === this.options.hostId) return; // our own bit is never set (docs/algorithms.md §2.7)
    this.bitSetTimes.set(hostId, nowSeconds(this.options.clock));
  }

  /** Set the outgoing event for target host_id (docs/algorithms.md §6.4, sanlock lockspace_set_event). */
  setEvent(targetHostId: number, event: HostEvent, flags = 0): void {
    if (!Number.isInteger(targetHostId) || targetHostId < 1 || targetHostId > this.geometry.maxHosts) {
      throw new RangeError(`set_event host_id ${targetHostId} outside 1..${this.geometry.maxHosts}`);
    }
    const now = nowSeconds(this.options.clock);
    let generation = event.generation;
    if (generation === 0n && flags & SetEventFlags.CUR_GENERATION) generation = this.status.observedGeneration(targetHostId);
    // CLEAR_EVENT: zero the event fields at the next renewal; the target is ignored.
    if (flags & SetEventFlags.CLEAR_EVENT) {
      this.outgoingEvent = undefined;
      this.lastSetEventTime = now;
      return;
    }
    // CLEAR_HOSTID: drop the target's bit at the next renewal; event values ignored.
    if (flags & SetEventFlags.CLEAR_HOSTID) {
      this.bitSetTimes.delete(targetHostId);
      return;
    }
    // Busy rule: a different non-zero event within set_bitmap_seconds would clobber one still being delivered.
    const current = this.outgoingEvent;
    const clobbers =
      current !== undefined &&
      current.event !== 0n &&
      event.event !== 0n &&
      current.event !== event.event &&
      now - this.lastSetEventTime < this.timeouts.setBitmapSeconds;
    if (clobbers && !(flags & SetEventFlags.REPLACE_EVENT)) {
      throw new LeaseError("EBUSY", `event ${current.event} set ${now - this.lastSetEventTime} s ago is still being delivered`);
    }
    this.outgoingEvent = { generation, event: event.event, data: event.data };
    this.lastSetEventTime = now;
    if (flags & SetEventFlags.ALL_HOSTS) {
      for (let h = 1; h <= this.geometry.maxHosts; h++) this.notifyHost(h);
    } else {
      this.notifyHost(targetHostId);
    }
  }
}
