// The DLM engine of one host in one lockspace (docs/dlm.md §5): lock, convert, unlock, cancel,
// process exit, orphans and purge for local processes; grants decided by this host alone, either
// at once when its published slot covers them (§5.6, no I/O) or in a round under the resource's
// paxos mutex (§5.5); other hosts' slots ignored only when their instance is dead (§3.4, §5.11).
// Runs on the abstract BlockDevice and the injected Clock, like the rest of core.
import type { BlockDevice } from "../block-device.js";
import type { Clock, Random } from "../clock.js";
import type { HostLiveness } from "../host-status.js";
import type { Geometry } from "../ondisk/geometry.js";
import type { DeltaRecordView } from "../paxos-owner.js";
import { bastSkipped, lockRequiresBast, modesRequireBast, passBastMode } from "./bast.js";
import { CountingDevice, type DlmIo } from "./counting-device.js";
import { HostArea, type RemoteWait } from "./host-area.js";
import { WaitKind, type WaitEntry } from "./host-record.js";
import { type QueueEntry, type Verdict, evaluateLock } from "./evaluate.js";
import { type Completion, DlmLock } from "./lock.js";
import { LKM, MODE_IV, coveredBy, isLockMode, lvbOperation, quecvtAllowed } from "./modes.js";
import { DlmResource, type RemoteSlot, sameSlotContent } from "./resource.js";
import {
  type ResourceArea,
  type ResourceIoContext,
  acquireMutex,
  openDisk,
  readOwnSector,
  readView,
  releaseMutex,
  releasedDblock,
  settled,
  writeSlot,
} from "./resource-io.js";
import { LVB_FLAG_INVALID, MAX_LVB_LEN, encodeSlot } from "./slot-record.js";
import { SlotLiveness } from "./slot-liveness.js";
import { DlmError, type DlmOperation, type DlmStatusName, DlmStatus, LKF, LKF_ALL, LKF_UNLOCK_ALLOWED, noStatusFlags } from "./status.js";
import { MAX_RESOURCE_NAME_LEN } from "./resource-header.js";
import { type LvbEntry, type ResourceView, deadWriterEntry, maxBigint, resourceLvb, slotLvbEntry } from "./view.js";

/**
 * Planted bugs, SIMULATOR-ONLY (docs/dlm.md §9 test 38): each breaks one rule so the simulator can
 * show its invariants catch it. Production code uses "none".
 */
export const DLM_VARIANTS = [
  "none",
  "grant-without-mutex",
  "free-leader-before-slot",
  "zero-slot-in-ballots",
  "dead-after-8n",
  "lvb-seq-not-above",
  "pr-covered-by-cw",
  "overlapping-slot-writes",
] as const;
export type DlmVariant = (typeof DLM_VARIANTS)[number];

/** dlm_lockspace_ops recovery callbacks (docs/dlm.md §1.7, §5.11); slot = host_id. */
export interface RecoveryCallbacks {
  prep?(): void;
  slot?(s: { nodeId: number; slot: number }): void;
  done?(d: { slots: { nodeId: number; slot: number }[]; ourSlot: number; generation: number }): void;
}

export interface DlmEngineOptions {
  /** The sanlock lockspace (= DLM lockspace name). */
  readonly lockspace: string;
  readonly hostId: number;
  /** Our delta-lease generation. */
  readonly generation: bigint;
  readonly ioTimeout: number;
  readonly clock: Clock;
  readonly random: Random;
  readonly liveness: HostLiveness;
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  readonly device: BlockDevice;
  /** Geometry of the resource areas. */
  readonly geometry: Geometry;
  /** num_hosts of every resource area (the lockspace header's). */
  readonly numHosts: number;
  /** The lockspace's lvblen (8..64). */
  readonly lvbLen: number;
  /** Waiting resources are looked at again this often (docs/dlm.md §5.9); default 1000. */
  readonly pollMs?: number;
  /** Where a resource's lease area is; undefined = no such resource (ENOMEM, docs/dlm.md §1.6). */
  locate(name: Uint8Array): ResourceArea | undefined;
  readonly recovery?: RecoveryCallbacks;
  readonly variant?: DlmVariant;
  /** Told about every I/O the engine issues (tests count them, docs/dlm.md §6). */
  readonly onIo?: (io: DlmIo) => void;
  readonly log?: (text: string) => void;
  /**
   * The DLM host area (docs/dlm.md §4.3, §5.9): our queued requests are published there and
   * other hosts' are read every poll for BASTs. Without it, BASTs for remote waiters come only
   * from the views rounds read.
   */
  readonly hostArea?: { readonly offset: number; readonly lockspaceId: bigint };
}

export interface LockRequest {
  /** The requesting process (a client connection). */
  readonly pid: number;
  readonly mode: number;
  readonly flags?: number;
  /** Resource name (1..64 bytes, binary allowed) of a new lock or an adopt (ORPHAN). */
  readonly resource?: Uint8Array | string;
  /** Lock id of a conversion (CONVERT). */
  readonly lkid?: number;
  /** The lksb LVB (VALBLK): written on W transitions, replaced by R transitions. */
  readonly lvb?: Uint8Array;
  /** TIMEOUT: cancel with ETIMEDOUT after this many milliseconds. */
  readonly timeoutMs?: number;
  readonly bast?: (mode: number) => void;
  /** The completion AST, called synchronously when the operation completes (the promise settles too). */
  readonly ast?: (c: Completion) => void;
}

export interface LockHandle {
  readonly lkid: number;
  /** Settles when the completion AST would be delivered. */
  readonly done: Promise<Completion>;
}

export interface UnlockRequest {
  readonly lkid: number;
  readonly flags?: number;
  readonly lvb?: Uint8Array;
}

export interface LockInfo {
  readonly lkid: number;
  readonly pid: number;
  readonly resource: Uint8Array;
  readonly gr: number;
  readonly rq: number;
  readonly orphan: boolean;
}

/** Per-round bound on grant-pass restarts (each restart follows a grant or a demotion). */
const MAX_PASS_RESTARTS = 4096;
/** Most locks one engine holds at once (a limit on everything). */
export const MAX_LOCKS = 65536;
/** Most resources one engine keeps. */
export const MAX_RESOURCES = 65536;
/** Mutex-busy retry: uniform 0..20 ms, doubling to 1 s (docs/dlm.md §5.5 step 3). */
const BACKOFF_FIRST = 0.02;
const BACKOFF_MAX = 1;

type PassContext = "local" | "precheck" | "mutex";

interface PassResult {
  needMutex: boolean;
  tentative: DlmLock[];
}

interface Tentative {
  gr: number;
  rq: number;
  fresh: boolean;
  sb: DlmLock["sb"];
  ownLvb: DlmResource["ownLvb"];
}

function nameBytes(name: Uint8Array | string): Uint8Array {
  return typeof name === "string" ? new TextEncoder().encode(name) : name;
}

function keyOf(name: Uint8Array): string {
  return Array.from(name, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fail(status: DlmStatusName, op: DlmOperation, message: string, lkid?: number): never {
  throw new DlmError(status, op, message, lkid);
}

export class DlmEngine {
  private readonly resources = new Map<string, DlmResource>();
  private readonly locks = new Map<number, DlmLock>();
  private readonly tentativeState = new Map<DlmLock, Tentative>();
  /** Locks whose process exited (or that were cancelled) while a round was deciding them. */
  private readonly afterRound = new Map<DlmLock, "exit" | "cancel">();
  private readonly io: ResourceIoContext;
  private readonly slotLiveness: SlotLiveness;
  private readonly variant: DlmVariant;
  private readonly pollSeconds: number;
  private nextLkid = 1;
  private queuedTasks = 0;
  private stopped = false;
  private recoveryGeneration = 1;
  private readonly recovered = new Set<string>();
  private readonly hostArea: HostArea | undefined;
  private lastAreaRead = 0;
  private areaReading = false;
  /** I/O issued by this engine (reads, writes). */
  readonly ioCount = { reads: 0, writes: 0 };

  constructor(private readonly opts: DlmEngineOptions) {
    if (!(opts.lvbLen >= 8 && opts.lvbLen <= MAX_LVB_LEN && opts.lvbLen % 8 === 0)) throw new RangeError(`lvbLen ${opts.lvbLen} is not 8..64 in steps of 8`);
    this.variant = opts.variant ?? "none";
    this.pollSeconds = (opts.pollMs ?? 1000) / 1000;
    const device = new CountingDevice(opts.device, (io) => {
      if (io.kind === "read") this.ioCount.reads++;
      else this.ioCount.writes++;
      opts.onIo?.(io);
    });
    this.io = {
      lockspace: opts.lockspace,
      hostId: opts.hostId,
      generation: opts.generation,
      ioTimeout: opts.ioTimeout,
      clock: opts.clock,
      random: opts.random,
      liveness: opts.liveness,
      readDeltaRecord: (id) => opts.readDeltaRecord(id),
      device,
      geometry: opts.geometry,
      zeroSlotInBallots: this.variant === "zero-slot-in-ballots",
    };
    this.slotLiveness = new SlotLiveness({
      clock: opts.clock,
      liveness: opts.liveness,
      readDeltaRecord: (id) => opts.readDeltaRecord(id),
      ownIoTimeout: opts.ioTimeout,
      ...(this.variant === "dead-after-8n" ? { deadSeconds: (n: number) => 8 * n } : {}),
    });
    this.hostArea = opts.hostArea
      ? new HostArea({
          device,
          offset: opts.hostArea.offset,
          sectorSize: opts.geometry.sectorSize,
          numHosts: opts.numHosts,
          hostId: opts.hostId,
          lockspaceId: opts.hostArea.lockspaceId,
          generation: opts.generation,
          diagnosticDevice: opts.device,
        })
      : undefined;
  }

  private log(text: string): void {
    this.opts.log?.(text);
  }

  get hostId(): number {
    return this.opts.hostId;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  // ---------------------------------------------------------------- public calls

  /** dlm_lock: a new lock, a conversion (CONVERT) or an adopt (ORPHAN). Call errors throw DlmError. */
  lock(req: LockRequest): LockHandle {
    const flags = req.flags ?? 0;
    if (this.stopped) fail("ENOTCONN", "lock", "lockspace is no longer usable");
    this.validateLock(req, flags);
    if (flags & LKF.ORPHAN) return this.adopt(req, flags);
    if (flags & LKF.CONVERT) return this.convert(req, flags);
    return this.newLock(req, flags);
  }

  /** dlm_unlock: unlock (EUNLOCK), or cancel with CANCEL (ECANCEL). Call errors throw DlmError. */
  unlock(req: UnlockRequest): Promise<Completion> {
    const flags = req.flags ?? 0;
    if (flags & ~LKF_UNLOCK_ALLOWED) fail("EINVAL", "unlock", `flags 0x${flags.toString(16)} include bits unlock does not take`, req.lkid);
    if (flags & LKF.CANCEL && flags & LKF.FORCEUNLOCK) fail("EINVAL", "unlock", "CANCEL with FORCEUNLOCK", req.lkid);
    const l = this.locks.get(req.lkid);
    if (!l) fail("ENOENT", flags & LKF.CANCEL ? "cancel" : "unlock", `no lock ${req.lkid}`, req.lkid);
    if (flags & LKF.CANCEL) return Promise.resolve(this.cancelLock(l, "ECANCEL"));
    // The kernel (validate_unlock_args) refuses an unlock while another operation is in progress with EBUSY.
    if (l.unlocking) fail("EBUSY", "unlock", `lock ${l.lkid} is already being unlocked`, l.lkid);
    if (this.tentativeState.has(l) || (l.pending && !(flags & LKF.FORCEUNLOCK))) fail("EBUSY", "unlock", `lock ${l.lkid} is ${l.state}`, l.lkid);
    if (req.lvb) this.setLvb(l, req.lvb);
    return Promise.resolve(this.unlockLock(l, flags));
  }

  /** dlm_ls_deadlock_cancel when `deadlock`: the pending operation completes EDEADLK instead of ECANCEL. */
  cancel(lkid: number, options: { deadlock?: boolean } = {}): Completion {
    const l = this.locks.get(lkid);
    if (!l) fail("ENOENT", "cancel", `no lock ${lkid}`, lkid);
    return this.cancelLock(l, options.deadlock ? "EDEADLK" : "ECANCEL");
  }

  /**
   * A process ended (docs/dlm.md §5.10): its non-persistent locks are unlocked with
   * FORCEUNLOCK|IVVALBLK, its persistent ones become orphans, their pending operations cancelled.
   */
  processExit(pid: number): void {
    for (const l of [...this.locks.values()]) {
      if (l.pid !== pid || l.orphan || l.unlocking) continue;
      if (this.tentativeState.has(l)) {
        this.afterRound.set(l, "exit");
        continue;
      }
      this.exitLock(l);
    }
  }

  /** dlm_ls_purge (docs/dlm.md §5.10): unlock orphans of `pid` (0 = all) on this node; returns how many. */
  purgeOrphans(nodeId: number, pid: number): number {
    if (nodeId !== this.opts.hostId && nodeId !== 0) fail("EOPNOTSUPP", "purge", `orphans of node ${nodeId} are purged by that node`);
    let count = 0;
    for (const l of [...this.locks.values()]) {
      if (!l.orphan || l.unlocking || (pid !== 0 && l.pid !== pid)) continue;
      this.unlockLock(l, LKF.FORCEUNLOCK | LKF.IVVALBLK);
      count++;
    }
    return count;
  }

  /** Max granted mode of our locks on a resource (what our slot must show, rule O7); MODE_IV for none. */
  grantedMode(name: Uint8Array | string): number {
    return this.resources.get(keyOf(nameBytes(name)))?.localGrmode() ?? MODE_IV;
  }

  /** Locks of this host (what a lockdump shows). */
  lockInfo(): LockInfo[] {
    return [...this.locks.values()]
      .filter((l) => !l.unlocking)
      .map((l) => ({ lkid: l.lkid, pid: l.pid, resource: this.resourceOf(l).name, gr: l.gr, rq: l.rq, orphan: l.orphan }));
  }

  /** One poll (docs/dlm.md §5.9): expired TIMEOUT requests, and a round for every resource with waiting locks. */
  tick(): void {
    if (this.stopped) return;
    const now = this.opts.clock.now();
    for (const res of this.resources.values()) {
      for (const l of res.locks) if (l.pending && l.deadline !== undefined && now >= l.deadline && !this.tentativeState.has(l)) this.cancelLock(l, "ETIMEDOUT");
      const waiting = [...res.locks].some((l) => l.pending && !this.tentativeState.has(l));
      if (waiting && now >= res.retryAt && now - res.lastRoundAt >= this.pollSeconds) this.requestRound(res);
      // A slot write that failed leaves other hosts seeing more than we hold: write it again.
      else if (
        res.opened &&
        !res.flushQueued &&
        !res.roundQueued &&
        (res.possibleGrmodes.length > 1 || !sameSlotContent(res.attempted, res.composeSlot(this.opts.generation)))
      ) {
        this.requestFlush(res);
      }
    }
    this.hintTick(now);
  }

  // ---------------------------------------------------------------- host area hints (docs/dlm.md §5.9)

  /** Publishes our queued requests; every poll, reads the others' for BASTs (only while a lock wants BASTs). */
  private hintTick(now: number): void {
    const area = this.hostArea;
    if (!area) return;
    area.publish(this.waitEntries());
    if (this.areaReading || now - this.lastAreaRead < this.pollSeconds || !this.wantsBasts()) return;
    this.lastAreaRead = now;
    this.areaReading = true;
    void area
      .readWaits((id) => this.opts.liveness.snapshot(id)?.ownerGeneration)
      .then((waits) => this.bastForWaits(waits))
      .catch((err: unknown) => this.log(`host area read: ${(err as Error)?.message ?? String(err)}`))
      .finally(() => {
        this.areaReading = false;
      });
  }

  /** Our published pending locks (those with a ticket), as wait entries of the host record. */
  private waitEntries(): WaitEntry[] {
    const out: WaitEntry[] = [];
    for (const res of this.resources.values()) {
      if (!res.opened || res.areaIndex === undefined) continue;
      for (const l of res.publishable()) {
        if (l.ticket === undefined) continue;
        out.push({ resourceIndex: res.areaIndex, rq: l.rq, gr: l.gr, kind: l.gr === MODE_IV ? WaitKind.NEW : WaitKind.CONVERT, ticket: l.ticket });
      }
    }
    return out;
  }

  /**
   * DLM members (docs/dlm.md §3.1): hosts whose delta lease our watcher sees live and whose host
   * record is of that delta generation; a sanlock host in the same lockspace without the DLM is
   * none. Undefined without a host area.
   */
  async members(): Promise<number[] | undefined> {
    const liveness = this.opts.liveness;
    return this.hostArea?.members((id) => {
      const s = liveness.snapshot(id);
      return s !== undefined && s.timestamp !== 0n && liveness.isSharedHolderAlive(id, s.ownerGeneration) ? s.ownerGeneration : undefined;
    });
  }

  private wantsBasts(): boolean {
    for (const l of this.locks.values()) if (l.bast && l.gr !== MODE_IV) return true;
    return false;
  }

  /** Remote wait entries ask our granted locks once each, as the same entries seen in a view do. */
  private bastForWaits(waits: readonly RemoteWait[]): void {
    if (this.stopped) return;
    for (const w of waits) {
      const res = [...this.resources.values()].find((r) => r.areaIndex === w.resourceIndex);
      // An entry published before our last round on the resource was in that round's view: if it
      // still waited it got its BAST from the view (bastForRemote); if not, it is a stale record
      // of a request that has ended since, and must not ask anything (the kernel would not).
      if (!res || w.ticket <= res.roundLver) continue;
      for (const g of res.grantedLocal()) {
        if (!g.bast || this.tentativeState.has(g)) continue;
        const key = `${g.lkid}/${w.hostId}/${w.ticket}/${w.rq}`;
        if (res.bastedRemote.has(key)) continue;
        if (res.bastedRemote.size > 4096) res.bastedRemote.clear();
        res.bastedRemote.add(key);
        if (modesRequireBast(g, w.rq)) this.deliverBast(g, w.rq);
      }
    }
  }

  /** Runs tick() every poll interval until stop() or `signal` aborts. */
  async run(signal?: AbortSignal): Promise<void> {
    while (!this.stopped && !signal?.aborted) {
      try {
        await this.opts.clock.sleep(Math.min(this.pollSeconds, 0.25), signal);
      } catch {
        return;
      }
      this.tick();
    }
  }

  /** Waits until no round or slot write is queued on any resource (tests). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const chains = [...this.resources.values()].map((r) => r.chain);
      await Promise.all(chains);
      const again = [...this.resources.values()].map((r) => r.chain);
      if (again.length === chains.length && again.every((c, j) => c === chains[j])) return;
    }
  }

  /**
   * Our lockspace failed or was left (docs/dlm.md §5.11): no more I/O; every pending operation
   * completes ENOTCONN and every lock is dropped without I/O (our slots stay on disk until other
   * hosts see our instance dead).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const l of [...this.locks.values()]) {
      if (l.settle) this.settleOp(l, DlmStatus.ENOTCONN);
      this.forget(l);
    }
  }

  // ---------------------------------------------------------------- argument checks (docs/dlm.md §1.5)

  private validateLock(req: LockRequest, flags: number): void {
    const op: DlmOperation = flags & LKF.CONVERT ? "convert" : "lock";
    const bad = (why: string): never => fail("EINVAL", op, why, req.lkid);
    if (!isLockMode(req.mode)) bad(`mode ${req.mode} is not NL..EX`);
    if (flags & ~LKF_ALL) bad(`unknown flag bits 0x${(flags & ~LKF_ALL).toString(16)}`);
    if (flags & LKF.CANCEL) bad("CANCEL is a flag of unlock");
    if (flags & LKF.CONVDEADLK && !(flags & LKF.CONVERT)) bad("CONVDEADLK without CONVERT");
    if (flags & LKF.CONVDEADLK && flags & LKF.NOQUEUE) bad("CONVDEADLK with NOQUEUE");
    if (flags & LKF.EXPEDITE && (flags & (LKF.CONVERT | LKF.QUECVT | LKF.NOQUEUE) || req.mode !== LKM.NL)) bad("EXPEDITE is for a new NL request only");
    if (flags & LKF.QUECVT && !(flags & LKF.CONVERT)) bad("QUECVT without CONVERT");
    if (flags & LKF.VALBLK && !req.lvb) bad("VALBLK without an LVB buffer");
    if (req.lvb && req.lvb.length !== this.opts.lvbLen) bad(`LVB buffer of ${req.lvb.length} bytes, lockspace lvblen ${this.opts.lvbLen}`);
    if (flags & LKF.TIMEOUT && !(Number.isFinite(req.timeoutMs) && (req.timeoutMs as number) > 0)) bad("TIMEOUT without a positive timeout");
    if (flags & LKF.CONVERT && req.lkid === undefined) bad("CONVERT without a lock id");
    if (!(flags & LKF.CONVERT)) {
      if (req.resource === undefined) bad("no resource name");
      const len = nameBytes(req.resource as Uint8Array | string).length;
      if (len < 1 || len > MAX_RESOURCE_NAME_LEN) bad(`resource name of ${len} bytes (1..${MAX_RESOURCE_NAME_LEN})`);
    }
  }

  // ---------------------------------------------------------------- operations

  private resourceFor(name: Uint8Array): DlmResource {
    const key = keyOf(name);
    let res = this.resources.get(key);
    if (!res) {
      if (this.resources.size >= MAX_RESOURCES) fail("ENOMEM", "lock", `more than ${MAX_RESOURCES} resources`);
      res = new DlmResource(key, name.slice(), this.opts.lvbLen, this.opts.hostId);
      this.resources.set(key, res);
    }
    return res;
  }

  private resourceOf(l: DlmLock): DlmResource {
    const res = this.resources.get(l.resourceKey);
    if (!res) throw new Error(`lock ${l.lkid} has no resource`);
    return res;
  }

  private startOp(l: DlmLock, req: LockRequest, flags: number): Promise<Completion> {
    l.flags = flags;
    l.rq = req.mode;
    l.fresh = true;
    l.ticket = undefined;
    l.sb = noStatusFlags();
    if (flags & LKF.PERSISTENT) l.persistent = true;
    if (req.bast) l.bast = req.bast;
    l.ast = req.ast;
    if (req.lvb) l.lvb = req.lvb.slice();
    l.deadline = flags & LKF.TIMEOUT ? this.opts.clock.now() + (req.timeoutMs as number) / 1000 : undefined;
    return new Promise<Completion>((resolve) => {
      l.settle = resolve;
    });
  }

  private newLock(req: LockRequest, flags: number): LockHandle {
    if (this.locks.size >= MAX_LOCKS) fail("ENOMEM", "lock", `more than ${MAX_LOCKS} locks`);
    const res = this.resourceFor(nameBytes(req.resource as Uint8Array | string));
    const l = new DlmLock(this.nextLkid++, req.pid, res.key);
    const done = this.startOp(l, req, flags);
    res.place(l);
    res.locks.add(l);
    this.locks.set(l.lkid, l);
    this.firstLook(res, l);
    return { lkid: l.lkid, done };
  }

  private convert(req: LockRequest, flags: number): LockHandle {
    const l = this.locks.get(req.lkid as number);
    if (!l || l.unlocking) fail("ENOENT", "convert", `no lock ${req.lkid}`, req.lkid);
    if (flags & LKF.QUECVT && !quecvtAllowed(l.gr, req.mode)) fail("EINVAL", "convert", `QUECVT does not allow ${l.gr}→${req.mode}`, l.lkid);
    if (l.pending || this.tentativeState.has(l) || l.orphan) fail("EBUSY", "convert", `lock ${l.lkid} is ${l.orphan ? "an orphan" : l.state}`, l.lkid);
    const res = this.resourceOf(l);
    const done = this.startOp(l, req, flags);
    res.place(l);
    this.firstLook(res, l);
    return { lkid: l.lkid, done };
  }

  /** docs/dlm.md §5.10: adopt an orphan of the same name and granted mode. */
  private adopt(req: LockRequest, flags: number): LockHandle {
    if (req.resource === undefined) fail("EINVAL", "adopt", "no resource name");
    const res = this.resources.get(keyOf(nameBytes(req.resource)));
    const orphans = res ? [...res.locks].filter((l) => l.orphan && !l.unlocking) : [];
    const same = orphans.find((l) => l.gr === req.mode);
    if (!same) fail(orphans.length > 0 ? "EAGAIN" : "ENOENT", "adopt", orphans.length > 0 ? "orphans of other modes only" : "no orphan of that name");
    same.orphan = false;
    same.pid = req.pid;
    same.flags = flags;
    if (req.bast) same.bast = req.bast;
    if (req.lvb) same.lvb = req.lvb.slice();
    this.requestFlush(this.resourceOf(same));
    return { lkid: same.lkid, done: Promise.resolve(this.completion(same, 0)) };
  }

  /** At request time (docs/dlm.md §5.6): grant when covered, refuse when local locks alone refuse, else a round. */
  private firstLook(res: DlmResource, l: DlmLock): void {
    const verdict = evaluateLock(entryOf(l), res.queues(true), true);
    if (verdict.kind === "grant" && this.coveredLocally(res, l, verdict.mode)) {
      const wasConversion = l.gr !== MODE_IV;
      this.applyGrant(res, l, verdict.mode, verdict.altMode, "local");
      this.deliverGrant(l);
      if (wasConversion) this.localPass(res, true);
      this.requestFlush(res);
      return;
    }
    const local = evaluateLock(entryOf(l), res.queues(false), true);
    if (local.kind === "refuse" || local.kind === "deadlock") {
      this.refuse(res, l, local.kind === "refuse" ? "EAGAIN" : "EDEADLK");
      return;
    }
    this.requestRound(res);
  }

  /** Grantable without I/O: covered by every grmode that may be on disk, and no LVB read needed (docs/dlm.md §5.6). */
  private coveredLocally(res: DlmResource, l: DlmLock, mode: number, freshView = false): boolean {
    const covered =
      this.variant === "pr-covered-by-cw" ? res.possibleGrmodes.every((g) => coveredBy(mode, g) || (mode === LKM.PR && g === LKM.CW)) : res.covered(mode);
    if (!covered || !res.opened) return false;
    if (l.flags & LKF.VALBLK && lvbOperation(l.gr, mode) === "read") return (freshView || res.lvbCacheValid) && res.knownLvb !== undefined;
    return true;
  }

  private unlockLock(l: DlmLock, flags: number): Completion {
    const res = this.resourceOf(l);
    if (l.pending && l.settle) this.settleOp(l, DlmStatus.EUNLOCK);
    if (l.gr >= LKM.PW) {
      if (flags & LKF.IVVALBLK) this.writeOwnLvb(res, l, true);
      else if (flags & LKF.VALBLK && l.lvb) this.writeOwnLvb(res, l, false);
    }
    const done = { lkid: l.lkid, status: DlmStatus.EUNLOCK, sb: { ...l.sb }, mode: MODE_IV, lvb: l.lvb?.slice(), lvbSeq: l.lvbSeq };
    l.unlocking = true;
    res.locks.delete(l);
    l.gr = MODE_IV;
    l.rq = MODE_IV;
    this.localPass(res, true);
    this.requestFlush(res, () => this.locks.delete(l.lkid));
    return done;
  }

  /** docs/dlm.md §5.7 item 5. */
  private cancelLock(l: DlmLock, status: "ECANCEL" | "EDEADLK" | "ETIMEDOUT"): Completion {
    if (this.tentativeState.has(l)) {
      this.afterRound.set(l, "cancel");
      return this.completion(l, 0);
    }
    if (!l.pending || l.unlocking) return this.completion(l, 0);
    const res = this.resourceOf(l);
    const published = l.ticket !== undefined;
    this.refuse(res, l, status);
    if (published) this.requestFlush(res);
    this.localPass(res, true);
    return { lkid: l.lkid, status: DlmStatus[status], sb: { ...l.sb }, mode: l.gr, lvb: l.lvb?.slice(), lvbSeq: l.lvbSeq };
  }

  private exitLock(l: DlmLock): void {
    if (l.persistent && l.gr !== MODE_IV) {
      if (l.pending) this.refuse(this.resourceOf(l), l, "ECANCEL");
      l.orphan = true;
      l.bast = undefined;
      this.requestFlush(this.resourceOf(l));
      return;
    }
    this.unlockLock(l, LKF.FORCEUNLOCK | LKF.IVVALBLK);
  }

  /** A pending operation ends without a grant: a new lock disappears, a conversion keeps its granted mode. */
  private refuse(res: DlmResource, l: DlmLock, status: DlmStatusName): void {
    if (l.flags & LKF.NOQUEUEBAST && status === "EAGAIN") this.bastBlockers(res, l);
    l.rq = MODE_IV;
    l.ticket = undefined;
    l.fresh = false;
    l.deadline = undefined;
    this.settleOp(l, DlmStatus[status]);
    if (l.gr === MODE_IV) this.forget(l);
  }

  private forget(l: DlmLock): void {
    this.resources.get(l.resourceKey)?.locks.delete(l);
    this.locks.delete(l.lkid);
  }

  // ---------------------------------------------------------------- grants and the LVB

  private applyGrant(res: DlmResource, l: DlmLock, mode: number, altMode: boolean, ctx: PassContext): void {
    const op = lvbOperation(l.gr, mode);
    if (l.flags & LKF.VALBLK || (op === "write" && l.flags & LKF.IVVALBLK)) {
      if (op === "read" && res.knownLvb) {
        l.lvb = res.knownLvb.data.slice();
        l.lvbSeq = res.knownLvb.seq;
      } else if (op === "write") {
        this.writeOwnLvb(res, l, (l.flags & LKF.IVVALBLK) !== 0);
      }
      if (l.flags & LKF.VALBLK && res.knownLvb?.invalid) l.sb.valNotValid = true;
    }
    if (ctx === "mutex" && mode >= LKM.PW && this.variant !== "lvb-seq-not-above") {
      const seen = res.knownLvb?.seq ?? 0n;
      if (res.ownLvb.epoch <= seen) res.ownLvb.epoch = seen + 1n;
    }
    l.gr = mode;
    l.rq = MODE_IV;
    l.ticket = undefined;
    l.fresh = false;
    l.deadline = undefined;
    l.highBast = 0;
    l.valblk = (l.flags & LKF.VALBLK) !== 0;
    if (altMode) l.sb.altMode = true;
  }

  /** docs/dlm.md §3.6: a W transition writes our slot's LVB with a sequence above every one seen. */
  private writeOwnLvb(res: DlmResource, l: DlmLock, invalidate: boolean): void {
    const own = res.ownLvb;
    const base = maxBigint(own.epoch, own.seq);
    own.seq = base + 1n;
    if (invalidate) own.flags |= LVB_FLAG_INVALID;
    else {
      own.flags &= ~LVB_FLAG_INVALID;
      own.data = (l.lvb ?? new Uint8Array(res.lvbLen)).slice();
    }
    const data = invalidate ? (res.knownLvb?.data ?? own.data) : own.data;
    res.knownLvb = { seq: own.seq, data: data.slice(), invalid: invalidate };
    l.lvbSeq = own.seq;
  }

  private setLvb(l: DlmLock, lvb: Uint8Array): void {
    if (lvb.length !== this.opts.lvbLen) fail("EINVAL", "unlock", `LVB buffer of ${lvb.length} bytes, lockspace lvblen ${this.opts.lvbLen}`, l.lkid);
    l.lvb = lvb.slice();
  }

  private completion(l: DlmLock, status: number): Completion {
    return { lkid: l.lkid, status, sb: { ...l.sb }, mode: l.gr, lvb: l.lvb?.slice(), lvbSeq: l.lvbSeq };
  }

  private settleOp(l: DlmLock, status: number): void {
    const settle = l.settle;
    const ast = l.ast;
    l.settle = undefined;
    l.ast = undefined;
    const c = this.completion(l, status);
    ast?.(c);
    settle?.(c);
  }

  private deliverGrant(l: DlmLock): void {
    l.lastCast = l.gr;
    this.settleOp(l, 0);
  }

  // ---------------------------------------------------------------- grant passes (docs/dlm.md §1.2 item 12, §5.4)

  /**
   * Tries the pending local locks in queue order (conversions, then new requests), restarting
   * after each grant or demotion, as the kernel's grant_pending_locks. `local`: only covered
   * grants; `precheck`: a fresh view without the mutex (refusals, demotions, covered grants);
   * `mutex`: every grant (tentative until the round's slot write completes).
   */
  private grantPass(res: DlmResource, ctx: PassContext): PassResult {
    const result: PassResult = { needMutex: false, tentative: [] };
    const demoted = new Set<DlmLock>();
    let restarts = 0;
    restart: while (restarts++ < MAX_PASS_RESTARTS) {
      const queues = res.queues(true);
      const order = [...queues.convert, ...queues.wait];
      for (const entry of order) {
        const l = this.localLockOf(res, entry);
        if (!l || this.tentativeState.has(l)) continue;
        const now = l.fresh;
        if (ctx === "local" && now) continue; // fresh locks wait for a view of every host
        const verdict = evaluateLock(entry, queues, now);
        const outcome = this.passStep(res, l, verdict, ctx, now, result, demoted);
        if (outcome === "restart") continue restart;
        if (outcome === "stop") break restart;
      }
      break;
    }
    return result;
  }

  private passStep(
    res: DlmResource,
    l: DlmLock,
    verdict: Verdict,
    ctx: PassContext,
    now: boolean,
    result: PassResult,
    demoted: Set<DlmLock>,
  ): "restart" | "next" | "stop" {
    switch (verdict.kind) {
      case "grant": {
        const withoutMutex = ctx !== "mutex" && !(ctx === "precheck" && this.variant === "grant-without-mutex");
        if (withoutMutex && !this.coveredLocally(res, l, verdict.mode, ctx === "precheck")) {
          result.needMutex = true;
          return "stop";
        }
        if (ctx === "mutex" || !withoutMutex) {
          this.tentativeState.set(l, { gr: l.gr, rq: l.rq, fresh: l.fresh, sb: { ...l.sb }, ownLvb: { ...res.ownLvb, data: res.ownLvb.data.slice() } });
          result.tentative.push(l);
          this.applyGrant(res, l, verdict.mode, verdict.altMode, "mutex");
        } else {
          this.applyGrant(res, l, verdict.mode, verdict.altMode, ctx);
          this.deliverGrant(l);
        }
        return "restart";
      }
      case "demote":
        if (demoted.has(l)) return "next";
        demoted.add(l);
        l.gr = LKM.NL;
        l.sb.demoted = true;
        return "restart";
      case "deadlock":
        if (now) {
          this.refuse(res, l, "EDEADLK");
          return "restart";
        }
        return "next";
      case "deadlock-wait":
        if (l.bast && l.highBast < l.rq) this.deliverBast(l, l.rq);
        return "next";
      case "refuse":
        this.refuse(res, l, "EAGAIN");
        return "restart";
      case "queue":
        if (l.ticket === undefined && (l.fresh || res.publishable().includes(l))) result.needMutex = true;
        return "next";
    }
  }

  private localLockOf(res: DlmResource, entry: QueueEntry): DlmLock | undefined {
    if (!entry.key.startsWith("l")) return undefined;
    const l = this.locks.get(Number(entry.key.slice(1)));
    return l && res.locks.has(l) ? l : undefined;
  }

  /** After an unlock, cancel or down-conversion: grant what is now grantable without I/O (docs/dlm.md §5.7). */
  private localPass(res: DlmResource, basts: boolean): void {
    const result = this.grantPass(res, "local");
    if (result.needMutex) this.requestRound(res);
    if (basts) this.passBasts(res);
  }

  // ---------------------------------------------------------------- BASTs (docs/dlm.md §5.9)

  private deliverBast(g: DlmLock, mode: number): void {
    g.highBast = Math.max(g.highBast, mode);
    if (!g.bast || bastSkipped(g, mode)) return;
    g.bast(mode);
  }

  /** send_blocking_asts: a lock just queued asks the granted locks that block it. */
  private bastBlockers(res: DlmResource, l: DlmLock): void {
    for (const g of res.grantedLocal()) {
      if (g === l || !g.bast || this.tentativeState.has(g)) continue;
      if (modesRequireBast(g, l.rq)) this.deliverBast(g, l.rq);
    }
  }

  /** Remote waiters seen in a view ask our granted locks once each. */
  private bastForRemote(res: DlmResource): void {
    for (const r of res.remote) {
      if (r.dead || !r.slot) continue;
      for (const p of r.slot.pending) {
        for (const g of res.grantedLocal()) {
          if (!g.bast) continue;
          const key = `${g.lkid}/${r.hostId}/${p.ticket}/${p.rq}`;
          if (res.bastedRemote.has(key)) continue;
          if (res.bastedRemote.size > 4096) res.bastedRemote.clear();
          res.bastedRemote.add(key);
          if (modesRequireBast(g, p.rq)) this.deliverBast(g, p.rq);
        }
      }
    }
  }

  /** The end of grant_pending_locks: granted locks blocking the highest waiting mode are asked. */
  private passBasts(res: DlmResource): void {
    let high = MODE_IV;
    let cw = false;
    for (const l of res.locks) {
      if (!l.pending || l.fresh || this.tentativeState.has(l)) continue;
      high = Math.max(high, l.rq);
      if (l.rq === LKM.CW) cw = true;
    }
    for (const r of res.remote) {
      if (r.dead || !r.slot) continue;
      for (const p of r.slot.pending) {
        high = Math.max(high, p.rq);
        if (p.rq === LKM.CW) cw = true;
      }
    }
    if (high === MODE_IV) return;
    for (const g of res.grantedLocal()) {
      if (g.pending || !g.bast || this.tentativeState.has(g)) continue;
      if (lockRequiresBast(g, high, cw)) {
        const mode = passBastMode(g, high, cw);
        this.deliverBast(g, mode);
        g.highBast = high;
      }
    }
  }

  // ---------------------------------------------------------------- rounds and slot writes

  private enqueue(res: DlmResource, task: () => Promise<void>): void {
    this.queuedTasks++;
    res.chain = res.chain
      .then(task)
      .catch((err: unknown) => this.log(`resource ${res.key}: ${(err as Error)?.message ?? String(err)}`))
      .finally(() => {
        this.queuedTasks--;
      });
  }

  /** Rounds and slot writes queued or running. */
  get busy(): boolean {
    return this.queuedTasks > 0;
  }

  private requestRound(res: DlmResource): void {
    if (res.roundQueued || this.stopped) return;
    res.roundQueued = true;
    this.enqueue(res, async () => {
      res.roundQueued = false;
      await this.round(res);
    });
  }

  private requestFlush(res: DlmResource, after?: () => void): void {
    if (after) res.afterFlush.push(after);
    if (res.flushQueued || this.stopped) return;
    res.flushQueued = true;
    this.enqueue(res, async () => {
      res.flushQueued = false;
      const callbacks = res.afterFlush.splice(0);
      try {
        await this.flush(res);
      } finally {
        for (const cb of callbacks) cb();
      }
    });
  }

  /** First use in this generation: find the area, read our sector, hand over an older generation's LVB. */
  private async ensureOpen(res: DlmResource): Promise<void> {
    if (res.opened) return;
    const area = this.opts.locate(res.name);
    if (!area) throw new DlmError("ENOMEM", "lock", `no lease area for resource ${res.key}`);
    res.disk ??= openDisk(this.io, res, area);
    res.areaIndex = area.index;
    const own = await readOwnSector(this.io, res);
    res.lastDblock = own.dblock;
    const old = own.slot;
    if (old && old.generation < this.opts.generation) {
      res.ownLvb = { seq: old.lvbSeq, epoch: old.lvbEpoch, flags: old.lvbFlags, data: padLvb(old.lvb, res.lvbLen) };
      const dead = deadWriterEntry(old);
      if (dead) {
        res.ownLvb.seq = dead.seq;
        res.ownLvb.flags |= LVB_FLAG_INVALID;
      }
      // Others ignore a slot of our earlier generation (docs/dlm.md §3.4): it covers nothing.
      res.possibleGrmodes = [MODE_IV];
      res.writeSeq = old.writeSeq;
    } else if (old) {
      res.possibleGrmodes = [old.grmode];
      res.writeSeq = old.writeSeq;
    }
    // From now on every write of our sector carries this slot (O1) — including the ballots of the
    // first round, which must not erase the LVB an earlier generation left in it.
    res.attempted = res.composeSlot(this.opts.generation);
    res.attemptedBytes = encodeSlot(res.attempted);
    res.opened = true;
  }

  /** Our dblock as last written is unknown after some failed acquires: read it once writes settled. */
  private async knownDblock(res: DlmResource): Promise<boolean> {
    if (res.lastDblock) return true;
    try {
      res.lastDblock = (await readOwnSector(this.io, res)).dblock;
      return true;
    } catch {
      return false;
    }
  }

  private async flush(res: DlmResource): Promise<void> {
    if (this.stopped || !res.opened) return;
    const next = res.composeSlot(this.opts.generation);
    if (sameSlotContent(res.attempted, next) && res.possibleGrmodes.length === 1) return;
    if (!(await this.knownDblock(res))) return;
    await this.writeOurSlot(res, res.lastDblock as NonNullable<typeof res.lastDblock>);
  }

  private async writeOurSlot(res: DlmResource, dblock: NonNullable<DlmResource["lastDblock"]>): Promise<boolean> {
    if (this.stopped) return false;
    const ok =
      this.variant === "overlapping-slot-writes"
        ? await this.writeWithoutSettling(res, dblock)
        : await writeSlot(this.io, res, dblock, () => res.composeSlot(this.opts.generation));
    if (!res.blocksWriters()) res.lvbCacheValid = false;
    return ok;
  }

  /** Planted bug: a slot write that does not wait for an earlier, unsettled one (breaks O6). */
  private async writeWithoutSettling(res: DlmResource, dblock: NonNullable<DlmResource["lastDblock"]>): Promise<boolean> {
    const disk = res.disk;
    if (!disk) return false;
    res.writeSeq++;
    const slot = res.composeSlot(this.opts.generation);
    res.attempted = slot;
    res.attemptedBytes = encodeSlot(slot);
    res.possibleGrmodes = [slot.grmode];
    try {
      await disk.writeOwnSlot(dblock);
      return true;
    } catch {
      return false;
    }
  }

  /** Reads a view and classifies its slots (docs/dlm.md §3.4), running recovery callbacks for newly dead hosts. */
  private async look(res: DlmResource, mutex: boolean): Promise<ResourceView> {
    const view = await readView(this.io, res, this.opts.numHosts);
    const remote: RemoteSlot[] = [];
    const newlyDead: number[] = [];
    for (const vs of view.slots) {
      if (vs.hostId === this.opts.hostId) continue;
      if (!vs.slot) {
        remote.push({ hostId: vs.hostId, slot: undefined, dead: false });
        continue;
      }
      const dead = await this.slotLiveness.isDead(vs.hostId, vs.slot.generation);
      remote.push({ hostId: vs.hostId, slot: vs.slot, dead });
      const key = `${vs.hostId}/${vs.slot.generation}`;
      if (dead && !this.recovered.has(key) && (vs.slot.grmode !== MODE_IV || vs.slot.pending.length > 0)) {
        if (this.recovered.size > 4096) this.recovered.clear();
        this.recovered.add(key);
        newlyDead.push(vs.hostId);
      }
    }
    res.remote = remote;
    this.runRecovery(newlyDead, remote);
    const entries: LvbEntry[] = [{ seq: res.ownLvb.seq, data: res.ownLvb.data, invalid: (res.ownLvb.flags & LVB_FLAG_INVALID) !== 0 }];
    for (const r of remote) {
      if (!r.slot) continue;
      entries.push(slotLvbEntry(r.slot));
      const implicit = r.dead ? deadWriterEntry(r.slot) : undefined;
      if (implicit) entries.push(implicit);
    }
    res.knownLvb = resourceLvb(entries, res.lvbLen);
    res.lvbCacheValid = mutex || res.blocksWriters();
    this.bastForRemote(res);
    return view;
  }

  /** docs/dlm.md §5.11: prep, one slot callback per dead host, done with the live members. */
  private runRecovery(newlyDead: number[], remote: RemoteSlot[]): void {
    if (newlyDead.length === 0) return;
    const cb = this.opts.recovery;
    this.log(`recovery: host(s) ${newlyDead.join(",")} dead; their slots are ignored from now on`);
    cb?.prep?.();
    for (const q of newlyDead) cb?.slot?.({ nodeId: q, slot: q });
    this.recoveryGeneration++;
    const live = remote.filter((r) => !r.dead).map((r) => ({ nodeId: r.hostId, slot: r.hostId }));
    live.push({ nodeId: this.opts.hostId, slot: this.opts.hostId });
    cb?.done?.({ slots: live.sort((a, b) => a.nodeId - b.nodeId), ourSlot: this.opts.hostId, generation: this.recoveryGeneration });
  }

  /** docs/dlm.md §5.5: pre-check, then (if anything could be granted or published) the mutex round. */
  private async round(res: DlmResource): Promise<void> {
    if (this.stopped) return;
    const clock = this.opts.clock;
    res.lastRoundAt = clock.now();
    await this.ensureOpen(res);
    if (!(await settled(this.io, res)) || !(await this.knownDblock(res))) return;
    await this.look(res, false);
    if (this.stopped) return;
    const pre = this.grantPass(res, "precheck");
    this.markQueued(res);
    if (pre.tentative.length > 0) {
      // planted bug "grant-without-mutex": grants from the pre-check view, recorded by a slot write only
      const ok = await this.writeOurSlot(res, res.lastDblock as NonNullable<typeof res.lastDblock>);
      this.finishTentative(res, pre.tentative, ok);
      return;
    }
    if (!pre.needMutex) {
      await this.flush(res);
      return;
    }
    await this.mutexRound(res);
  }

  private async mutexRound(res: DlmResource): Promise<void> {
    const clock = this.opts.clock;
    const m = await acquireMutex(this.io, res);
    if (m.kind !== "held") {
      res.backoff = m.kind === "busy" && m.wait === "owner-maybe-dead" ? 1 : Math.min(BACKOFF_MAX, res.backoff === 0 ? BACKOFF_FIRST : res.backoff * 2);
      res.retryAt = clock.now() + this.opts.random.next() * res.backoff;
      res.lastRoundAt = 0;
      await this.flush(res);
      return;
    }
    res.backoff = 0;
    res.retryAt = 0;
    const dblock = releasedDblock(m.acquired.dblock);
    let released = false;
    let tentative: DlmLock[] = [];
    let granted = false;
    try {
      if (this.variant === "free-leader-before-slot") {
        await releaseMutex(this.io, res, m.acquired);
        released = true;
      }
      await this.look(res, true);
      if (this.stopped) return;
      res.roundLver = m.acquired.leader.lver;
      tentative = this.grantPass(res, "mutex").tentative;
      for (const l of res.publishable()) if (l.ticket === undefined) l.ticket = m.acquired.leader.lver;
      this.markQueued(res);
      const ok = await this.writeOurSlot(res, dblock);
      granted = ok && tentative.length > 0;
      this.finishTentative(res, tentative, ok);
      tentative = [];
      if (!ok && !(await settled(this.io, res))) released = true; // an unsettled write keeps the mutex (O3)
    } finally {
      if (tentative.length > 0) this.finishTentative(res, tentative, false);
      if (!released && !this.stopped) await releaseMutex(this.io, res, m.acquired);
    }
    // grant_pending_locks asks the remaining blockers only after grants (docs/dlm.md §5.9)
    if (granted) this.passBasts(res);
    // The round may have published or ended waits: the host record says so now, not at the next tick.
    this.hostArea?.publish(this.waitEntries());
  }

  /** Fresh locks that a pass left waiting are now queued: they ask their local blockers (send_blocking_asts). */
  private markQueued(res: DlmResource): void {
    for (const l of res.locks) {
      if (!l.pending || !l.fresh || this.tentativeState.has(l)) continue;
      l.fresh = false;
      this.bastBlockers(res, l);
    }
  }

  /** Delivers the round's grants once their slot write completed (O2), or takes them back. */
  private finishTentative(res: DlmResource, locks: DlmLock[], written: boolean): void {
    for (const l of locks) {
      const before = this.tentativeState.get(l);
      this.tentativeState.delete(l);
      if (!before) continue;
      if (written) this.deliverGrant(l);
      else {
        l.gr = before.gr;
        l.rq = before.rq;
        l.fresh = false;
        l.sb = before.sb;
      }
      const after = this.afterRound.get(l);
      this.afterRound.delete(l);
      if (after === "exit") this.exitLock(l);
      else if (after === "cancel" && l.pending) this.cancelLock(l, "ECANCEL");
    }
    if (!written && locks.length > 0) this.requestRound(res);
  }
}

function entryOf(l: DlmLock): QueueEntry {
  return { key: `l${l.lkid}`, gr: l.gr, rq: l.rq, flags: l.flags };
}

function padLvb(lvb: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(lvb.subarray(0, len));
  return out;
}
