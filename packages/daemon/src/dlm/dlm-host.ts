/**
 * What a DLM lockspace needs from this daemon (core's LockspaceHost, docs/dlm.md §5.2): the volume
 * header, the sanlock lockspace joined through the daemon's own LockspaceSet (one delta lease,
 * renewed by the renewal worker, watched by the watchdog like any other), the engine on its own
 * O_DIRECT device, and the resource directory.
 */
import { createHash } from "node:crypto";
import { PaxosLease, RINDEX_LEASE_NAME, decodeLeader, detectGeometry, geometryFor, type Geometry } from "@sanlock-ts/core";
import {
  DlmEngine,
  ResourceDirectory,
  encodeHostRecord,
  readVolumeHeader,
  type JoinedLockspace,
  type LockspaceHeader,
  type LockspaceHost,
  type RecoveryCallbacks,
} from "@sanlock-ts/core/dlm";
import { DAEMON_CLOCK, DAEMON_RANDOM } from "../daemon-clock.js";
import { openDirectDevice, type DirectDevice } from "../device/index.js";
import type { LockspaceSet } from "../lockspaces/lockspace-set.js";
import type { Lockspace } from "../lockspaces/lockspace.js";

/** Where a DLM lockspace's volume is, and our host_id in it (from the first create's request). */
export interface DlmVolume {
  readonly path: string;
  readonly offset: number;
  readonly hostId: number;
}

/** A DLM lockspace joined here: what the service needs beyond the engine. */
export interface DlmJoin {
  readonly name: string;
  readonly volume: DlmVolume;
  readonly header: LockspaceHeader;
  readonly lockspace: Lockspace;
  readonly engine: DlmEngine;
  readonly directory: ResourceDirectory;
}

export interface DlmHostOptions {
  readonly lockspaces: LockspaceSet;
  readonly hostName: string;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
  /** The volume of `name`, set by a create request before the join. */
  volumeOf(name: string): DlmVolume | undefined;
  /** Recovery callbacks of the lockspace's handles (docs/dlm.md §5.11). */
  recoveryOf(name: string): RecoveryCallbacks;
  /** Our DLM lockspace failed or was left: its processes go (docs/dlm.md §5.11). */
  heldByDlm(name: string): boolean;
}

/** Bytes read to find a volume's geometry: the delta leader's fields (docs/ondisk.md §4). */
const PROBE_BYTES = 4096;
/** Deadline of the header read before the join (the lockspace's own io_timeout is not known yet). */
const PROBE_TIMEOUT_MS = 10_000;
/** A removal started elsewhere is looked at this often, at most this many times (10 minutes). */
const LEAVE_POLL_SECONDS = 0.2;
const LEAVE_WAIT_POLLS = 3000;

export class DaemonDlmHost implements LockspaceHost {
  private readonly joins = new Map<string, DlmJoin>();
  /** What ends a join without leaving: the engine's poll loop and its device. */
  private readonly teardowns = new Map<string, () => void>();

  constructor(private readonly opts: DlmHostOptions) {}

  joined(name: string): DlmJoin | undefined {
    return this.joins.get(name);
  }

  all(): DlmJoin[] {
    return [...this.joins.values()];
  }

  /** Our lockspace failed (docs/dlm.md §5.11): the engine stops; the daemon leaves the sanlock lockspace itself. */
  forget(name: string): void {
    this.teardowns.get(name)?.();
    this.teardowns.delete(name);
    this.joins.delete(name);
  }

  async readHeader(name: string): Promise<LockspaceHeader | undefined> {
    const volume = this.opts.volumeOf(name);
    if (volume === undefined) return undefined;
    const probe = await this.probe(volume);
    return probe?.header;
  }

  /** Geometry, io_timeout and DLM header of a volume; undefined when there is no DLM volume there. */
  private async probe(volume: DlmVolume): Promise<{ header: LockspaceHeader; geometry: Geometry; ioTimeout: number } | undefined> {
    const device = await openDirectDevice(volume.path, { ioTimeoutMs: PROBE_TIMEOUT_MS });
    try {
      const first = await device.read(volume.offset, PROBE_BYTES);
      const detected = detectGeometry(first);
      if (detected === undefined) return undefined;
      const leader = decodeLeader(first, 0, { kind: "delta", at: volume.offset });
      const header = await readVolumeHeader(device, volume.offset, detected).catch(() => undefined);
      if (header === undefined) return undefined;
      return { header, geometry: geometryFor(header.sectorSize, header.alignSize), ioTimeout: leader.ioTimeout };
    } finally {
      await device.close().catch(() => undefined);
    }
  }

  async join(name: string, header: LockspaceHeader): Promise<JoinedLockspace> {
    const volume = this.opts.volumeOf(name);
    if (volume === undefined) throw new Error(`no volume known for ${name}`);
    if (volume.hostId < 1 || volume.hostId > header.numHosts) throw new Error(`host_id ${volume.hostId} is not 1..${header.numHosts}`);
    const probe = await this.probe(volume);
    if (probe === undefined) throw new Error(`${volume.path}:${volume.offset} holds no DLM volume`);
    const { lockspace, added } = await this.joinSanlock(name, volume, probe.ioTimeout);
    const geometry = probe.geometry;
    const device = await openDirectDevice(volume.path, { ioTimeoutMs: lockspace.spec.ioTimeout * 1000, sectorSize: geometry.sectorSize });
    const host = lockspace.paxosHost();
    const directory = new ResourceDirectory({
      device,
      header,
      geometry,
      hostId: volume.hostId,
      sha256: (bytes) => new Uint8Array(createHash("sha256").update(bytes).digest()),
      underIndexLease: (work) => underIndexLease(lockspace, device, header, geometry, work),
    });
    const engine = new DlmEngine({
      lockspace: name,
      hostId: volume.hostId,
      generation: host.generation,
      ioTimeout: host.ioTimeout,
      clock: DAEMON_CLOCK,
      random: DAEMON_RANDOM,
      liveness: host.liveness,
      readDeltaRecord: (id) => host.readDeltaRecord(id),
      device,
      geometry,
      numHosts: header.numHosts,
      lvbLen: header.lvbLen,
      pollMs: header.pollMs,
      locate: (resource) => directory.cached(resource),
      recovery: this.opts.recoveryOf(name),
      hostArea: { offset: Number(header.hostAreaOffset), lockspaceId: header.lockspaceId },
      log: (text) => this.opts.log("debug", `dlm ${name}: ${text}`),
    });
    const stop = new AbortController();
    void engine.run(stop.signal);
    lockspace.heldByDlm = () => this.opts.heldByDlm(name);
    const join: DlmJoin = { name, volume, header, lockspace, engine, directory };
    this.joins.set(name, join);
    this.teardowns.set(name, () => {
      stop.abort();
      engine.stop();
      void device.close().catch(() => undefined);
    });
    this.opts.log("info", `dlm lockspace ${name} joined host_id ${volume.hostId} generation ${host.generation}`);
    return {
      engine,
      leave: async (force) => {
        stop.abort();
        this.joins.delete(name);
        this.teardowns.delete(name);
        // docs/dlm.md §5.2 step 5: our host record empty before the delta release (skipped with force).
        if (!force) await writeHostRecord(device, header, volume.hostId, 0n, 2).catch(() => undefined);
        lockspace.heldByDlm = undefined;
        // A lockspace joined through sanlock's socket before stays: its REM_LOCKSPACE is its owner's.
        if (added) await this.leaveSanlock(lockspace);
        await device.close().catch(() => undefined);
        this.opts.log("info", `dlm lockspace ${name} left${force ? " (force)" : ""}`);
      },
    };
  }

  /** add_lockspace through the daemon (docs/dlm.md §5.2 step 2); a lockspace joined already is used as it is. */
  private async joinSanlock(name: string, volume: DlmVolume, ioTimeout: number): Promise<{ lockspace: Lockspace; added: boolean }> {
    const set = this.opts.lockspaces;
    const existing = set.active(name);
    if (existing !== undefined) {
      if (existing.spec.hostId !== volume.hostId || existing.spec.path !== volume.path) {
        throw new Error(`lockspace ${name} is joined as host_id ${existing.spec.hostId} on ${existing.spec.path}`);
      }
      return { lockspace: existing, added: false };
    }
    const started = set.add({ name, hostId: volume.hostId, path: volume.path, offset: BigInt(volume.offset), ioTimeout, hostName: this.opts.hostName });
    if (started.result !== 0 || started.done === undefined) throw new Error(`add_lockspace ${name}: ${started.result}`);
    const result = await started.done;
    const ls = set.active(name);
    if (result !== 0 || ls === undefined || ls.state !== "live") throw new Error(`add_lockspace ${name}: ${result}`);
    return { lockspace: ls, added: true };
  }

  /** rem_lockspace (docs/dlm.md §5.2 step 5); one already under way (EINPROGRESS) is waited for. */
  private async leaveSanlock(ls: Lockspace): Promise<void> {
    const set = this.opts.lockspaces;
    const removal = set.remove({ name: ls.name, hostId: ls.spec.hostId, path: ls.spec.path, offset: ls.spec.offset }, false);
    if (removal.done !== undefined) {
      await removal.done;
      return;
    }
    for (let i = 0; i < LEAVE_WAIT_POLLS && set.anyList(ls.name) === ls; i++) await DAEMON_CLOCK.sleep(LEAVE_POLL_SECONDS);
  }
}

/** Runs `work` holding the rindex's internal lease (docs/dlm.md §5.3 step 2, docs/ondisk.md §8.3). */
async function underIndexLease<T>(ls: Lockspace, device: DirectDevice, header: LockspaceHeader, geometry: Geometry, work: () => Promise<T>): Promise<T> {
  const lease = new PaxosLease(ls.paxosHost(), { resource: RINDEX_LEASE_NAME, device, offset: Number(header.rindexOffset) + geometry.alignSize });
  await lease.acquire();
  try {
    return await work();
  } finally {
    await lease.release().catch(() => undefined);
  }
}

/**
 * Our host record (docs/dlm.md §4.3, §5.2 step 3): the generation we joined with and no wait
 * entries or notices. Hints only: nothing reads it for a safety decision.
 */
async function writeHostRecord(device: DirectDevice, header: LockspaceHeader, hostId: number, generation: bigint, seq: number): Promise<void> {
  const sector = new Uint8Array(header.sectorSize);
  sector.set(encodeHostRecord({ generation, hostId, seq, lockspaceId: header.lockspaceId, hintAddress: "", waits: [], notices: [] }));
  await device.write(Number(header.hostAreaOffset) + (hostId - 1) * header.sectorSize, sector);
}
