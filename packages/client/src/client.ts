// SanlockClient: the typed API of the Python binding (seed: sanlock 3.8.5
// pydoc), in camelCase. Each method validates its arguments with zod
// (validate.ts) — nothing is sent when they are wrong — and then runs the
// wire call from operations.ts.

import { getAlignment as alignmentOf } from "./alignment.js";
import type { CallTarget } from "./calls.js";
import { ClientArgumentError, SanlockError } from "./errors.js";
import type { EventChannel, LockspaceEvent } from "./event-channel.js";
import { Lease } from "./lease.js";
import * as ops from "./operations.js";
import { Registration } from "./registration.js";
import type { ParsedResource } from "./resource-string.js";
import { resolveSocketPath } from "./socket-path.js";
import {
  alignSchema,
  check,
  countSchema,
  disksSchema,
  hostIdOrZeroSchema,
  hostIdSchema,
  killpathPathSchema,
  lvbSchema,
  lvbSizeSchema,
  maxResources,
  nameSchema,
  pathSchema,
  pidSchema,
  sectorSchema,
  signalSchema,
  u64Schema,
  z,
  type DiskInput,
} from "./validate.js";
import { AcquireFlag, Cmd, LsFlag, REQ_GRACEFUL, ReleaseFlag, RequestForce, RestrictFlag, SetEventFlag } from "@sanlock-ts/core/wire";

export interface SanlockClientOptions {
  /** Directory of sanlock.sock; default $SANLOCK_RUN_DIR, else /run/sanlock (docs/wire.md §2.1). */
  runDir?: string;
  /** Full socket path; overrides runDir. */
  socketPath?: string;
  /** Limit for calls that do not wait by design (default 60 s; the daemon ignores malformed requests, docs/wire.md §5.4). */
  timeoutMs?: number;
}

/** Whose leases: the registered connection (Python's slkfd) or a registered pid. */
export interface OwnerOptions {
  registration?: Registration;
  pid?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

const clientOptionsSchema = z
  .object({
    runDir: z.string().min(1).optional(),
    socketPath: z.string().min(1).optional(),
    timeoutMs: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600 * 1000)
      .optional(),
  })
  .strict();

const geometry = { align: alignSchema.optional(), sector: sectorSchema.optional() };
/** Registration has a private constructor, so instanceof is checked by a custom schema. */
const registrationSchema = z.custom<Registration>((v) => v instanceof Registration, "must be a Registration from register()");
const ownerShape = { registration: registrationSchema.optional(), pid: pidSchema.optional() };

const ALIGN_FLAG: Readonly<Record<number, number>> = { 1048576: LsFlag.ALIGN1M, 2097152: LsFlag.ALIGN2M, 4194304: LsFlag.ALIGN4M, 8388608: LsFlag.ALIGN8M };
const SECTOR_FLAG: Readonly<Record<number, number>> = { 512: LsFlag.SECTOR512, 4096: LsFlag.SECTOR4K };

/** ALIGN and SECTOR flags for the sizes given; none given → 0, the daemon probes or chooses (docs/wire.md §7.17, §7.19). */
function geometryFlags(g: { align?: number | undefined; sector?: number | undefined }): number {
  return (g.align !== undefined ? (ALIGN_FLAG[g.align] ?? 0) : 0) | (g.sector !== undefined ? (SECTOR_FLAG[g.sector] ?? 0) : 0);
}

function owner(o: { registration?: Registration | undefined; pid?: number | undefined }, what: string): ops.LeaseOwner {
  if (o.registration !== undefined && o.pid !== undefined) throw new ClientArgumentError(`${what}.pid`, "give either registration or pid, not both");
  if (o.registration !== undefined) return { registration: o.registration };
  if (o.pid !== undefined) return { pid: o.pid };
  throw new ClientArgumentError(`${what}.registration`, "needs a registration (own leases) or a pid");
}

export class SanlockClient {
  readonly socketPath: string;
  private readonly timeoutMs: number;

  constructor(options: SanlockClientOptions = {}) {
    const o = check(clientOptionsSchema, options, "options");
    this.socketPath = resolveSocketPath(o);
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Target of a call that must answer promptly. */
  private quick(signal?: AbortSignal): CallTarget {
    return { socketPath: this.socketPath, timeoutMs: this.timeoutMs, signal };
  }

  /** Target of a call that waits by design (joins, acquires): only the signal ends the wait. */
  private waiting(signal?: AbortSignal): CallTarget {
    return { socketPath: this.socketPath, signal };
  }

  // ------------------------------------------------------------ registration

  /** register(): a registered connection; keep it open while holding leases (docs/wire.md §5.2). */
  async register(options: { signal?: AbortSignal } = {}): Promise<Registration> {
    const o = check(z.object({ signal: signalSchema }).strict(), options, "options");
    return Registration.open(this.socketPath, { timeoutMs: this.timeoutMs, signal: o.signal });
  }

  // ------------------------------------------------------------ lockspaces

  /** add_lockspace: join `lockspace` as `hostId`; with wait (default) until joined (≈ 2 × io_timeout). */
  async addLockspace(
    lockspace: string,
    hostId: number | bigint,
    path: string,
    options: { offset?: number | bigint; iotimeout?: number; wait?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    const o = check(
      z.object({ offset: u64Schema.optional(), iotimeout: countSchema.optional(), wait: z.boolean().optional(), signal: signalSchema }).strict(),
      options,
      "options",
    );
    const a = { lockspace: check(nameSchema, lockspace, "lockspace"), hostId: check(hostIdSchema, hostId, "hostId"), path: check(pathSchema, path, "path") };
    const wait = o.wait ?? true;
    await ops.addLockspace(wait ? this.waiting(o.signal) : this.quick(o.signal), { ...a, offset: o.offset ?? 0n, ioTimeout: o.iotimeout ?? 0, wait });
  }

  /** rem_lockspace: leave; `unused` fails with EBUSY while resources are held. */
  async remLockspace(
    lockspace: string,
    hostId: number | bigint,
    path: string,
    options: { offset?: number | bigint; wait?: boolean; unused?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    const o = check(
      z.object({ offset: u64Schema.optional(), wait: z.boolean().optional(), unused: z.boolean().optional(), signal: signalSchema }).strict(),
      options,
      "options",
    );
    const a = {
      lockspace: check(nameSchema, lockspace, "lockspace"),
      hostId: check(hostIdOrZeroSchema, hostId, "hostId"),
      path: check(pathSchema, path, "path"),
    };
    const wait = o.wait ?? true;
    await ops.remLockspace(wait ? this.waiting(o.signal) : this.quick(o.signal), { ...a, offset: o.offset ?? 0n, wait, unused: o.unused ?? false });
  }

  /** inq_lockspace: true joined, false not, null being added or removed. */
  async inqLockspace(
    lockspace: string,
    hostId: number | bigint,
    path: string,
    options: { offset?: number | bigint; wait?: boolean; signal?: AbortSignal } = {},
  ): Promise<boolean | null> {
    const o = check(z.object({ offset: u64Schema.optional(), wait: z.boolean().optional(), signal: signalSchema }).strict(), options, "options");
    const a = {
      lockspace: check(nameSchema, lockspace, "lockspace"),
      hostId: check(hostIdOrZeroSchema, hostId, "hostId"),
      path: check(pathSchema, path, "path"),
    };
    const wait = o.wait ?? false;
    return ops.inqLockspace(wait ? this.waiting(o.signal) : this.quick(o.signal), { ...a, offset: o.offset ?? 0n, wait });
  }

  /** get_lockspaces: every lockspace with flags 0, LSFLAG_ADD or LSFLAG_REM. */
  getLockspaces(): Promise<ops.LockspaceInfo[]> {
    return ops.getLockspaces(this.quick());
  }

  /** get_hosts: hosts seen alive (or one host); EAGAIN right after a join (retry). */
  async getHosts(lockspace: string, hostId: number | bigint = 0): Promise<ops.HostInfo[]> {
    return ops.getHosts(this.quick(), { lockspace: check(nameSchema, lockspace, "lockspace"), hostId: check(hostIdOrZeroSchema, hostId, "hostId") });
  }

  /** read_lockspace: the lockspace name and io timeout recorded at `path`/`offset`. */
  async readLockspace(
    path: string,
    options: { offset?: number | bigint; align?: number; sector?: number } = {},
  ): Promise<{ lockspace: string; iotimeout: number }> {
    const o = check(z.object({ offset: u64Schema.optional(), ...geometry }).strict(), options, "options");
    const r = await ops.readLockspace(this.quick(), {
      lockspace: "",
      hostId: 0n,
      path: check(pathSchema, path, "path"),
      offset: o.offset ?? 0n,
      flags: geometryFlags(o),
    });
    return { lockspace: r.lockspace, iotimeout: r.ioTimeout };
  }

  /** write_lockspace: format a lockspace area (io timeout 0 = 10 s). */
  async writeLockspace(
    lockspace: string,
    path: string,
    options: { offset?: number | bigint; maxHosts?: number; iotimeout?: number; align?: number; sector?: number } = {},
  ): Promise<void> {
    const o = check(
      z.object({ offset: u64Schema.optional(), maxHosts: countSchema.optional(), iotimeout: countSchema.optional(), ...geometry }).strict(),
      options,
      "options",
    );
    await ops.writeLockspace(this.quick(), {
      lockspace: check(nameSchema, lockspace, "lockspace"),
      path: check(pathSchema, path, "path"),
      offset: o.offset ?? 0n,
      maxHosts: o.maxHosts ?? 0,
      ioTimeout: o.iotimeout ?? 0,
      flags: geometryFlags(o),
    });
  }

  /** init_lockspace (deprecated): write_lockspace; num_hosts and use_aio are accepted and ignored, as in 3.8.5. */
  async initLockspace(
    lockspace: string,
    path: string,
    options: { offset?: number | bigint; maxHosts?: number; numHosts?: number; useAio?: boolean } = {},
  ): Promise<void> {
    const o = check(
      z.object({ offset: u64Schema.optional(), maxHosts: countSchema.optional(), numHosts: countSchema.optional(), useAio: z.boolean().optional() }).strict(),
      options,
      "options",
    );
    await this.writeLockspace(lockspace, path, { offset: o.offset ?? 0n, maxHosts: o.maxHosts ?? 0 });
  }

  // ------------------------------------------------------------ resources on disk

  /** read_resource: lockspace, resource name and version of the lease at `path`/`offset`. */
  async readResource(
    path: string,
    options: { offset?: number | bigint; align?: number; sector?: number } = {},
  ): Promise<{ lockspace: string; resource: string; version: bigint }> {
    const o = check(z.object({ offset: u64Schema.optional(), ...geometry }).strict(), options, "options");
    const r = await ops.readResource(this.quick(), {
      lockspace: "",
      resource: "",
      disks: [{ path: check(pathSchema, path, "path"), offset: o.offset ?? 0n }],
      flags: geometryFlags(o),
    });
    return { lockspace: r.lockspace, resource: r.resource, version: r.version };
  }

  /**
   * write_resource: format a resource lease. As with libsanlock 3.8.5 the
   * lease gets `maxHosts` as its num_hosts (quirk docs/wire.md §13.7); 0 = default 2000.
   */
  async writeResource(
    lockspace: string,
    resource: string,
    disks: DiskInput[],
    options: { maxHosts?: number; numHosts?: number; clear?: boolean; align?: number; sector?: number } = {},
  ): Promise<void> {
    const o = check(
      z.object({ maxHosts: countSchema.optional(), numHosts: countSchema.optional(), clear: z.boolean().optional(), ...geometry }).strict(),
      options,
      "options",
    );
    await ops.writeResource(this.quick(), {
      ...this.resourceSpec(lockspace, resource, disks),
      maxHosts: o.maxHosts ?? 0,
      numHosts: o.numHosts ?? 0,
      clear: o.clear ?? false,
      flags: geometryFlags(o),
    });
  }

  /** init_resource (deprecated): write_resource. */
  async initResource(
    lockspace: string,
    resource: string,
    disks: DiskInput[],
    options: { maxHosts?: number; numHosts?: number; useAio?: boolean } = {},
  ): Promise<void> {
    const o = check(
      z.object({ maxHosts: countSchema.optional(), numHosts: countSchema.optional(), useAio: z.boolean().optional() }).strict(),
      options,
      "options",
    );
    await this.writeResource(lockspace, resource, disks, { maxHosts: o.maxHosts ?? 0, numHosts: o.numHosts ?? 0 });
  }

  /** read_resource_owners: hosts owning the lease (exclusive owner first, then shared holders). */
  async readResourceOwners(
    lockspace: string,
    resource: string,
    disks: DiskInput[],
    options: { align?: number; sector?: number } = {},
  ): Promise<ops.HostInfo[]> {
    const o = check(z.object(geometry).strict(), options, "options");
    const r = await ops.readResourceOwners(this.quick(), { ...this.resourceSpec(lockspace, resource, disks), flags: geometryFlags(o) });
    return r.hosts;
  }

  // ------------------------------------------------------------ leases

  /**
   * acquire: take a resource lease for the registered connection or for a pid.
   * Returns a Lease; `await using lease = await client.acquire(...)` releases
   * it at the end of the scope. Waits as long as the daemon works on it.
   * Abort: on a registration the request runs on and a late success is
   * released again; for a pid the connection is closed, and (as with
   * libsanlock) the daemon may still complete the acquire — check with inquire.
   */
  async acquire(
    lockspace: string,
    resource: string,
    disks: DiskInput[],
    options: OwnerOptions & {
      shared?: boolean;
      lvb?: boolean;
      version?: number | bigint;
      numHosts?: number;
      persistent?: boolean;
      orphan?: boolean;
      ownerNowait?: boolean;
      /** sanlk_options.owner_name: the name `client status` shows for the holder (libvirt sends the domain name). */
      ownerName?: string;
      signal?: AbortSignal;
    } = {},
  ): Promise<Lease> {
    const o = check(
      z
        .object({
          ...ownerShape,
          shared: z.boolean().optional(),
          lvb: z.boolean().optional(),
          version: u64Schema.optional(),
          numHosts: countSchema.optional(),
          persistent: z.boolean().optional(),
          orphan: z.boolean().optional(),
          ownerNowait: z.boolean().optional(),
          ownerName: nameSchema.optional(),
          signal: signalSchema,
        })
        .strict(),
      options,
      "options",
    );
    const who = owner(o, "options");
    const spec = this.resourceSpec(lockspace, resource, disks);
    const shared = o.shared ?? false;
    const flags = (o.lvb ? AcquireFlag.LVB : 0) | (o.orphan ? AcquireFlag.ORPHAN : 0) | (o.ownerNowait ? AcquireFlag.OWNER_NOWAIT : 0);
    await ops.acquire(this.waiting(o.signal), who, [{ ...spec, shared, version: o.version, numHosts: o.numHosts, persistent: o.persistent ?? false }], flags, {
      ownerName: o.ownerName,
    });
    return new Lease(this.quick(), who, spec, shared);
  }

  /** acquire of several leases at once (≤ 8), all or nothing. */
  async acquireMany(
    resources: { lockspace: string; resource: string; disks: DiskInput[]; shared?: boolean; version?: number | bigint }[],
    options: OwnerOptions & { signal?: AbortSignal; ownerName?: string } = {},
  ): Promise<Lease[]> {
    const o = check(z.object({ ...ownerShape, signal: signalSchema, ownerName: nameSchema.optional() }).strict(), options, "options");
    const list = check(
      z
        .array(
          z
            .object({ lockspace: z.string(), resource: z.string(), disks: z.array(z.unknown()), shared: z.boolean().optional(), version: u64Schema.optional() })
            .strict(),
        )
        .min(1)
        .max(maxResources),
      resources,
      "resources",
    );
    const who = owner(o, "options");
    const specs = list.map((r, i) => ({
      ...this.resourceSpec(r.lockspace, r.resource, r.disks as DiskInput[], `resources.${i}.`),
      shared: r.shared ?? false,
      version: r.version,
      persistent: false,
    }));
    await ops.acquire(this.waiting(o.signal), who, specs, 0, { ownerName: o.ownerName });
    return specs.map((s) => new Lease(this.quick(), who, s, s.shared));
  }

  /**
   * release: give up a lease held by the registration or pid. `renameTo` (sanlock's
   * SANLK_REL_RENAME) writes that resource name into the leader as the lease is freed on disk.
   */
  async release(lockspace: string, resource: string, disks: DiskInput[], options: OwnerOptions & { renameTo?: string } = {}): Promise<void> {
    const o = check(z.object({ ...ownerShape, renameTo: nameSchema.optional() }).strict(), options, "options");
    const spec = this.resourceSpec(lockspace, resource, disks);
    if (o.renameTo === undefined) {
      await ops.release(this.quick(), owner(o, "options"), [spec], 0);
      return;
    }
    await ops.release(this.quick(), owner(o, "options"), [spec, { ...spec, resource: o.renameTo }], ReleaseFlag.RENAME);
  }

  /** convert: switch a held lease between shared and exclusive. */
  async convert(
    lockspace: string,
    resource: string,
    disks: DiskInput[],
    options: OwnerOptions & { shared?: boolean; ownerNowait?: boolean } = {},
  ): Promise<void> {
    const o = check(z.object({ ...ownerShape, shared: z.boolean().optional(), ownerNowait: z.boolean().optional() }).strict(), options, "options");
    await ops.convert(this.quick(), owner(o, "options"), this.resourceSpec(lockspace, resource, disks), {
      shared: o.shared ?? false,
      ownerNowait: o.ownerNowait ?? false,
    });
  }

  /** inquire: the leases held by the registration or pid. */
  /**
   * RELEASE of several leases at once, by name (the daemon needs no disks): what libvirt sends
   * for a domain's leases by pid. One not held makes the daemon answer EPERM; the others are released.
   */
  async releaseMany(resources: { lockspace: string; resource: string }[], options: OwnerOptions = {}): Promise<void> {
    const o = check(z.object(ownerShape).strict(), options, "options");
    const list = check(
      z
        .array(z.object({ lockspace: nameSchema, resource: nameSchema }).strict())
        .min(1)
        .max(maxResources),
      resources,
      "resources",
    );
    await ops.release(
      this.quick(),
      owner(o, "options"),
      list.map((r) => ({ ...r, disks: [] })),
      0,
    );
  }

  /** INQUIRE as the daemon's state string, verbatim (what libvirt's lock state is); "" when nothing is held. */
  async inquireState(options: OwnerOptions = {}): Promise<string> {
    const o = check(z.object(ownerShape).strict(), options, "options");
    const { result, state } = await ops.inquireRaw(this.quick(), owner(o, "options"));
    if (result < 0) throw new SanlockError(Cmd.INQUIRE, result);
    return state;
  }

  async inquire(options: OwnerOptions = {}): Promise<ParsedResource[]> {
    const o = check(z.object(ownerShape).strict(), options, "options");
    return ops.inquire(this.quick(), owner(o, "options"));
  }

  /** request: ask the owner to release (REQ_GRACEFUL, default) or be killed (REQ_FORCE). */
  async request(lockspace: string, resource: string, disks: DiskInput[], options: { action?: number; version?: number | bigint } = {}): Promise<void> {
    const o = check(
      z
        .object({
          action: z.union([z.literal(RequestForce.NONE), z.literal(RequestForce.FORCE), z.literal(RequestForce.GRACEFUL)]).optional(),
          version: u64Schema.optional(),
        })
        .strict(),
      options,
      "options",
    );
    await ops.request(this.quick(), { ...this.resourceSpec(lockspace, resource, disks), action: o.action ?? REQ_GRACEFUL, version: o.version });
  }

  /** killpath: the program the daemon runs instead of SIGTERM for this registration. */
  async killpath(path: string, args: string[], options: { registration: Registration; appendPid?: boolean }): Promise<void> {
    const o = check(z.object({ registration: registrationSchema, appendPid: z.boolean().optional() }).strict(), options, "options");
    const p = check(killpathPathSchema, path, "path");
    const argv = check(z.array(z.string().refine((s) => !s.includes("\0"), "must not contain NUL")).max(64), args, "args");
    const joined = argv.map((a) => a.replace(/[\\ ]/g, (c) => `\\${c}`)).join(" ");
    if (new TextEncoder().encode(joined).byteLength > 127) throw new ClientArgumentError("args", "joined arguments exceed 127 bytes");
    await ops.killpath(this.quick(), o.registration, { path: p, args: argv, appendPid: o.appendPid ?? false });
  }

  /** restrict: RESTRICT_* bits for the registered connection. */
  async restrict(registration: Registration, flags: number): Promise<void> {
    check(registrationSchema, registration, "registration");
    const allBits = RestrictFlag.ALL | RestrictFlag.SIGKILL | RestrictFlag.SIGTERM;
    const f = check(
      z
        .number()
        .int()
        .min(0)
        .refine((v) => (v & ~allBits) === 0, "unknown RESTRICT bits"),
      flags,
      "flags",
    );
    await ops.restrict(this.quick(), registration, f);
  }

  /** set_lvb: the lock value block written when the (ACQUIRE_LVB) lease is released. */
  async setLvb(lockspace: string, resource: string, disks: DiskInput[], data: Uint8Array): Promise<void> {
    await ops.setLvb(this.quick(), this.resourceSpec(lockspace, resource, disks), check(lvbSchema, data, "data"));
  }

  /** get_lvb: the first `size` bytes of the lock value block. */
  async getLvb(lockspace: string, resource: string, disks: DiskInput[], size: number): Promise<Uint8Array> {
    return ops.getLvb(this.quick(), this.resourceSpec(lockspace, resource, disks), check(lvbSizeSchema, size, "size"));
  }

  // ------------------------------------------------------------ events

  /** reg_event: an event channel for `lockspace`; read it with getEvent or channel.next(). */
  async regEvent(lockspace: string): Promise<EventChannel> {
    return ops.regEvent(this.quick(), check(nameSchema, lockspace, "lockspace"));
  }

  /** get_event: the events received on the channel so far (never waits). */
  getEvent(channel: EventChannel): LockspaceEvent[] {
    return channel.take();
  }

  /** end_event: unregister the channel. */
  async endEvent(channel: EventChannel, lockspace: string): Promise<void> {
    await ops.endEvent(this.quick(), channel, check(nameSchema, lockspace, "lockspace"));
  }

  /** set_event: post (event, data) to host_id (or all hosts) through our delta lease. */
  async setEvent(
    lockspace: string,
    hostId: number | bigint,
    generation: number | bigint,
    event: number | bigint,
    options: { data?: number | bigint; flags?: number } = {},
  ): Promise<void> {
    const allBits = Object.values(SetEventFlag).reduce((a, b) => a | b, 0);
    const o = check(
      z
        .object({
          data: u64Schema.optional(),
          flags: z
            .number()
            .int()
            .min(0)
            .refine((v) => (v & ~allBits) === 0, "unknown SETEV bits")
            .optional(),
        })
        .strict(),
      options,
      "options",
    );
    await ops.setEvent(this.quick(), {
      lockspace: check(nameSchema, lockspace, "lockspace"),
      hostId: check(hostIdSchema, hostId, "hostId"),
      generation: check(u64Schema, generation, "generation"),
      event: check(u64Schema, event, "event"),
      data: o.data ?? 0n,
      flags: o.flags ?? 0,
    });
  }

  // ------------------------------------------------------------ daemon

  /** get_alignment: default lease alignment of the device at `path` (no daemon involved). */
  async getAlignment(path: string): Promise<number> {
    return alignmentOf(check(pathSchema, path, "path"));
  }

  /** ALIGN: the daemon's alignment for `path` (what libsanlock's sanlock_align asks), in bytes. */
  async align(path: string): Promise<number> {
    return ops.align(this.quick(), check(pathSchema, path, "path"));
  }

  /** The daemon's state: daemon, clients, lockspaces, resources (STATUS). */
  status(): Promise<ops.DaemonStatus> {
    return ops.status(this.quick());
  }

  /** The daemon's version ("3.8.5") and socket protocol. */
  version(): Promise<{ daemonVersion: number; protocol: number; versionString: string }> {
    return ops.version(this.quick());
  }

  private resourceSpec(lockspace: string, resource: string, disks: DiskInput[], prefix = ""): ops.ResourceSpec {
    return {
      lockspace: check(nameSchema, lockspace, `${prefix}lockspace`),
      resource: check(nameSchema, resource, `${prefix}resource`),
      disks: check(disksSchema, disks, `${prefix}disks`),
    };
  }
}
