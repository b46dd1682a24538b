/**
 * Per-lockspace view of other hosts, updated from every successful renewal read
 * (docs/algorithms.md §3). All times are the observer's own monotonic seconds;
 * remote timestamps are only compared for equality (docs/algorithms.md §1.1.3).
 */
import { nowSeconds, type Clock } from "./clock.js";
import { RECORD_KEY_WORDS, observedRecordAt, recordMatchesKey, storeKey, type ObservedRecord } from "./observed-record.js";
import { nameCompareBytes } from "./ondisk/names.js";
import { DEFAULT_MAX_HOSTS } from "./limits.js";
import { effectiveIoTimeout, hostDeadSeconds, idRenewalFailSeconds } from "./timeouts.js";

export type { ObservedRecord } from "./observed-record.js";

export type HostState = "UNKNOWN" | "FREE" | "LIVE" | "FAIL" | "DEAD";

/** Status entry for one host_id (docs/algorithms.md §3.1). Times are local; `timestamp` is remote. */
export interface HostStatusEntry {
  hostId: number;
  firstCheck: number;
  lastCheck: number;
  lastLive: number;
  lastReq: number;
  ownerId: number;
  ownerGeneration: bigint;
  ownerName: string;
  ioTimeout: number;
  timestamp: bigint;
}

/** Notification found in another host's changed record (docs/algorithms.md §3.2 step 5). */
export interface Notification {
  fromHostId: number;
  fromGeneration: bigint;
  eventGeneration: bigint;
  eventNumber: bigint;
  eventData: bigint;
  /** True when requests on held resources should be examined (docs/algorithms.md §6.2 step 1). */
  examineRequests: boolean;
}

/** Read-only liveness port consumed by paxos leases (docs/algorithms.md §3.4, §4.4 step 1). */
export interface HostLiveness {
  /** Status snapshot for host_id, or undefined if never examined / out of range. */
  snapshot(hostId: number): HostStatusEntry | undefined;
  /**
   * sanlock's host_live(): alive unless proven dead (docs/algorithms.md §3.4). `recordIoTimeout` is the io_timeout in
   * a delta record of this host just read, if any: the larger of it and the watcher's paces the
   * dead-wait (docs/deviations.md D1).
   */
  isSharedHolderAlive(hostId: number, generation: bigint, recordIoTimeout?: number): boolean;
}

export interface HostStatusTableOptions {
  ourHostId: number;
  ownIoTimeout: number;
  maxHosts: number;
  clock: Clock;
  /** How long a requester's bit suppresses re-examination (set_bitmap_seconds, docs/algorithms.md §6.2). */
  setBitmapSeconds: number;
}

/**
 * Entries exist only for hosts whose record ever differed from an all-zero one (owner_id 0,
 * generation 0, timestamp 0) or that observe() was given: an area has max_hosts (up to 2,000)
 * hosts and a handful in use, and 2,000 entry objects per lockspace cost the daemon some 14 MiB of
 * heap per 64 lockspaces in each thread. Every other host's entry is implicit: all its fields
 * are zero except the check times, which are the table's (firstExamined, lastExamined), since only
 * a whole-read examination (observeArea, observeExamined) touches it.
 */
export class HostStatusTable implements HostLiveness {
  /** By host_id - 1; undefined = implicit (see above). */
  private readonly entries: (HostStatusEntry | undefined)[];
  /** The entries that exist, for the whole-read examinations' check times. */
  private readonly present: HostStatusEntry[] = [];
  /** first_check and last_check of every implicit entry: the first and the last whole-read examination. */
  private firstExamined = 0;
  private lastExamined = 0;
  /** Each entry's (ownerId, ownerGeneration, timestamp) as raw words, for observeArea's unchanged test. */
  private readonly keys: Uint32Array;
  /** Lockspace name encoded for raw comparison, by name (observeArea). */
  private spaceName: { name: string; bytes: Uint8Array } | undefined;
  private examined = false;

  constructor(private readonly opts: HostStatusTableOptions) {
    if (!Number.isInteger(opts.maxHosts) || opts.maxHosts < 1 || opts.maxHosts > DEFAULT_MAX_HOSTS) {
      throw new RangeError(`maxHosts must be 1..${DEFAULT_MAX_HOSTS}, got ${opts.maxHosts}`);
    }
    this.entries = new Array<HostStatusEntry | undefined>(opts.maxHosts).fill(undefined);
    this.keys = new Uint32Array(opts.maxHosts * RECORD_KEY_WORDS); // all zero, as the entries
  }

  /** True once at least one renewal read has been examined. */
  get hasExamined(): boolean {
    return this.examined;
  }

  /**
   * Apply one renewal read (docs/algorithms.md §3.2). `records` are all host records in the area.
   * Returns notifications addressed to us found in changed records.
   */
  observe(records: readonly ObservedRecord[]): Notification[] {
    const now = nowSeconds(this.opts.clock);
    const notifications: Notification[] = [];
    for (const rec of records) {
      if (!this.inRange(rec.hostId)) continue;
      // Only this host is checked: its entry must exist to hold its own check times.
      const note = this.observeOne(this.entryOf(rec.hostId), rec, now);
      if (note) notifications.push(note);
    }
    this.examined = true;
    return notifications;
  }

  /**
   * observe() of a whole renewal read of the lockspace area (`sectorSize` bytes per host, host 1
   * first) with the per-host view of observedRecordAt: the same result, but records whose
   * (owner_id, generation, timestamp) equal the entry (docs/algorithms.md §3.2 step 3, the common case) are not
   * decoded.
   */
  observeArea(area: Uint8Array, sectorSize: number, lockspace: string): Notification[] {
    return this.observeExamined(this.examineArea(area, sectorSize, lockspace));
  }

  /**
   * The records of a whole renewal read that observe() would act on, decoded, host 1 first: those
   * whose raw (owner_id, generation, timestamp) differ from their entry's key (docs/algorithms.md
   * §3.2 step 3). For every other record observe() only sets the check times, which
   * observeExamined sets for every host. That includes an invalid record whose owner differs from
   * the identity last copied (step 4): its key never settles, so it is examined again every read,
   * as observe() would. Changes nothing, so a record that cannot be decoded
   * (ERR_DISK_FIELD_RANGE) throws before the table is touched.
   */
  examineArea(area: Uint8Array, sectorSize: number, lockspace: string): ObservedRecord[] {
    if (sectorSize !== 512 && sectorSize !== 4096) throw new RangeError(`sector size ${sectorSize} is neither 512 nor 4096`);
    const count = this.opts.maxHosts;
    if (area.length < count * sectorSize) {
      throw new RangeError(`lockspace area read of ${area.length} bytes is shorter than ${count} records of ${sectorSize} bytes`);
    }
    const spaceName = this.spaceNameBytes(lockspace);
    const view = new DataView(area.buffer, area.byteOffset, area.byteLength);
    const examined: ObservedRecord[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * sectorSize;
      if (recordMatchesKey(view, at, this.keys, i)) continue;
      examined.push(observedRecordAt(area, at, sectorSize, i + 1, spaceName, this.opts.ourHostId));
    }
    return examined;
  }

  /**
   * observe() of a whole read given as the records examineArea found in it, by this table or by
   * another one given the same reads since both were created (the daemon's renewal worker
   * examines each renewal read and its main thread's table applies what the worker found, so
   * the main thread never sees the 1 MiB area). Same table and notifications as observe() of
   * every record of the read.
   */
  observeExamined(examined: readonly ObservedRecord[]): Notification[] {
    const now = nowSeconds(this.opts.clock);
    this.checkAll(now);
    const notifications: Notification[] = [];
    for (const rec of examined) {
      if (!this.inRange(rec.hostId)) continue;
      const note = this.observeChecked(rec, now);
      if (note) notifications.push(note);
    }
    this.examined = true;
    return notifications;
  }

  private spaceNameBytes(lockspace: string): Uint8Array {
    if (this.spaceName?.name !== lockspace) this.spaceName = { name: lockspace, bytes: nameCompareBytes(lockspace) };
    return this.spaceName.bytes;
  }

  private inRange(hostId: number): boolean {
    return Number.isInteger(hostId) && hostId >= 1 && hostId <= this.opts.maxHosts;
  }

  /** The entry of an in-range host, made from its implicit values if it has none yet. */
  private entryOf(hostId: number): HostStatusEntry {
    const existing = this.entries[hostId - 1];
    if (existing !== undefined) return existing;
    const entry = implicitEntry(hostId, this.firstExamined, this.lastExamined);
    this.entries[hostId - 1] = entry;
    this.present.push(entry);
    return entry;
  }

  /** A whole-read examination checks every host: the existing entries and, through the table's times, the implicit ones. */
  private checkAll(now: number): void {
    if (this.firstExamined === 0) this.firstExamined = now;
    this.lastExamined = now;
    for (const entry of this.present) {
      entry.lastCheck = now;
      if (entry.firstCheck === 0) entry.firstCheck = now;
    }
  }

  /**
   * observeOne after checkAll: a record with the all-zero key of a host with no entry changes
   * nothing observeOne would not (its check times are already the table's), so no entry is made.
   */
  private observeChecked(rec: ObservedRecord, now: number): Notification | undefined {
    if (this.entries[rec.hostId - 1] === undefined && isZeroKey(rec)) return undefined;
    return this.observeOne(this.entryOf(rec.hostId), rec, now);
  }

  private observeOne(entry: HostStatusEntry, rec: ObservedRecord, now: number): Notification | undefined {
    entry.lastCheck = now;
    if (entry.firstCheck === 0) entry.firstCheck = now;
    // docs/algorithms.md §3.2 step 3: unchanged (owner_id, generation, timestamp) -> nothing else, bitmap not examined.
    if (sameKey(rec, entry)) return undefined;
    // docs/algorithms.md §3.2 step 4: identity copied only from valid records; timestamp always tracked.
    if (rec.valid) {
      entry.ownerId = rec.ownerId;
      entry.ownerGeneration = rec.ownerGeneration;
      entry.ownerName = rec.hostName;
      entry.ioTimeout = rec.ioTimeout;
    }
    entry.timestamp = rec.timestamp;
    entry.lastLive = now;
    storeKey(this.keys, entry.hostId - 1, entry.ownerId, entry.ownerGeneration, entry.timestamp);
    // docs/algorithms.md §3.2 step 5: our bit in another host's changed record.
    if (rec.hostId === this.opts.ourHostId || !rec.ourBitSet) return undefined;
    let examineRequests = false;
    if (entry.lastReq === 0 || now - entry.lastReq >= this.opts.setBitmapSeconds) {
      entry.lastReq = now;
      examineRequests = true;
    }
    return {
      fromHostId: rec.hostId,
      fromGeneration: entry.ownerGeneration,
      eventGeneration: rec.eventGeneration,
      eventNumber: rec.eventNumber,
      eventData: rec.eventData,
      examineRequests,
    };
  }

  snapshot(hostId: number): HostStatusEntry | undefined {
    const entry = this.view(hostId);
    if (entry === undefined || entry.lastCheck === 0) return undefined;
    return { ...entry };
  }

  /** The entry of host_id, or its implicit values; undefined out of range. Not to be changed. */
  private view(hostId: number): Readonly<HostStatusEntry> | undefined {
    if (!this.inRange(hostId)) return undefined;
    return this.entries[hostId - 1] ?? implicitEntry(hostId, this.firstExamined, this.lastExamined);
  }

  /** Host state as sanlock's get_host_flag reports it (docs/algorithms.md §3.3). */
  state(hostId: number): HostState {
    const entry = this.view(hostId);
    if (entry === undefined) throw new RangeError(`host_id ${hostId} outside 1..${this.opts.maxHosts}`);
    if (entry.timestamp === 0n) return "FREE";
    if (hostId === this.opts.ourHostId) return "LIVE";
    const now = nowSeconds(this.opts.clock);
    // docs/algorithms.md §1.4: in state reporting a recorded 0 stays 0.
    const fail = idRenewalFailSeconds(entry.ioTimeout);
    const dead = hostDeadSeconds(entry.ioTimeout);
    const last = entry.lastLive !== 0 ? entry.lastLive : entry.firstCheck;
    const age = now - last;
    if (age <= fail && entry.firstCheck === entry.lastLive) return "UNKNOWN";
    if (age <= fail) return "LIVE";
    if (age > dead) return "DEAD";
    return "FAIL";
  }

  /** docs/algorithms.md §3.4 host_live: alive unless proven dead; no I/O, no wait. */
  isSharedHolderAlive(hostId: number, generation: bigint, recordIoTimeout = 0): boolean {
    const entry = this.view(hostId);
    if (entry === undefined) return true;
    if (entry.lastCheck === 0) return true;
    if (entry.timestamp === 0n) return false;
    if (entry.ownerGeneration > generation) return false;
    const deadAfter = hostDeadSeconds(effectiveIoTimeout(Math.max(entry.ioTimeout, recordIoTimeout), this.opts.ownIoTimeout));
    const now = nowSeconds(this.opts.clock);
    if (entry.lastLive === 0) return !(now - entry.firstCheck > deadAfter);
    return !(now - entry.lastLive > deadAfter);
  }

  /** Generation of host_id as last observed (for SETEV CUR_GENERATION). */
  observedGeneration(hostId: number): bigint {
    return this.view(hostId)?.ownerGeneration ?? 0n;
  }
}

/** The record's (owner_id, generation, timestamp) equal the entry's (docs/algorithms.md §3.2 step 3). */
function sameKey(rec: ObservedRecord, entry: HostStatusEntry): boolean {
  return rec.ownerId === entry.ownerId && rec.ownerGeneration === entry.ownerGeneration && rec.timestamp === entry.timestamp;
}

/** owner_id, generation and timestamp all zero: the key of an implicit entry (and of an all-zero sector). */
function isZeroKey(rec: ObservedRecord): boolean {
  return rec.ownerId === 0 && rec.ownerGeneration === 0n && rec.timestamp === 0n;
}

/** A host's entry with nothing observed of it but the table's check times. */
function implicitEntry(hostId: number, firstCheck: number, lastCheck: number): HostStatusEntry {
  return { hostId, firstCheck, lastCheck, lastLive: 0, lastReq: 0, ownerId: 0, ownerGeneration: 0n, ownerName: "", ioTimeout: 0, timestamp: 0n };
}
