/**
 * Resource leases on behalf of local clients: acquire (all or nothing), release, convert,
 * inquire, orphans and the background release (docs/wire.md §7.7-§7.9, §7.24, §7.25;
 * docs/algorithms.md §5.6, §7.1, §7.7, §7.8, §7.11).
 *
 * Local rules first, without disk I/O (docs/algorithms.md §5.6): being acquired here → −EBUSY, being released
 * → −EAGAIN, held exclusively (or exclusive wanted while held shared) → −EEXIST, an orphan
 * not adopted → −EUCLEAN. A lease is linked to a client only if, after the disk acquire, its
 * lockspace is still live with the same host_id and generation and the client is still
 * there (docs/algorithms.md §7.11 rule 3); otherwise it is released again.
 */
import { AcquireFlag, Errno, ResFlag, type SanlkResource } from "@sanlock-ts/core/wire";
import { PaxosLease, type LeaseMode } from "@sanlock-ts/core";
import type { Connection } from "../connection.js";
import { SHARED_DEVICE_MAX_IN_FLIGHT, openDirectDevice, type DirectDevice } from "../device/index.js";
import type { LeaseLockspace } from "./lease-lockspace.js";
import { DaemonResultError, resultOfAny } from "../results.js";
import { modeOf, probeLeaseOperation, type LeaseOperationProbe } from "./lease-diagnostics.js";
import { acquireTrace, logAcquireBegin, logAcquireDone, logReleaseBegin, logReleaseDone } from "./lease-log.js";
import { lockspaceGeometry } from "./lease-geometry.js";
import { BackgroundReleaser } from "./background-release.js";
import { SharedLeaseDevices } from "./lease-devices.js";
import { useResourceDisks, type ResourceDisksUse } from "./resource-disks.js";
import { MAX_HELD_RESOURCES, MAX_TOKENS_PER_CLIENT, TokenTable, type HeldResource, type Token } from "./tokens.js";

export interface ResourceManagerDeps {
  /** The lockspace instance named `name` in the active list, if any. */
  activeLockspace(name: string): LeaseLockspace | undefined;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
}

export interface AcquireRequest {
  readonly resources: readonly SanlkResource[];
  /** ACQUIRE cmd_flags (docs/wire.md §4.12). */
  readonly flags: number;
}

const fail = (result: number, message: string): DaemonResultError => new DaemonResultError(result, message);

export class ResourceManager {
  readonly tokens = new TokenTable();
  /** One device per lease path, shared by the resources on it (lease-devices.ts). */
  readonly devices = new SharedLeaseDevices(openSharedLeaseDevice);
  private readonly releaser: BackgroundReleaser;
  private nextResId = 1;

  constructor(private readonly deps: ResourceManagerDeps) {
    this.releaser = new BackgroundReleaser({
      drop: (resource) => this.drop(resource),
      lockspaceFailed: (resource) => this.lockspaceFailed(resource),
      log: deps.log,
    });
  }

  /** ACQUIRE (docs/wire.md §7.7): 0 or the first failure; earlier leases of the request are released again. */
  async acquire(target: Connection, request: AcquireRequest): Promise<number> {
    if (this.tokens.clientCount(target) + request.resources.length > MAX_TOKENS_PER_CLIENT) return -Errno.E2BIG;
    const acquired: Token[] = [];
    for (const res of request.resources) {
      const what = { lockspace: res.lockspaceName, resource: res.name, mode: modeOf((res.flags & ResFlag.SHARED) !== 0), pid: target.pid };
      const probe = probeLeaseOperation("acquire", what);
      try {
        acquired.push(await this.acquireOne(target, res, request.flags, probe));
        probe?.done(0);
      } catch (error) {
        probe?.done(resultOfAny(error));
        for (const token of acquired.reverse()) await this.releaseToken(token);
        return resultOfAny(error);
      }
    }
    return 0;
  }

  private async acquireOne(target: Connection, res: SanlkResource, flags: number, probe?: LeaseOperationProbe): Promise<Token> {
    const ls = this.deps.activeLockspace(res.lockspaceName);
    if (ls === undefined || ls.state !== "live" || ls.removeRequested) throw fail(-Errno.ENOSPC, `lockspace ${res.lockspaceName} not joined`);
    const host = ls.paxosHost();
    const first = res.disks[0];
    if (first === undefined) throw fail(-Errno.ERANGE, `resource ${res.name} has no disk`);
    const shared = (res.flags & ResFlag.SHARED) !== 0;
    const persistent = (res.flags & ResFlag.PERSISTENT) !== 0;
    const local = this.tokens.get(res.lockspaceName, res.name);
    if (local !== undefined) return this.acquireLocal(target, local, shared, persistent, flags);
    if (this.tokens.isReserved(res.lockspaceName, res.name)) throw fail(-Errno.EBUSY, `${res.name} is being acquired on this host`);
    if (flags & AcquireFlag.ORPHAN_ONLY) throw fail(-Errno.ENOENT, `no orphan ${res.lockspaceName}:${res.name}`);

    // Claimed before the first await, so a concurrent local acquire sees −EBUSY (docs/algorithms.md §5.6).
    if (!this.tokens.reserve(res.lockspaceName, res.name)) throw fail(-Errno.EBUSY, `${res.name} is being acquired on this host`);
    const disks = res.disks.map((d) => ({ path: d.path, offset: d.offset }));
    let deviceUse: ResourceDisksUse;
    try {
      deviceUse = await useResourceDisks(this.devices, disks, leaseIoTimeoutMs(ls.spec.ioTimeout));
    } catch (error) {
      this.tokens.unreserve(res.lockspaceName, res.name);
      throw error;
    }
    const geometry = lockspaceGeometry(ls);
    const [firstDevice, ...otherDevices] = deviceUse.devices;
    probe?.watch(deviceUse.opened);
    const lease = new PaxosLease(host, {
      resource: res.name,
      device: firstDevice!,
      offset: Number(first.offset),
      ...geometry,
      ...(otherDevices.length > 0 ? { otherDisks: otherDevices.map((device, i) => ({ device, offset: Number(disks[i + 1]!.offset), ...geometry })) } : {}),
    });
    const resource: HeldResource = {
      lockspace: res.lockspaceName,
      name: res.name,
      disks,
      lease,
      deviceUse,
      shared,
      state: "acquiring",
      lvb: (flags & AcquireFlag.LVB) !== 0,
      tokens: [],
      generation: host.generation,
      resId: this.nextResId++,
    };
    try {
      this.tokens.insert(resource);
    } catch (error) {
      this.tokens.unreserve(res.lockspaceName, res.name);
      await deviceUse.release();
      throw error;
    }
    logAcquireBegin(this.deps.log, ls.spaceId, resource);
    try {
      await lease.acquire({
        shared,
        ...(res.flags & ResFlag.LVER ? { requiredLver: res.lver } : {}),
        ...(res.flags & ResFlag.NUM_HOSTS && res.data32 > 0 ? { numHosts: res.data32 } : {}),
        ownerNoWait: (flags & AcquireFlag.OWNER_NOWAIT) !== 0,
        lvb: resource.lvb,
        trace: acquireTrace(this.deps.log, ls.spaceId, resource),
      });
    } catch (error) {
      logAcquireDone(this.deps.log, ls.spaceId, resource, resultOfAny(error));
      this.tokens.remove(resource);
      await deviceUse.release();
      throw error;
    }
    logAcquireDone(this.deps.log, ls.spaceId, resource, 0);
    return this.linkAfterAcquire(target, resource, ls, persistent);
  }

  /** docs/algorithms.md §7.11 rule 3: link only if the lockspace instance and the client are unchanged. */
  private async linkAfterAcquire(target: Connection, resource: HeldResource, ls: LeaseLockspace, persistent: boolean): Promise<Token> {
    const lsUsable = ls.isUsable(ls.spec.hostId, resource.generation) && this.deps.activeLockspace(ls.name) === ls;
    if (!lsUsable || target.isClosed || target.pidDead) {
      resource.state = "releasing";
      await this.releaser.release(resource);
      throw fail(lsUsable ? -Errno.ENOTTY : -Errno.ENOSPC, `resource ${resource.name}: ${lsUsable ? "client died" : "lockspace failed"} during acquire`);
    }
    resource.state = "held";
    return this.tokens.link(resource, target, persistent);
  }

  /** docs/algorithms.md §5.6 / §7.8: the resource is already known on this host. */
  private acquireLocal(target: Connection, local: HeldResource, shared: boolean, persistent: boolean, flags: number): Token {
    if (local.state === "acquiring") throw fail(-Errno.EBUSY, `${local.name} is being acquired on this host`);
    if (local.state === "releasing") throw fail(-Errno.EAGAIN, `${local.name} is being released on this host`);
    const orphan = local.tokens.find((t) => t.conn === undefined);
    if (orphan !== undefined) {
      if (!(flags & (AcquireFlag.ORPHAN | AcquireFlag.ORPHAN_ONLY)) || local.shared !== shared) {
        throw fail(-Errno.EUCLEAN, `${local.name} exists as an orphan`);
      }
      return this.adoptOrphan(target, orphan);
    }
    if (flags & AcquireFlag.ORPHAN_ONLY) throw fail(-Errno.ENOENT, `no orphan ${local.lockspace}:${local.name}`);
    if (!local.shared || !shared) throw fail(-Errno.EEXIST, `${local.name} is held on this host`);
    if (local.tokens.some((t) => t.conn === target)) throw fail(-Errno.EEXIST, `${local.name} already held by this client`);
    // Another local shared holder: same on-disk shared mark, no disk I/O (docs/algorithms.md §5.6).
    return this.tokens.link(local, target, persistent);
  }

  private adoptOrphan(target: Connection, orphan: Token): Token {
    const resource = orphan.resource;
    this.tokens.unlink(orphan);
    return this.tokens.link(resource, target, orphan.persistent);
  }

  /**
   * RELEASE of named leases (docs/wire.md §7.8): 0, or −1 if one was not held by the target (the others
   * are still released), or the first release error.
   */
  async releaseNamed(target: Connection, names: readonly SanlkResource[], renameTo?: string): Promise<number> {
    let result = 0;
    for (const res of names) {
      const token = this.tokens.clientTokens(target).find((t) => t.resource.lockspace === res.lockspaceName && t.resource.name === res.name);
      if (token === undefined) {
        result = result === 0 ? -Errno.EPERM : result;
        continue;
      }
      // Only the release that frees the leader writes the new name (a shared lease, or one still
      // held by another local holder, keeps its leader as it is: sanlock renames in the leader write).
      if (renameTo !== undefined) token.resource.renameTo = renameTo;
      const released = await this.releaseToken(token);
      if (released < 0 && result === 0) result = released;
    }
    return result;
  }

  /** REL_ALL: every lease of the target. */
  async releaseAll(target: Connection): Promise<number> {
    let result = 0;
    for (const token of [...this.tokens.clientTokens(target)]) {
      const released = await this.releaseToken(token);
      if (released < 0 && result === 0) result = released;
    }
    return result;
  }

  /** REL_ORPHAN: orphans named (or all of the lockspace when the name is empty), queued; returns the count. */
  releaseOrphans(lockspace: string, name: string): number {
    const orphans = this.tokens.orphans().filter((t) => t.resource.lockspace === lockspace && (name === "" || t.resource.name === name));
    for (const orphan of orphans) {
      if (!this.tokens.unlink(orphan)) void this.releaseInBackground(orphan.resource);
    }
    return orphans.length;
  }

  /** Drops one holder; the last holder releases the lease on disk (docs/algorithms.md §4.8 / §5.3). */
  private async releaseToken(token: Token): Promise<number> {
    const resource = token.resource;
    // Already dropped (the client went away meanwhile, docs/wire.md §5.7): its release is under way.
    if (!resource.tokens.includes(token)) return 0;
    if (this.tokens.unlink(token)) return 0;
    resource.state = "releasing";
    return this.releaseOnDisk(resource, token.pid);
  }

  private async releaseInBackground(resource: HeldResource): Promise<void> {
    resource.state = "releasing";
    await this.releaseOnDisk(resource, 0);
  }

  /** The release by the last holder (`pid`, 0 for a client gone or an orphan), observed for diagnostics. */
  private async releaseOnDisk(resource: HeldResource, pid: number): Promise<number> {
    const probe = probeLeaseOperation("release", { lockspace: resource.lockspace, resource: resource.name, mode: modeOf(resource.shared), pid });
    probe?.watch(resource.deviceUse.opened);
    const spaceId = this.deps.activeLockspace(resource.lockspace)?.spaceId;
    const heldLeader = logReleaseBegin(this.deps.log, spaceId, resource, pid === 0);
    const result = await this.releaser.release(resource);
    logReleaseDone(this.deps.log, spaceId, resource, pid === 0, heldLeader, result);
    probe?.done(result);
    return result;
  }

  /** A registered client's connection closed (docs/wire.md §5.7): release its leases, or orphan persistent ones. */
  clientGone(conn: Connection): void {
    for (const token of [...this.tokens.clientTokens(conn)]) {
      if (token.persistent) {
        this.tokens.orphan(token);
        continue;
      }
      if (!this.tokens.unlink(token)) void this.releaseInBackground(token.resource);
    }
  }

  /** CONVERT (docs/wire.md §7.25): 0, −ENOENT not held by the target, −EALREADY same mode, or the acquire error. */
  async convert(target: Connection, res: SanlkResource, ownerNoWait: boolean): Promise<number> {
    const token = this.tokens.clientTokens(target).find((t) => t.resource.lockspace === res.lockspaceName && t.resource.name === res.name);
    if (token === undefined) return -Errno.ENOENT;
    const resource = token.resource;
    const to: LeaseMode = res.flags & ResFlag.SHARED ? "shared" : "exclusive";
    if (resource.lease.mode === to) return -Errno.EALREADY;
    // Other local shared holders share the on-disk mark: an exclusive conversion would take it from them.
    if (to === "exclusive" && resource.tokens.length > 1) return -Errno.EAGAIN;
    const ls = this.deps.activeLockspace(resource.lockspace);
    if (ls === undefined || !ls.isUsable(ls.spec.hostId, resource.generation)) return -Errno.ENOSPC;
    const probe = probeLeaseOperation("convert", { lockspace: resource.lockspace, resource: resource.name, mode: modeOf(to === "shared"), pid: target.pid });
    probe?.watch(resource.deviceUse.opened);
    try {
      await resource.lease.convert(to, { ownerNoWait, trace: acquireTrace(this.deps.log, ls.spaceId, resource) });
    } catch (error) {
      probe?.done(resultOfAny(error));
      return resultOfAny(error);
    }
    probe?.done(0);
    (resource as { shared: boolean }).shared = to === "shared";
    return 0;
  }

  /** SET_LVB (docs/wire.md §7.24): held on this host with ACQUIRE_LVB. */
  setLvb(lockspace: string, name: string, data: Uint8Array): number {
    const resource = this.tokens.get(lockspace, name);
    if (resource === undefined || resource.state !== "held") return -Errno.ENOENT;
    if (!resource.lvb) return -Errno.EINVAL;
    try {
      resource.lease.setLvb(data);
    } catch (error) {
      return error instanceof RangeError ? -Errno.E2BIG : resultOfAny(error);
    }
    return 0;
  }

  /** GET_LVB (docs/wire.md §7.24): the in-memory copy, `size` bytes (0 → one sector). */
  getLvb(lockspace: string, name: string, size: number): { result: number; data?: Uint8Array } {
    const resource = this.tokens.get(lockspace, name);
    if (resource === undefined || resource.state !== "held") return { result: -Errno.ENOENT };
    if (!resource.lvb) return { result: -Errno.EINVAL };
    const sector = resource.lease.getLvb();
    const wanted = size === 0 ? sector.length : size;
    if (wanted > sector.length) return { result: -Errno.E2BIG };
    return { result: 0, data: sector.subarray(0, wanted) };
  }

  /** Whether any resource of the lockspace is in use (REM_UNUSED −EBUSY, docs/wire.md §7.3; orphans count). */
  lockspaceInUse(lockspace: string): boolean {
    return this.tokens.inLockspace(lockspace).length > 0;
  }

  /** Holders still linked to live clients in the lockspace (they must be gone before leaving, docs/algorithms.md §7.11 rule 5). */
  lockspaceHolders(lockspace: string, includeOrphans: boolean): Token[] {
    return this.tokens.inLockspace(lockspace).flatMap((r) => r.tokens.filter((t) => t.conn !== undefined || includeOrphans));
  }

  /** Releases pending on disk for the lockspace (they finish or drop before the delta release). */
  lockspaceReleasing(lockspace: string): boolean {
    return this.tokens.inLockspace(lockspace).some((r) => r.state !== "held");
  }

  /** Lockspace gone: orphans are forgotten without disk I/O (docs/algorithms.md §7.8). */
  forgetLockspace(lockspace: string): void {
    for (const resource of this.tokens.inLockspace(lockspace)) {
      if (resource.tokens.every((t) => t.conn === undefined) && resource.state === "held") this.drop(resource);
    }
  }

  private lockspaceFailed(resource: HeldResource): boolean {
    const ls = this.deps.activeLockspace(resource.lockspace);
    return ls === undefined || !ls.isUsable(ls.spec.hostId, resource.generation);
  }

  private drop(resource: HeldResource): void {
    this.tokens.remove(resource);
    void resource.deviceUse.release();
  }
}

/**
 * Every resource lease on one path shares one device (lease-devices.ts): more in-flight slots
 * than a private device (parallel acquires), and as many waiting I/Os as held resources can
 * have (each runs one I/O at a time, plus one REQUEST examine), so a burst of releases waits
 * for slots within its deadline instead of failing at once.
 */
async function openSharedLeaseDevice(path: string, ioTimeoutMs: number): Promise<DirectDevice> {
  return openDirectDevice(path, { ioTimeoutMs, maxInFlight: SHARED_DEVICE_MAX_IN_FLIGHT, maxWaiting: 2 * MAX_HELD_RESOURCES });
}

/** The lease's I/O deadline from the lockspace's io_timeout N: 4N + 10 s, at most 600 s. */
function leaseIoTimeoutMs(ioTimeout: number): number {
  return Math.min(600_000, (ioTimeout * 4 + 10) * 1000);
}
