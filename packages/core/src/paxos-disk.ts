/**
 * Reads and writes of one paxos lease area (docs/ondisk.md §6): leader in sector 0,
 * request record in sector 1, dblock + mode block of host H in sector H+1.
 * Every I/O is bounded by the lockspace's io_timeout (docs/algorithms.md §1.5).
 */
import type { Clock } from "./clock.js";
import { LeaseError, isLeaseError, toLeaseError } from "./lease-errors.js";
import { boundedIo, readBytes, readParsed, writeBytes, type IoContext } from "./lease-io.js";
import { decodeDblock, readDblockFields, isEmptyDblock, dblockChecksum, DBLOCK_SIZE, type Dblock } from "./ondisk/dblock.js";
import { encodeDblockSector } from "./ondisk/dblock-sector.js";
import { DETECT_READ_SIZE, GEOMETRIES, geometryFromLeaderFields, type Geometry } from "./ondisk/geometry.js";
import { PAXOS_DISK_CLEAR, PAXOS_DISK_MAGIC, LeaderOffsets, decodeLeader, encodeLeader, leaderFieldsEqual, type LeaderRecord } from "./ondisk/leader-record.js";
import { MBLOCK_OFFSET, MODE_BLOCK_SIZE, decodeModeBlock, emptyModeBlock, type ModeBlock } from "./ondisk/mode-block.js";
import { ZeroScanner } from "./ondisk/zero-bytes.js";
import type { AreaSnapshot, HostSlot, PaxosArea, ResourceLocation } from "./paxos-area.js";

export type { AreaSnapshot, HostSlot, ResourceLocation } from "./paxos-area.js";

/**
 * Writes of our own dblock sectors that have not settled yet, per I/O domain. A write that timed
 * out stays in flight and may land later (docs/algorithms.md §1.5, §8.4 item 2); if it lands after a
 * newer write of the same sector it silently replaces it (e.g. it clears a shared mark we rely
 * on). PaxosLease waits for these before it writes a mark (stricter than sanlock, see
 * paxos-lease.ts). Only completions the device reports are seen: a device that gives up on an
 * I/O it cannot cancel reports it settled although it may still land, and writes of an earlier
 * daemon process are unknown to a new one (the hazard sanlock has remains in those cases).
 */
export class OwnSectorWrites {
  private readonly pending = new Map<string, Set<Promise<void>>>();

  /** Remember `io` until it settles (successfully or not). */
  track(key: string, io: Promise<void>): void {
    let set = this.pending.get(key);
    if (!set) {
      set = new Set();
      this.pending.set(key, set);
    }
    set.add(io);
    const forget = (): void => {
      set.delete(io);
      if (set.size === 0 && this.pending.get(key) === set) this.pending.delete(key);
    };
    io.then(forget, forget);
  }

  inFlight(key: string): number {
    return this.pending.get(key)?.size ?? 0;
  }

  /** Wait at most `seconds` on `clock` for every write of `key` to settle; true when none is left. */
  async settle(key: string, clock: Clock, seconds: number): Promise<boolean> {
    const set = this.pending.get(key);
    if (!set || set.size === 0) return true;
    const stopTimer = new AbortController();
    const timer = clock.sleep(seconds, stopTimer.signal).then(
      () => undefined,
      () => undefined,
    );
    try {
      await Promise.race([Promise.allSettled([...set]), timer]);
    } finally {
      stopTimer.abort();
    }
    return this.inFlight(key) === 0;
  }
}

/**
 * One tracker per clock: the clock stands for the I/O domain (one daemon process, or one simulated
 * daemon instance whose completions are delivered under its own clock).
 */
const ownWritesByClock = new WeakMap<Clock, OwnSectorWrites>();

export function ownSectorWrites(clock: Clock): OwnSectorWrites {
  let tracker = ownWritesByClock.get(clock);
  if (!tracker) {
    tracker = new OwnSectorWrites();
    ownWritesByClock.set(clock, tracker);
  }
  return tracker;
}

/**
 * Bytes a host keeps in its own dblock sector beyond sanlock's records: a DLM host's slot at byte
 * 256 (docs/dlm.md §3.3, rule O1). Every write of our own sector is composed by
 * PaxosDisk.composeSector, which asks the carrier each time, so no ballot, release or retraction
 * write can leave them out.
 */
export interface OwnSectorCarrier {
  /** Where in the sector (past the mode block) and what to write there, for the write being composed now. */
  carried(): { offset: number; bytes: Uint8Array };
}

export class PaxosDisk implements PaxosArea {
  private readonly io: IoContext;
  /** Set by a DLM engine before its first write of this area; undefined for plain sanlock leases. */
  carrier: OwnSectorCarrier | undefined;
  /** Geometry confirmed by this area's own leader (detection read or a checked hint). */
  private geometryValue: Geometry | undefined;
  /** The caller's geometry hint until a read confirms or refutes it. */
  private unconfirmedHint: Geometry | undefined;

  constructor(
    readonly lockspace: string,
    readonly location: ResourceLocation,
    readonly hostId: number,
    readonly ioTimeout: number,
    clock: Clock,
  ) {
    this.io = { device: location.device, clock };
    this.unconfirmedHint = knownGeometry(location.geometry);
  }

  readonly diskCount = 1;

  /** The geometry once a read confirmed it, else undefined. */
  get knownGeometry(): Geometry | undefined {
    return this.geometryValue;
  }

  get geometry(): Geometry {
    if (!this.geometryValue) throw new LeaseError("ERROR", `resource ${this.location.resource}: geometry not read yet`);
    return this.geometryValue;
  }

  /**
   * docs/algorithms.md §4.3 steps 1-2: sector/align sizes come from the leader itself. A geometry hint is not used
   * here (a detection read confirms the geometry); readFull uses it and checks it instead.
   */
  async detect(): Promise<Geometry> {
    if (this.geometryValue) return this.geometryValue;
    const first = await readBytes(this.io, this.location.offset, DETECT_READ_SIZE, this.ioTimeout, "leader read", "LEADER_READ");
    const view = new DataView(first.buffer, first.byteOffset, first.byteLength);
    const magic = view.getUint32(0, true);
    if (magic === PAXOS_DISK_CLEAR || magic !== PAXOS_DISK_MAGIC) {
      throw new LeaseError(
        "LEADER_MAGIC",
        `resource ${this.location.resource} at byte ${this.location.offset}: no paxos lease (magic 0x${magic.toString(16)})`,
      );
    }
    try {
      this.geometryValue = geometryFromLeaderFields(view.getUint32(12, true), view.getUint32(8, true));
    } catch (err) {
      throw new LeaseError("LEADER_SECTORSIZE", `resource ${this.location.resource}: ${(err as Error).message}`);
    }
    this.unconfirmedHint = undefined;
    return this.geometryValue;
  }

  private sectorAt(sector: number): number {
    return this.location.offset + sector * this.geometry.sectorSize;
  }

  decodeLeaderAt(bytes: Uint8Array, offset: number): LeaderRecord {
    try {
      return decodeLeader(bytes, offset, {
        kind: "paxos",
        at: this.location.offset,
        spaceName: this.lockspace,
        resourceName: this.location.resource,
        hostId: this.hostId,
      });
    } catch (err) {
      throw toLeaseError(err, `resource ${this.location.resource} leader`);
    }
  }

  /** Read and validate the leader (4.2). */
  async readLeader(): Promise<LeaderRecord> {
    await this.detect();
    const bytes = await readBytes(this.io, this.location.offset, this.geometry.sectorSize, this.ioTimeout, "leader read", "LEADER_READ");
    return this.decodeLeaderAt(bytes, 0);
  }

  /** docs/algorithms.md §4.3 step 1: whole area; any invalid dblock among 1..num_hosts fails (-214). */
  async readFull(): Promise<AreaSnapshot> {
    return (await this.readAreaWithHint()) ?? (await this.readArea());
  }

  /** Leader and non-empty slots of a whole-area read; strict: a bad dblock checksum fails (-214). */
  private parseArea(bytes: Uint8Array, sectorSize: number): AreaSnapshot {
    const leader = this.decodeLeaderAt(bytes, 0);
    return { leader, slots: this.parseSlots(bytes, sectorSize, leader.numHosts, "strict") };
  }

  private async readArea(): Promise<AreaSnapshot> {
    const { sectorSize, alignSize } = await this.detect();
    return readParsed(this.io, this.location.offset, alignSize, this.ioTimeout, "lease area read", "LEADER_READ", (bytes) => this.parseArea(bytes, sectorSize));
  }

  /**
   * The whole area read with the hinted geometry instead of detect + read. Used only when the
   * leader in it is a paxos leader recording exactly the hinted sector size and alignment;
   * otherwise (or when the read fails other than by timeout) undefined: the hint is dropped and
   * the caller detects as without a hint. A timeout (-202) is reported as is.
   */
  private async readAreaWithHint(): Promise<AreaSnapshot | undefined> {
    const hint = this.unconfirmedHint;
    if (!hint || this.geometryValue) return undefined;
    this.unconfirmedHint = undefined;
    let read: HintedRead;
    try {
      // The parse must not throw for a leader that confirms the hint: such errors are the
      // area's own (-214, bad leader) and are reported, not taken for a wrong hint.
      read = await readParsed(this.io, this.location.offset, hint.alignSize, this.ioTimeout, "lease area read", "LEADER_READ", (bytes): HintedRead => {
        if (!leaderRecordsGeometry(bytes, hint)) return { kind: "mismatch" };
        try {
          return { kind: "area", snapshot: this.parseArea(bytes, hint.sectorSize) };
        } catch (error) {
          return { kind: "failed", error };
        }
      });
    } catch (err) {
      if (isLeaseError(err, "AIO_TIMEOUT")) throw err;
      return undefined;
    }
    if (read.kind === "mismatch") return undefined;
    this.geometryValue = hint;
    if (read.kind === "failed") throw read.error;
    return read.snapshot;
  }

  /** Ballot read of sectors 0..P-1, P = num_hosts + 2 rounded up to a power of two (docs/algorithms.md §4.1). */
  async readBallotSlots(numHosts: number): Promise<HostSlot[]> {
    const sectors = Math.min(nextPowerOfTwo(numHosts + 2), this.geometry.sectorsPerArea);
    const { sectorSize } = this.geometry;
    return readParsed(this.io, this.location.offset, sectors * sectorSize, this.ioTimeout, "dblock read", "DBLOCK_READ", (bytes) =>
      this.parseSlots(bytes, sectorSize, numHosts, "skip-invalid"),
    );
  }

  /** Non-empty slots of 1..numHosts (see HostSlot); zero slots are skipped with a word test. */
  private parseSlots(bytes: Uint8Array, sectorSize: number, numHosts: number, invalid: "strict" | "skip-invalid"): HostSlot[] {
    const zeros = new ZeroScanner(bytes);
    const slots: HostSlot[] = [];
    for (let q = 1; q <= numHosts; q++) {
      const start = (q + 1) * sectorSize;
      if (start + sectorSize > bytes.length) break;
      if (slotRecordsZero(zeros, start)) continue;
      const mode = decodeModeBlock(bytes, start + MBLOCK_OFFSET);
      let dblock: Dblock | undefined;
      try {
        dblock = decodeDblock(bytes, start, this.location.offset);
      } catch {
        if (invalid === "strict") {
          throw new LeaseError("DBLOCK_CHECKSUM", `resource ${this.location.resource}: dblock of host_id ${q} has a bad checksum`);
        }
      }
      slots.push({ hostId: q, dblock, mode });
    }
    return slots;
  }

  /** Read one host's dblock sector (owner RELEASED check docs/algorithms.md §4.4, shared holders docs/algorithms.md §5.4). */
  async readSlot(hostId: number): Promise<HostSlot> {
    await this.detect();
    const at = this.sectorAt(hostId + 1);
    const bytes = await readBytes(this.io, at, this.geometry.sectorSize, this.ioTimeout, `dblock ${hostId} read`, "DBLOCK_READ");
    const mode = decodeModeBlock(bytes, MBLOCK_OFFSET);
    const fields = readDblockFields(bytes, 0, at);
    const valid = isEmptyDblock(fields) || dblockChecksum(bytes, 0) === fields.checksum;
    return { hostId, dblock: valid ? fields : undefined, mode };
  }

  /** Write our sector: dblock (checksum recomputed) + mode block, zeros elsewhere (docs/algorithms.md §1.5.3). */
  async writeOwnSlot(dblock: Dblock, mode: ModeBlock = emptyModeBlock()): Promise<void> {
    await this.writeSlot(this.hostId, dblock, mode);
  }

  async writeSlot(hostId: number, dblock: Dblock, mode: ModeBlock): Promise<void> {
    const sector = this.composeSector(hostId, dblock, mode);
    const io = this.io.device.write(this.sectorAt(hostId + 1), sector);
    if (hostId === this.hostId) ownSectorWrites(this.io.clock).track(this.ownSectorKey, io);
    await boundedIo(this.io.clock, this.ioTimeout, io, `dblock ${hostId} write`, "DBLOCK_WRITE");
  }

  /** The one place a dblock sector is composed: sanlock's records, plus the carried bytes in our own sector. */
  composeSector(hostId: number, dblock: Dblock, mode: ModeBlock): Uint8Array {
    const sector = encodeDblockSector(dblock, this.geometry.sectorSize, mode);
    if (hostId !== this.hostId || !this.carrier) return sector;
    const { offset, bytes } = this.carrier.carried();
    if (offset < MBLOCK_OFFSET + MODE_BLOCK_SIZE || offset + bytes.length > sector.length) {
      throw new RangeError(`carried bytes ${offset}..${offset + bytes.length} overlap sanlock's records or leave the sector`);
    }
    sector.set(bytes, offset);
    return sector;
  }

  /** Identifies our dblock sector of this resource in the I/O domain's tracker. */
  get ownSectorKey(): string {
    return `${this.lockspace}\u0000${this.location.resource}\u0000${this.location.offset}\u0000${this.hostId}`;
  }

  /** Our own dblock writes of this resource still in flight (timed out, not yet settled). */
  get ownWritesInFlight(): number {
    return ownSectorWrites(this.io.clock).inFlight(this.ownSectorKey);
  }

  /** Wait at most `seconds` for our earlier dblock writes of this resource to settle; true when none is left. */
  settleOwnWrites(seconds: number): Promise<boolean> {
    return ownSectorWrites(this.io.clock).settle(this.ownSectorKey, this.io.clock, seconds);
  }

  /** docs/algorithms.md §5.4: the only write to another host's sector: all zeros. */
  async zeroSlot(hostId: number): Promise<void> {
    await writeBytes(this.io, this.sectorAt(hostId + 1), new Uint8Array(this.geometry.sectorSize), this.ioTimeout, `dblock ${hostId} clear`, "DBLOCK_WRITE");
  }

  /** Write sector 0: leader, zeros to the end of the sector. */
  async writeLeader(leader: LeaderRecord): Promise<void> {
    const sector = new Uint8Array(this.geometry.sectorSize);
    sector.set(encodeLeader(leader), 0);
    await writeBytes(this.io, this.location.offset, sector, this.ioTimeout, "leader write", "LEADER_WRITE");
  }

  async readSector(sector: number, what: string): Promise<Uint8Array> {
    await this.detect();
    return readBytes(this.io, this.sectorAt(sector), this.geometry.sectorSize, this.ioTimeout, what, "LEADER_READ");
  }

  async writeSector(sector: number, data: Uint8Array, what: string): Promise<void> {
    await this.detect();
    if (data.length !== this.geometry.sectorSize) throw new RangeError(`${what}: ${data.length} bytes is not one sector`);
    await writeBytes(this.io, this.sectorAt(sector), data, this.ioTimeout, what, "LEADER_WRITE");
  }
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Field-by-field leader equality ("differs in any field", docs/algorithms.md §4.3 step 9). The stored
 * checksum is ignored: it is derived from the other fields (records compared here were validated).
 */
export function leadersEqual(a: LeaderRecord, b: LeaderRecord): boolean {
  return leaderFieldsEqual(a, b);
}

/** The docs/ondisk.md §2.1 table entry equal to `hint`, or undefined for no hint or a pair not in the table. */
function knownGeometry(hint: Geometry | undefined): Geometry | undefined {
  if (!hint) return undefined;
  return GEOMETRIES.find((g) => g.sectorSize === hint.sectorSize && g.alignSize === hint.alignSize);
}

/** What the hinted whole-area read found (parsed while the device's memory is valid). */
type HintedRead = { kind: "mismatch" } | { kind: "area"; snapshot: AreaSnapshot } | { kind: "failed"; error: unknown };

/** The first sector holds a paxos leader whose sector_size and alignment flag (docs/ondisk.md §2.3) give `geometry`. */
function leaderRecordsGeometry(bytes: Uint8Array, geometry: Geometry): boolean {
  if (bytes.length < DETECT_READ_SIZE) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(LeaderOffsets.magic, true) !== PAXOS_DISK_MAGIC) return false;
  try {
    const recorded = geometryFromLeaderFields(view.getUint32(LeaderOffsets.sectorSize, true), view.getUint32(LeaderOffsets.flags, true));
    return recorded.sectorSize === geometry.sectorSize && recorded.alignSize === geometry.alignSize;
  } catch {
    return false;
  }
}

// slotRecordsZero reads the dblock and mode block as fixed words: the layout it assumes.
if (DBLOCK_SIZE !== 56 || MBLOCK_OFFSET !== 128 || MODE_BLOCK_SIZE !== 16) {
  throw new Error("assertion: slotRecordsZero assumes a 56-byte dblock at 0 and a 16-byte mode block at 128");
}

/**
 * Whether a host slot's records are all zero: its dblock (bytes 0..55 of the sector) and its
 * mode block (128..143). One OR over their 18 words with no branch per word when the sector
 * starts on a word boundary: a 1 MiB area read has 2,000 slots, nearly all empty, and this test
 * is most of the CPU an acquire spends parsing (the two isZero calls it replaces took about 15%
 * longer per read, measured in the daemon).
 */
function slotRecordsZero(zeros: ZeroScanner, start: number): boolean {
  const w = zeros.wordIndexAt(start);
  const words = zeros.wordView;
  if (w < 0 || w + 36 > words.length) {
    return zeros.isZero(start, start + DBLOCK_SIZE) && zeros.isZero(start + MBLOCK_OFFSET, start + MBLOCK_OFFSET + MODE_BLOCK_SIZE);
  }
  return (
    (words[w]! |
      words[w + 1]! |
      words[w + 2]! |
      words[w + 3]! |
      words[w + 4]! |
      words[w + 5]! |
      words[w + 6]! |
      words[w + 7]! |
      words[w + 8]! |
      words[w + 9]! |
      words[w + 10]! |
      words[w + 11]! |
      words[w + 12]! |
      words[w + 13]! |
      words[w + 32]! |
      words[w + 33]! |
      words[w + 34]! |
      words[w + 35]!) ===
    0
  );
}
