// One DLM resource as this host sees it: its local locks in queue order, the last view of other
// hosts' slots, our own slot (what may be on disk, what we publish next) and the LVB we know
// (docs/dlm.md §3.3-§3.6, §5.4-§5.6). No I/O here: resource-io.ts reads and writes.
import type { Dblock } from "../ondisk/dblock.js";
import type { PaxosDisk } from "../paxos-disk.js";
import type { QueueEntry, ResourceQueues } from "./evaluate.js";
import type { DlmLock } from "./lock.js";
import { LKM, MODE_IV, compatible, coveredBy, maxMode } from "./modes.js";
import { MAX_PUBLISHED, PendingFlag, PendingKind, type PendingEntry, SLOT_FLAG_ORPHANS, SLOT_FLAG_VALBLK_HOLD, type SlotRecord } from "./slot-record.js";
import { LKF } from "./status.js";
import type { ResourceLvb } from "./view.js";

/** A remote host's slot after classification (docs/dlm.md §3.4). */
export interface RemoteSlot {
  readonly hostId: number;
  /** undefined = undecodable: blocks everything but NL while its host lives. */
  readonly slot: SlotRecord | undefined;
  readonly dead: boolean;
}

/** Our slot's LVB fields (docs/dlm.md §3.6). */
export interface OwnLvb {
  seq: bigint;
  epoch: bigint;
  flags: number;
  data: Uint8Array;
}

/** Flags that travel with a pending entry (docs/dlm.md §4.5) and back into evaluation. */
const PUBLISHED_FLAGS: readonly [number, number][] = [
  [LKF.QUECVT, PendingFlag.QUECVT],
  [LKF.NOORDER, PendingFlag.NOORDER],
  [LKF.HEADQUE, PendingFlag.HEADQUE],
  [LKF.CONVDEADLK, PendingFlag.CONVDEADLK],
  [LKF.NODLCKWT, PendingFlag.NODLCKWT],
];

export function toPendingFlags(lkf: number): number {
  let out = 0;
  for (const [l, p] of PUBLISHED_FLAGS) if (lkf & l) out |= p;
  return out;
}

export function fromPendingFlags(pending: number): number {
  let out = 0;
  for (const [l, p] of PUBLISHED_FLAGS) if (pending & p) out |= l;
  return out;
}

interface Sortable {
  entry: QueueEntry;
  headque: boolean;
  ticket: bigint | undefined;
  hostId: number;
  index: number;
}

/** docs/dlm.md §3.5: published entries by (HEADQUE first, ticket, host_id, index); unpublished after them. */
function compareSortable(a: Sortable, b: Sortable): number {
  if ((a.ticket === undefined) !== (b.ticket === undefined)) return a.ticket === undefined ? 1 : -1;
  if (a.ticket !== undefined && b.ticket !== undefined) {
    if (a.headque !== b.headque) return a.headque ? -1 : 1;
    if (a.ticket !== b.ticket) return (a.headque ? a.ticket < b.ticket : a.ticket > b.ticket) ? 1 : -1;
    if (a.hostId !== b.hostId) return a.hostId - b.hostId;
  }
  return a.index - b.index;
}

export class DlmResource {
  /** Local locks (not unlocked), in no particular order; queue order is `order`. */
  readonly locks = new Set<DlmLock>();
  remote: RemoteSlot[] = [];
  /** Grmodes that may be on disk now (the last successful write, plus any write whose outcome is unknown). */
  possibleGrmodes: number[] = [MODE_IV];
  /** The last slot we attempted to write (carried by every ballot write, rule O1). */
  attempted: SlotRecord | undefined;
  /** Its encoded bytes, for the PaxosDisk carrier. */
  attemptedBytes: Uint8Array;
  /** Our dblock as last written (ballots, slot writes); undefined = read our sector first. */
  lastDblock: Dblock | undefined;
  /** lver of our last mutex round on this resource. */
  roundLver = 0n;
  writeSeq = 0;
  ownLvb: OwnLvb;
  /** The resource LVB as last known, and whether it is still current without a read (docs/dlm.md §5.6). */
  knownLvb: ResourceLvb | undefined;
  lvbCacheValid = false;
  opened = false;
  disk: PaxosDisk | undefined;
  /** The rindex entry of its area (what host records name it by), when known. */
  areaIndex: number | undefined;
  /** Host-local order counter for queue positions. */
  private nextOrder = 1;
  private nextHeadOrder = -1;
  /** BASTs already given for remote entries: "lkid/host/ticket/rq". */
  readonly bastedRemote = new Set<string>();
  /** Earliest local time of the next round attempt (mutex busy backoff). */
  retryAt = 0;
  backoff = 0;
  lastRoundAt = 0;
  roundQueued = false;
  flushQueued = false;
  /** Rounds and slot writes of this resource run one at a time, in order (rule O6). */
  chain: Promise<void> = Promise.resolve();
  /** Run after the next slot write (e.g. forget an unlocked lock id). */
  readonly afterFlush: (() => void)[] = [];

  constructor(
    readonly key: string,
    readonly name: Uint8Array,
    readonly lvbLen: number,
    /** Our host_id: sorts our published entries among remote ones. */
    readonly hostId: number,
  ) {
    this.ownLvb = { seq: 0n, epoch: 0n, flags: 0, data: new Uint8Array(lvbLen) };
    this.attemptedBytes = new Uint8Array(256);
  }

  /** Gives a lock its queue position: tail, or head with HEADQUE. */
  place(lock: DlmLock): void {
    lock.order = lock.flags & LKF.HEADQUE ? this.nextHeadOrder-- : this.nextOrder++;
  }

  /** Locks in queue order. */
  ordered(): DlmLock[] {
    return [...this.locks].sort((a, b) => a.order - b.order);
  }

  /** Pending local locks that are not being decided by a round: conversions, then new requests. */
  pendingLocal(): DlmLock[] {
    const all = this.ordered().filter((l) => l.pending);
    return [...all.filter((l) => l.gr !== MODE_IV), ...all.filter((l) => l.gr === MODE_IV)];
  }

  grantedLocal(): DlmLock[] {
    return this.ordered().filter((l) => l.gr !== MODE_IV);
  }

  /** Max granted mode of our locks: what our slot must publish (rule O7). */
  localGrmode(): number {
    return maxMode(this.grantedLocal().map((l) => l.gr));
  }

  /** docs/dlm.md §5.6 Gsafe: `mode` is covered by every grmode that may be on disk. */
  covered(mode: number): boolean {
    return this.possibleGrmodes.every((g) => coveredBy(mode, g));
  }

  /** Every grmode that may be on disk blocks PW and EX writers (the LVB cache rule, docs/dlm.md §5.6). */
  blocksWriters(): boolean {
    return this.possibleGrmodes.every((g) => g !== MODE_IV && !compatible(g, LKM.PW));
  }

  /** The queues of docs/dlm.md §5.4: remote live slots and entries, and local locks. */
  queues(includeRemote = true): ResourceQueues {
    const granted: QueueEntry[] = [];
    const convert: Sortable[] = [];
    const wait: Sortable[] = [];
    if (includeRemote) {
      for (const r of this.remote) {
        if (r.dead) continue;
        if (!r.slot) {
          granted.push({ key: `h${r.hostId}`, gr: LKM.EX, rq: MODE_IV, flags: 0 });
          continue;
        }
        if (r.slot.grmode !== MODE_IV) granted.push({ key: `h${r.hostId}`, gr: r.slot.grmode, rq: MODE_IV, flags: 0 });
        r.slot.pending.forEach((p, index) => {
          const entry = remoteEntry(r.hostId, index, p);
          const s: Sortable = { entry, headque: (p.flags & PendingFlag.HEADQUE) !== 0, ticket: p.ticket, hostId: r.hostId, index };
          (p.kind === PendingKind.CONVERT ? convert : wait).push(s);
        });
      }
    }
    for (const l of this.ordered()) {
      const entry: QueueEntry = { key: `l${l.lkid}`, gr: l.gr, rq: l.rq, flags: l.flags };
      if (l.gr !== MODE_IV) granted.push(entry);
      if (!l.pending) continue;
      const s: Sortable = { entry, headque: (l.flags & LKF.HEADQUE) !== 0, ticket: l.ticket, hostId: this.hostId, index: l.order };
      (l.gr !== MODE_IV ? convert : wait).push(s);
    }
    return { granted, convert: convert.sort(compareSortable).map((s) => s.entry), wait: wait.sort(compareSortable).map((s) => s.entry) };
  }

  /** The first MAX_PUBLISHED pending locks (conversions first): what our slot publishes. */
  publishable(): DlmLock[] {
    return this.pendingLocal()
      .filter((l) => !l.fresh)
      .slice(0, MAX_PUBLISHED);
  }

  /** The slot our current local state implies (docs/dlm.md §4.5, §5.5 step 5). */
  composeSlot(generation: bigint): SlotRecord {
    const granted = this.grantedLocal();
    let flags = 0;
    if (granted.some((l) => l.gr >= LKM.PW && l.valblk)) flags |= SLOT_FLAG_VALBLK_HOLD;
    if (granted.some((l) => l.orphan)) flags |= SLOT_FLAG_ORPHANS;
    const pending: PendingEntry[] = this.publishable()
      .filter((l) => l.ticket !== undefined)
      .map((l) => ({
        rq: l.rq,
        gr: l.gr,
        kind: l.gr === MODE_IV ? PendingKind.NEW : PendingKind.CONVERT,
        flags: toPendingFlags(l.flags),
        lkid: l.lkid >>> 0,
        ticket: l.ticket as bigint,
      }));
    return {
      generation,
      lver: this.roundLver,
      writeSeq: this.writeSeq,
      grmode: this.localGrmode(),
      flags,
      pending,
      lvbSeq: this.ownLvb.seq,
      lvbEpoch: this.ownLvb.epoch,
      lvbFlags: this.ownLvb.flags,
      lvb: this.ownLvb.data.slice(),
    };
  }
}

function remoteEntry(hostId: number, index: number, p: PendingEntry): QueueEntry {
  return { key: `h${hostId}:${index}`, gr: p.gr, rq: p.rq, flags: fromPendingFlags(p.flags) };
}

/** Two slots publish the same thing (write_seq aside). */
export function sameSlotContent(a: SlotRecord | undefined, b: SlotRecord): boolean {
  if (!a) return false;
  const lvbSame = a.lvb.length === b.lvb.length && a.lvb.every((x, i) => x === b.lvb[i]);
  return (
    a.generation === b.generation &&
    a.lver === b.lver &&
    a.grmode === b.grmode &&
    a.flags === b.flags &&
    a.lvbSeq === b.lvbSeq &&
    a.lvbEpoch === b.lvbEpoch &&
    a.lvbFlags === b.lvbFlags &&
    lvbSame &&
    a.pending.length === b.pending.length &&
    a.pending.every((p, i) => {
      const q = b.pending[i] as PendingEntry;
      return p.rq === q.rq && p.gr === q.gr && p.kind === q.kind && p.flags === q.flags && p.ticket === q.ticket && p.lkid === q.lkid;
    })
  );
}
