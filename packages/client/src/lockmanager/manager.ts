// The per-operation lock manager of one domain (docs/lockmanager.md §2.2–§2.7): resources recorded
// by addResource, then one of acquire, release, inquire, and free. libvirt makes a fresh one for
// every operation; so do the helpers in domain-lock.ts.

import { Cmd, MAX_RESOURCES, NAME_LEN, PATH_LEN, ResFlag, RestrictFlag } from "@sanlock-ts/core/wire";
import { SanlockError } from "../errors.js";
import { type AcquireSpec, acquire, inquireRaw, killpath, release, restrict } from "../operations.js";
import { Registration } from "../registration.js";
import type { ParsedResource } from "../resource-string.js";
import { DISKS_LOCKSPACE, diskLeaseFilePath, diskLeaseName } from "./disk-lease.js";
import type { SanlockLockDriver } from "./driver.js";
import { LockManagerError, LockManagerErrorCode, fromClientFailure } from "./errors.js";
import { type LockFailureAction, checkSupportedAction, killpathFor } from "./killpath-args.js";
import { ensureDiskLeaseFile } from "./lease-files.js";
import { parseLockState } from "./lock-state.js";

export type ResourceType = "disk" | "lease";
export interface ResourceFlags {
  readonly?: boolean;
  shared?: boolean;
}

export interface DomainParams {
  /** 36-character text form or the 16 raw bytes. */
  uuid: string | Uint8Array;
  name: string;
  id?: number;
  /** The supervised process: the workload that registers, or the target of pid calls. */
  pid: number;
  uri?: string;
}

/** Parameters of a <lease>: where it lives and in which lockspace. */
export interface LeaseParams {
  path: string;
  offset?: bigint | number;
  lockspace?: string;
}

export interface NormalizedParams {
  uuid: string;
  name: string;
  id: number;
  pid: number;
  uri: string;
}

export interface AcquireOptions {
  /** The state string of a previous release or inquire; checked, then (in libvirt mode) not used. */
  state?: string | null;
  /** Register (and restrict) only; leases are taken later by pid. */
  registerOnly?: boolean;
  /** RESTRICT_ALL the registered connection once the leases are held. */
  restrict?: boolean;
  action?: LockFailureAction;
  signal?: AbortSignal;
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_BYTES = 16;

/** virUUIDFormat: 36 lowercase characters 8-4-4-4-12. */
export function formatUuid(uuid: string | Uint8Array): string {
  if (typeof uuid === "string") {
    const text = uuid.toLowerCase();
    if (!UUID_TEXT.test(text)) throw invalidArg(`uuid '${uuid}' is not 8-4-4-4-12 hex digits`);
    return text;
  }
  if (uuid.length !== UUID_BYTES) throw invalidArg(`uuid has ${uuid.length} bytes, not ${UUID_BYTES}`);
  const hex = Buffer.from(uuid).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function invalidArg(message: string): LockManagerError {
  return new LockManagerError(LockManagerErrorCode.INVALID_ARG, "INVALID_ARG", message);
}

export function normalizeParams(p: DomainParams): NormalizedParams {
  if (!Number.isSafeInteger(p.pid) || p.pid <= 0) throw invalidArg(`pid ${p.pid} is not a process id`);
  if (typeof p.name !== "string" || p.name === "") throw invalidArg("the domain needs a name");
  return { uuid: formatUuid(p.uuid), name: p.name, id: p.id ?? 0, pid: p.pid, uri: p.uri ?? "" };
}

/** virStrcpy into a buffer of `size`: refused when the text does not fit with its NUL. */
function fits(text: string, size: number): boolean {
  return Buffer.byteLength(text) < size;
}

/** The first 47 bytes of the domain name: sanlk_options.owner_name (docs/lockmanager.md §2.4 step 3). */
export function ownerNameOf(name: string): string {
  const bytes = Buffer.from(name, "utf8");
  if (bytes.length < NAME_LEN) return name;
  let end = NAME_LEN - 1;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--; // never cut a UTF-8 sequence
  return bytes.subarray(0, end).toString("utf8");
}

export class DomainLockManager implements Disposable {
  private readonly specs: AcquireSpec[] = [];
  private hasRWDisks = false;
  private isRegistered: boolean;
  private freed = false;

  constructor(
    readonly driver: SanlockLockDriver,
    readonly params: Readonly<NormalizedParams>,
    registered: boolean,
  ) {
    this.isRegistered = registered;
  }

  /** Whether the daemon knows params.pid as a registered process (probed at creation or set by acquire). */
  get registered(): boolean {
    return this.isRegistered;
  }

  /** The resources acquire will take, in the order they were added. */
  get resources(): readonly Readonly<AcquireSpec>[] {
    return this.specs;
  }

  /**
   * Records a disk or a lease (docs/lockmanager.md §2.3). A read-only resource records nothing; a
   * disk with automatic leases gets its MD5-named lease (its file created now when missing).
   */
  async addResource(type: ResourceType, name: string, params?: LeaseParams, flags: ResourceFlags = {}, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.checkLive();
    const unknownFlag = Object.keys(flags).find((k) => k !== "readonly" && k !== "shared");
    if (unknownFlag !== undefined)
      throw new LockManagerError(LockManagerErrorCode.INVALID_FLAGS, "INVALID_ARG", `unsupported flags (${unknownFlag}) in function addResource`);
    if (this.specs.length === MAX_RESOURCES)
      throw new LockManagerError(LockManagerErrorCode.TOO_MANY_RESOURCES, "INTERNAL_ERROR", `Too many resources ${MAX_RESOURCES} for object`);
    if (flags.readonly) return;
    const shared = flags.shared ?? false;
    if (type === "disk") return this.addDisk(name, params, shared, options.signal);
    if (type === "lease") return this.addLease(name, params, shared);
    throw new LockManagerError(
      LockManagerErrorCode.UNSUPPORTED_TYPE,
      "INTERNAL_ERROR",
      `Unknown lock manager object type ${String(type)} for domain lock object`,
    );
  }

  private async addDisk(path: string, params: LeaseParams | undefined, shared: boolean, signal: AbortSignal | undefined): Promise<void> {
    const config = this.driver.config;
    if (!config.autoDiskLeases) {
      if (!shared) this.hasRWDisks = true;
      return;
    }
    if (params !== undefined) throw new LockManagerError(LockManagerErrorCode.DISK_PARAMS, "INTERNAL_ERROR", "Unexpected lock parameters for disk resource");
    const resource = diskLeaseName(path);
    const leasePath = diskLeaseFilePath(config.diskLeaseDir, path);
    if (!fits(leasePath, PATH_LEN))
      throw new LockManagerError(LockManagerErrorCode.NAME_TOO_LONG, "INTERNAL_ERROR", `Lease path '${leasePath}' exceeds ${PATH_LEN} characters`);
    await ensureDiskLeaseFile(leasePath, resource, shared, config, this.driver.target(signal));
    this.specs.push({ lockspace: DISKS_LOCKSPACE, resource, disks: [{ path: leasePath, offset: 0n }], shared, persistent: false });
  }

  private addLease(key: string, params: LeaseParams | undefined, shared: boolean): void {
    if (!fits(key, NAME_LEN))
      throw new LockManagerError(LockManagerErrorCode.NAME_TOO_LONG, "INTERNAL_ERROR", `Resource name '${key}' exceeds ${NAME_LEN} characters`);
    const lockspace = params?.lockspace ?? "";
    if (!fits(lockspace, NAME_LEN))
      throw new LockManagerError(LockManagerErrorCode.NAME_TOO_LONG, "INTERNAL_ERROR", `Resource lockspace '${lockspace}' exceeds ${NAME_LEN} characters`);
    const path = params?.path ?? "";
    if (!fits(path, PATH_LEN))
      throw new LockManagerError(LockManagerErrorCode.NAME_TOO_LONG, "INTERNAL_ERROR", `Lease path '${path}' exceeds ${PATH_LEN} characters`);
    const offset = BigInt(params?.offset ?? 0);
    if (offset < 0n) throw invalidArg(`lease offset ${offset} is negative`);
    this.specs.push({ lockspace, resource: key, disks: [{ path, offset }], shared, persistent: false });
  }

  /**
   * Takes the recorded leases (docs/lockmanager.md §2.4). In the supervised process itself
   * (params.pid = this process) it registers first and returns the registration, which must stay
   * open for as long as the leases are needed; for another pid it acquires on its behalf when that
   * pid is registered, and does nothing when it is not.
   */
  async acquire(options: AcquireOptions = {}): Promise<{ registration: Registration | null }> {
    this.checkLive();
    const action = options.action ?? "default";
    if (this.specs.length === 0 && this.hasRWDisks && this.driver.config.requireLeaseForDisks) {
      throw new LockManagerError(
        LockManagerErrorCode.NO_LEASES,
        "CONFIG_UNSUPPORTED",
        "Read/write, exclusive access, disks were present, but no leases specified",
      );
    }
    // libvirt registers whenever pid = getpid(); its libvirtd never is the workload. A Node process
    // that is its own workload registers once (processStart) and is then served by pid, like QEMU.
    if (this.params.pid === process.pid && !this.isRegistered) return { registration: await this.acquireAsWorkload(action, options) };
    if (!this.isRegistered) return { registration: null };
    if (options.restrict) throw new LockManagerError(LockManagerErrorCode.RESTRICT, "SYSTEM_ERROR", "Failed to restrict process: Bad file descriptor");
    const stateLeases = parseLockState(options.state);
    if (!options.registerOnly) await this.acquireFor({ pid: this.params.pid }, stateLeases, options.signal);
    return { registration: null };
  }

  /** The registering branch: REGISTER, KILLPATH, ACQUIRE on the registered connection, RESTRICT. */
  private async acquireAsWorkload(action: LockFailureAction, options: AcquireOptions): Promise<Registration> {
    checkSupportedAction(action); // before REGISTER: libvirt registers, then fails; nothing visible differs
    const killpathSpec = action === "default" ? null : killpathFor(this.driver.killpathHelper, this.params.uri, this.params.uuid, action);
    const stateLeases = parseLockState(options.state);
    let registration: Registration;
    try {
      registration = await Registration.open(this.driver.socketPath, this.driver.target(options.signal));
    } catch (err) {
      throw fromClientFailure(LockManagerErrorCode.REGISTER, "Failed to open socket to sanlock daemon", err);
    }
    try {
      if (killpathSpec !== null) {
        await killpath(this.driver.target(options.signal), registration, {
          path: killpathSpec.path,
          args: [...killpathSpec.argv],
          appendPid: killpathSpec.appendPid,
        }).catch((err: unknown) => {
          throw fromClientFailure(LockManagerErrorCode.KILLPATH, "Failed to register lock failure action", err);
        });
      }
      this.isRegistered = true;
      if (!options.registerOnly) await this.acquireFor({ registration }, stateLeases, options.signal);
      if (options.restrict) {
        await restrict(this.driver.target(options.signal), registration, RestrictFlag.ALL).catch((err: unknown) => {
          throw fromClientFailure(LockManagerErrorCode.RESTRICT, "Failed to restrict process", err);
        });
      }
      return registration;
    } catch (err) {
      await registration.close();
      throw err;
    }
  }

  private async acquireFor(
    owner: { registration: Registration } | { pid: number },
    stateLeases: ParsedResource[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (this.specs.length === 0) return;
    if ("registration" in owner && owner.registration.restricted) {
      throw new LockManagerError(LockManagerErrorCode.RESTRICT, "SYSTEM_ERROR", "Failed to acquire lock: the registered connection is restricted");
    }
    const specs = this.driver.options.stateVersionCheck === "lver" ? withStateVersions(this.specs, stateLeases) : this.specs;
    try {
      await acquire(this.driver.waitingTarget(signal), owner, specs, 0, { ownerName: ownerNameOf(this.params.name) });
    } catch (err) {
      throw fromClientFailure(LockManagerErrorCode.ACQUIRE, "Failed to acquire lock", err, "RESOURCE_BUSY");
    }
  }

  /**
   * Releases the recorded leases of params.pid (docs/lockmanager.md §2.5). With `wantState` the
   * state (INQUIRE by pid) is returned and only the recorded leases the pid holds are released
   * (quirk Q4); without it, all recorded ones (one not held fails with EPERM, the others go).
   */
  async release(options: { wantState?: boolean; signal?: AbortSignal } = {}): Promise<string | null> {
    this.checkLive();
    if (!this.isRegistered) return null;
    let state: string | null = null;
    let toRelease: AcquireSpec[] = this.specs;
    if (options.wantState) {
      state = await this.inquireState(options.signal);
      const held = new Set(parseLockState(state).map((r) => `${r.lockspace}\0${r.resource}`));
      toRelease = this.specs.filter((s) => held.has(`${s.lockspace}\0${s.resource}`));
    }
    if (toRelease.length === 0) return state;
    try {
      await release(this.driver.target(options.signal), { pid: this.params.pid }, toRelease, 0);
    } catch (err) {
      throw fromClientFailure(LockManagerErrorCode.RELEASE, "Failed to release lock", err);
    }
    return state;
  }

  /** The state string of params.pid's leases; null when none are held or the pid is not registered. */
  async inquire(options: { signal?: AbortSignal } = {}): Promise<string | null> {
    this.checkLive();
    if (!this.isRegistered) return null;
    return this.inquireState(options.signal);
  }

  private async inquireState(signal: AbortSignal | undefined): Promise<string | null> {
    try {
      const { result, state } = await inquireRaw(this.driver.target(signal), { pid: this.params.pid });
      if (result < 0) throw fromClientFailure(LockManagerErrorCode.INQUIRE, "Failed to inquire lock", new SanlockError(Cmd.INQUIRE, result));
      return state === "" ? null : state;
    } catch (err) {
      throw fromClientFailure(LockManagerErrorCode.INQUIRE, "Failed to inquire lock", err);
    }
  }

  /** Forgets the resources; no daemon call (a registration returned by acquire stays as it is). */
  free(): void {
    this.freed = true;
    this.specs.length = 0;
  }

  [Symbol.dispose](): void {
    this.free();
  }

  private checkLive(): void {
    if (this.freed) throw new LockManagerError(LockManagerErrorCode.INVALID_ARG, "OPERATION_INVALID", "the lock manager was freed");
  }
}

/** stateVersionCheck "lver": each recorded lease named in the state is acquired at the state's version. */
function withStateVersions(specs: readonly AcquireSpec[], state: readonly ParsedResource[]): AcquireSpec[] {
  return specs.map((s) => {
    const match = state.find((r) => r.lockspace === s.lockspace && r.resource === s.resource && (r.flags & ResFlag.LVER) !== 0);
    return match ? { ...s, version: match.version } : s;
  });
}
