/**
 * The daemon's lockspaces: the add / active / rem lists (docs/wire.md §8.1), ADD / REM / INQ
 * (docs/wire.md §7.2, §7.3, §7.15, §8.2), SET_CONFIG (docs/wire.md §7.29), the event channels (docs/wire.md §8.4), and the
 * LockspaceHooks the server uses (GET_LOCKSPACES, STATUS, shutdown, client gone).
 *
 * Leaving a lockspace (removal, recovery, forced shutdown) follows docs/algorithms.md §7.2 / §7.11 rules 5-6:
 * holders are asked to go through the `killHolders` hook; only when no client holds a lease
 * in it (and neither USED nor, with USED_BY_ORPHANS, an orphan keeps it) does it move to the
 * rem list and write its delta release.
 */
import { Errno, LsFlag, StateType, disk, type SanlkLockspace, type StateRecord } from "@sanlock-ts/core/wire";
import { DEFAULT_IO_TIMEOUT, MAX_HOST_ID, SanlkResult, type BlockDevice, type Notification } from "@sanlock-ts/core";
import type { Connection } from "../connection.js";
import type { LockspaceHooks } from "../status.js";
import type { ResourceManager } from "../resources/resource-manager.js";
import type { Token } from "../resources/tokens.js";
import { DAEMON_CLOCK } from "../daemon-clock.js";
import { EventChannels } from "./event-channels.js";
import { publish } from "../diagnostics.js";
import { Lockspace, type LockspaceSpec } from "./lockspace.js";
import type { Watchdog } from "../watchdog/watchdog.js";

/** The removal loop's first look comes a second after the request, as sanlock's main loop (docs/wire.md §8.2). */
export const REMOVAL_CHECK_SECONDS = 1;
/**
 * While it is killing holders it looks every 0.2 s, as sanlock's main loop does while a lockspace's
 * clients are being killed (RECOVERY_CHECK_INTERVAL): a holder that exits is seen, and the lockspace
 * released, within 0.2 s. Kill attempts stay at most one per second per process (kill-policy.ts).
 */
export const KILLING_CHECK_SECONDS = 0.2;
/**
 * A lockspace that left stays on the rem list until the first whole second after it entered it
 * at which its delta release is done: sanlock's main loop frees it (free_lockspaces) at its next
 * once-a-second check after the lockspace thread wrote the release and exited. Until then INQ
 * answers EINPROGRESS and GET_LOCKSPACES flags it REM (docs/wire.md §8.2). Not on forced shutdown: sanlock's
 * main loop ends there as soon as the active list is empty and joins the threads at once.
 */
export const REM_FREE_CHECK_SECONDS = 1;
/** Bound on lockspaces known at once (memory). */
export const MAX_LOCKSPACES = 1024;
/** INQ_WAIT re-checks once per second; bounded so a stuck add cannot hold a worker forever. */
const MAX_INQ_WAIT_CHECKS = 3600;

export type ListName = "add" | "spaces" | "rem";

/** Why holders are asked to go: removal/shutdown → SIGKILL; recovery → graceful first (docs/wire.md §8.1). */
export type KillReason = "remove" | "recovery";

export interface LockspaceSetOptions {
  readonly resources: ResourceManager;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
  /**
   * Asks the holders of a failing or removed lockspace to go (docs/algorithms.md §7.3: killpath or SIGTERM during
   * the grace period, then SIGKILL; engine.ts). Called every 0.2-1 s while holders remain.
   */
  killHolders?(ls: Lockspace, holders: readonly Token[], reason: KillReason): void;
  /** Opens host_id disks (tests); default O_DIRECT. */
  openDevice?(path: string, ioTimeout: number): Promise<BlockDevice>;
  /** Examine request records of held leases (docs/algorithms.md §6.2, EXAMINE docs/wire.md §7.13): the owner side of REQUEST. */
  examineRequests?(ls: Lockspace, resourceName?: string): void;
  /** The daemon's watchdog (-w): every joined lockspace registers its expiry (docs/algorithms.md §7.5). */
  readonly watchdog?: Watchdog;
  /** Told when a lockspace enters recovery, before its holders are asked to go (the embedded daemon's in-process holders). */
  lockspaceFailed?(ls: Lockspace, reason: string): void;
}

interface Entry {
  readonly ls: Lockspace;
  list: ListName;
  /** Resolves when a join finishes (0 or its failure result). */
  joined?: Promise<number>;
  /** Resolves when the lockspace is gone. */
  removed?: Promise<void>;
}

export interface LockspaceMatch {
  readonly name: string;
  readonly hostId: number;
  readonly path: string;
  readonly offset: bigint;
}

export class LockspaceSet implements LockspaceHooks {
  readonly events = new EventChannels();
  private readonly entries: Entry[] = [];
  private nextSpaceId = 1;
  /** Set by removeAll (forced shutdown): removals skip the rem list's free check. */
  private shuttingDown = false;

  constructor(private readonly options: LockspaceSetOptions) {}

  get resources(): ResourceManager {
    return this.options.resources;
  }

  // ---- lookups

  /** The active lockspace named `name` (removal may be requested), if any. */
  active(name: string): Lockspace | undefined {
    return this.entries.find((e) => e.list === "spaces" && e.ls.name === name)?.ls;
  }

  private findExact(match: LockspaceMatch): Entry | undefined {
    return this.entries.find(
      (e) =>
        e.ls.name === match.name &&
        e.ls.spec.path === match.path &&
        e.ls.spec.offset === match.offset &&
        (match.hostId === 0 || e.ls.spec.hostId === match.hostId),
    );
  }

  /** Any list: HOST_STATUS / RENEWAL accept adding and removing lockspaces too (docs/wire.md §7.14). */
  anyList(name: string): Lockspace | undefined {
    return this.entries.find((e) => e.ls.name === name)?.ls;
  }

  // ---- ADD_LOCKSPACE (docs/wire.md §7.2)

  /** Checks and starts a join; `done` resolves with the join's result. */
  add(spec: LockspaceMatch & { ioTimeout: number; hostName: string; historySize?: number }): { result: number; done?: Promise<number> } {
    if (spec.name === "" || spec.hostId < 1 || spec.path === "") return { result: -Errno.EINVAL };
    // A host_id no area can hold: the join's check answers SANLK_ADDLS_INVALID_HOSTID (recorded).
    if (spec.hostId > MAX_HOST_ID) return { result: 0, done: Promise.resolve(SanlkResult.ADDLS_INVALID_HOSTID) };
    const clash = this.addClash(spec);
    if (clash !== 0) return { result: clash };
    if (this.entries.length >= MAX_LOCKSPACES) return { result: -Errno.ENOMEM };
    const ioTimeout = spec.ioTimeout === 0 ? DEFAULT_IO_TIMEOUT : spec.ioTimeout;
    if (ioTimeout > 255) return { result: -Errno.EINVAL };
    const full: LockspaceSpec = {
      name: spec.name,
      hostId: spec.hostId,
      path: spec.path,
      offset: spec.offset,
      ioTimeout,
      ...(spec.historySize !== undefined ? { historySize: spec.historySize } : {}),
    };
    const ls = new Lockspace(full, this.nextSpaceId++, {
      hostName: spec.hostName,
      onRecovery: (failed, reason) => {
        publish("lockspaceFailed", () => ({ lockspace: failed.name, hostId: failed.spec.hostId, reason, lastRenewal: failed.renewal.lastSuccess }));
        this.options.lockspaceFailed?.(failed, reason);
        void this.startRemoval(failed, "recovery");
      },
      watchdog: this.options.watchdog,
      onNotifications: (from, notes) => this.onNotifications(from, notes),
      log: this.options.log,
      ...(this.options.openDevice ? { openDevice: this.options.openDevice } : {}),
    });
    const entry: Entry = { ls, list: "add" };
    this.entries.push(entry);
    entry.joined = ls.join().then((result) => {
      if (result === 0 && ls.state === "live") {
        entry.list = "spaces";
        publish("lockspaceJoined", () => ({
          lockspace: ls.name,
          hostId: ls.spec.hostId,
          generation: ls.generation,
          ioTimeout: ls.spec.ioTimeout,
          path: ls.spec.path,
        }));
        if (ls.removeRequested) this.startRemoval(ls, "remove");
      } else {
        this.drop(entry);
      }
      return result;
    });
    return { result: 0, done: entry.joined };
  }

  /** docs/wire.md §7.2: same lockspace again → EEXIST / EINPROGRESS / EAGAIN; name or disk used otherwise → EINVAL. */
  private addClash(spec: LockspaceMatch): number {
    for (const e of this.entries) {
      const s = e.ls.spec;
      const sameDisk = s.path === spec.path && s.offset === spec.offset;
      if (e.ls.name === spec.name && sameDisk && s.hostId === spec.hostId) {
        if (e.list === "add") return -Errno.EINPROGRESS;
        if (e.list === "rem") return -Errno.EAGAIN;
        return -Errno.EEXIST;
      }
      if (e.ls.name === spec.name || sameDisk) return -Errno.EINVAL;
    }
    return 0;
  }

  // ---- REM_LOCKSPACE (docs/wire.md §7.3)

  remove(match: LockspaceMatch, unusedOnly: boolean): { result: number; done?: Promise<void> } {
    const entry = this.findExact(match);
    if (entry === undefined) return { result: -Errno.ENOENT };
    if (entry.list === "rem" || entry.ls.removeRequested) return { result: -Errno.EINPROGRESS };
    if (unusedOnly && this.options.resources.lockspaceInUse(entry.ls.name)) return { result: -Errno.EBUSY };
    entry.ls.removeRequested = true;
    if (entry.list === "add") {
      entry.ls.abortJoin();
      const joined = entry.joined ?? Promise.resolve(-1);
      return { result: 0, done: joined.then(() => this.whenGone(entry)) };
    }
    return { result: 0, done: this.startRemoval(entry.ls, "remove") };
  }

  private whenGone(entry: Entry): Promise<void> {
    return entry.removed ?? Promise.resolve();
  }

  /** Begins leaving (idempotent): kill holders, wait for them, then the delta release. */
  private startRemoval(ls: Lockspace, reason: KillReason): Promise<void> {
    const entry = this.entries.find((e) => e.ls === ls);
    if (entry === undefined) return Promise.resolve();
    entry.removed ??= this.runRemoval(entry, reason);
    return entry.removed;
  }

  private async runRemoval(entry: Entry, reason: KillReason): Promise<void> {
    const { ls } = entry;
    const resources = this.options.resources;
    // docs/algorithms.md §7.11 rule 5: wait until every holder's connection has closed (and USED is cleared).
    // Like sanlock's main loop, the first look comes a second after the request: until
    // then the lockspace stays in the active list (INQ answers 0, docs/wire.md §8.2). That look only starts
    // the kill (sanlock's killing_pids, also with nobody to kill); the move to the rem list
    // comes at a later look that finds no holder, the next one 0.2 s on.
    let interval = REMOVAL_CHECK_SECONDS;
    let started = false;
    for (;;) {
      await DAEMON_CLOCK.sleep(interval);
      const holders = resources.lockspaceHolders(ls.name, ls.usedByOrphans);
      const unheld = holders.length === 0 && !ls.externalUsed && !resources.lockspaceReleasing(ls.name) && !(ls.heldByDlm?.() ?? false);
      if (unheld && started) {
        this.options.log("info", `s${ls.spaceId} all pids clear`);
        break;
      }
      if (!started) this.options.log("info", `s${ls.spaceId} set killing_pids check 0 remove ${reason === "remove" ? 1 : 0}`);
      started = true;
      ls.killingPids = true; // sanlock's main loop sets space_dead and killing_pids with that log line
      const live = holders.filter((t) => t.conn !== undefined);
      const killing = live.length > 0 && this.options.killHolders !== undefined;
      if (killing) this.options.killHolders?.(ls, live, ls.state === "recovery" ? "recovery" : reason);
      interval = killing || unheld ? KILLING_CHECK_SECONDS : REMOVAL_CHECK_SECONDS;
    }
    resources.forgetLockspace(ls.name);
    entry.list = "rem";
    const remSince = DAEMON_CLOCK.now();
    this.events.closeAll(ls.name);
    // docs/algorithms.md §7.11 rule 6: the delta release only after the holders are gone (Lockspace.leave checks the last attempt).
    await ls.leave();
    if (!this.shuttingDown) {
      const onRem = DAEMON_CLOCK.now() - remSince;
      const freeAt = Math.max(1, Math.ceil(onRem / REM_FREE_CHECK_SECONDS)) * REM_FREE_CHECK_SECONDS;
      await DAEMON_CLOCK.sleep(Math.max(0, freeAt - onRem));
    }
    this.drop(entry);
    this.options.log("info", `s${ls.spaceId} free lockspace`);
    this.options.log("info", `lockspace ${ls.name}:${ls.spec.hostId} removed`);
    publish("lockspaceLeft", () => ({ lockspace: ls.name, hostId: ls.spec.hostId, reason: ls.recoveryReason === "" ? reason : "recovery" }));
  }

  private drop(entry: Entry): void {
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
  }

  // ---- INQ_LOCKSPACE (docs/wire.md §7.15)

  inquire(match: LockspaceMatch): number {
    const entry = this.findExact(match);
    if (entry === undefined) return -Errno.ENOENT;
    return entry.list === "spaces" ? 0 : -Errno.EINPROGRESS;
  }

  async inquireWait(match: LockspaceMatch): Promise<number> {
    for (let i = 0; i < MAX_INQ_WAIT_CHECKS; i++) {
      const result = this.inquire(match);
      if (result !== -Errno.EINPROGRESS) return result;
      await DAEMON_CLOCK.sleep(1);
    }
    return -Errno.EINPROGRESS;
  }

  // ---- notifications and events

  private onNotifications(ls: Lockspace, notes: readonly Notification[]): void {
    this.events.deliver(ls.name, ls.spec.hostId, notes);
    if (notes.some((note) => note.examineRequests)) this.examine(ls);
  }

  /** Looks for requests against the leases held in `ls` (all, or the named one). */
  examine(ls: Lockspace, resourceName?: string): void {
    this.options.examineRequests?.(ls, resourceName);
  }

  // ---- LockspaceHooks

  count(): number {
    return this.entries.length;
  }

  /** Order active, rem, add with LSF flags (docs/wire.md §7.21). */
  list(): SanlkLockspace[] {
    const order: [ListName, number][] = [
      ["spaces", 0],
      ["rem", LsFlag.REM],
      ["add", LsFlag.ADD],
    ];
    return order.flatMap(([list, flags]) => this.entries.filter((e) => e.list === list).map((e) => toWire(e.ls, flags)));
  }

  /** SET_CONFIG (docs/wire.md §7.29). */
  setConfig(name: string, command: number): number {
    const ls = this.active(name);
    if (ls === undefined) return -Errno.ENOENT;
    const failing = ls.state !== "live";
    switch (command) {
      case 1:
        if (failing) return -Errno.ENOSPC;
        ls.externalUsed = true;
        return 0;
      case 2:
        ls.externalUsed = false;
        return 0;
      case 4:
        if (failing) return -Errno.ENOSPC;
        ls.usedByOrphans = true;
        return 0;
      case 8:
        ls.usedByOrphans = false;
        return 0;
      default:
        return -Errno.EINVAL;
    }
  }

  statusRecords(includeResources: boolean): StateRecord[] {
    const records: StateRecord[] = [];
    for (const list of ["spaces", "add", "rem"] as const) {
      for (const e of this.entries.filter((x) => x.list === list)) {
        records.push({
          type: StateType.LOCKSPACE,
          flags: 0,
          data32: 0,
          data64: BigInt(e.ls.spec.hostId),
          name: e.ls.name,
          str: `list=${list} ${e.ls.stateFields()}`,
          lockspace: toWire(e.ls, 0),
        });
      }
    }
    if (includeResources) records.push(...this.resourceRecords());
    return records;
  }

  private resourceRecords(): StateRecord[] {
    const records: StateRecord[] = [];
    // sanlock lists the newest resource first.
    for (const resource of this.options.resources.tokens.all().reverse()) {
      const list = resource.state === "held" ? "held" : resource.state === "acquiring" ? "add" : "rem";
      const lver = resource.lease.leader?.lver ?? 0n;
      const geometry = shownGeometry(resource.lease.disk);
      for (const token of resource.tokens.length > 0 ? resource.tokens : [undefined]) {
        const orphan = token !== undefined && token.conn === undefined;
        records.push({
          type: StateType.RESOURCE,
          flags: 0,
          data32: token?.pid ?? 0,
          data64: lver,
          name: resource.name,
          str:
            `list=${orphan ? "orphan" : list} flags=${resource.shared ? 1 : 0} sector_size=${geometry.sectorSize} ` +
            `align_size=${geometry.alignSize} lver=${lver} reused=0 res_id=${resource.resId} token_id=${token?.tokenId ?? 0}`,
          resource: {
            lockspaceName: resource.lockspace,
            name: resource.name,
            lver: 0n,
            data64: 0n,
            data32: 0,
            unused: 0,
            flags: resource.shared ? 4 : 0,
            numDisks: resource.disks.length,
            disks: resource.disks.map((d) => disk(d.path, d.offset)),
          },
        });
      }
    }
    return records;
  }

  /** Forced shutdown (docs/wire.md §8.3): remove every lockspace; resolves when all are gone. */
  async removeAll(): Promise<void> {
    this.shuttingDown = true;
    const pending: Promise<unknown>[] = [];
    for (const entry of [...this.entries]) {
      entry.ls.removeRequested = true;
      if (entry.list === "add") {
        entry.ls.abortJoin();
        pending.push(entry.joined ?? Promise.resolve());
      } else {
        pending.push(this.startRemoval(entry.ls, "remove"));
      }
    }
    await Promise.allSettled(pending);
  }

  clientGone(conn: Connection): void {
    this.options.resources.clientGone(conn);
  }
}

function toWire(ls: Lockspace, flags: number): SanlkLockspace {
  return { name: ls.name, hostId: BigInt(ls.spec.hostId), flags, hostIdDisk: disk(ls.spec.path, ls.spec.offset) };
}

/**
 * A resource's sector and align size for STATUS: 0 and 0 until a read of its leader confirmed
 * them, as sanlock's resource, which is zeroed until acquire_disk returns (resource.c). The area's
 * `geometry` throws before that read, and STATUS must answer while an acquire waits for its disk.
 */
function shownGeometry(area: { readonly geometry: { readonly sectorSize: number; readonly alignSize: number } }): { sectorSize: number; alignSize: number } {
  try {
    return area.geometry;
  } catch {
    return { sectorSize: 0, alignSize: 0 };
  }
}
