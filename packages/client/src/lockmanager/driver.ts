// The lock driver (docs/lockmanager.md §1.1, §2.1): configuration, the __LIBVIRT__DISKS__
// lockspace for automatic disk leases, and the factory of per-operation managers. libvirt keeps
// one per process; here it is an instance, and two instances with different configurations are
// independent.

import { Errno } from "@sanlock-ts/core/wire";
import type { CallTarget } from "../calls.js";
import { SanlockError } from "../errors.js";
import { addLockspace, inqLockspaceResult, inquireRaw } from "../operations.js";
import { resolveSocketPath } from "../socket-path.js";
import { type SanlockLockConfig, checkLockConfig, defaultLockConfig, readLockConfig } from "./config.js";
import { DISKS_LOCKSPACE, lockspaceFilePath } from "./disk-lease.js";
import { LockManagerError, LockManagerErrorCode, fromClientFailure } from "./errors.js";
import { type KillpathHelper, LIBVIRT_SANLOCK_HELPER } from "./killpath-args.js";
import { ensureLockspaceFile } from "./lease-files.js";
import { DomainLockManager, type DomainParams, normalizeParams } from "./manager.js";

/** libvirt's LOCKSPACE_RETRIES: ADD_LOCKSPACE attempts while another add is in flight. */
export const LOCKSPACE_RETRIES = 10;
/** Limit of a reply to a call that does not wait by design (INQUIRE, ALIGN...). */
export const QUICK_REPLY_MS = 60_000;

export interface DriverInitOptions {
  /** `<configDir>/<hypervisor>-sanlock.conf`; absent file = defaults. */
  configFile?: string;
  /** Values that replace the file's. */
  config?: Partial<SanlockLockConfig>;
  /** The daemon's socket (default: $SANLOCK_RUN_DIR/sanlock.sock). */
  socketPath?: string;
  /** The program registered for poweroff / pause (default: libvirt's helper, args URI UUID ACTION). */
  killpathHelper?: KillpathHelper;
  /** false: do not set up or join __LIBVIRT__DISKS__ (a process that only registers, e.g. `lockmgr exec`). */
  setupLockspace?: boolean;
  /** Reject init when the lockspace cannot be set up (libvirt logs and goes on, quirk Q2). */
  strictInit?: boolean;
  /** Make probe errors other than "not registered" fatal in newManager (libvirt: not registered, quirk Q3). */
  strictRegistration?: boolean;
  /** "lver": resume/migration acquires send the state's lease versions (docs/lockmanager.md §4.2). */
  stateVersionCheck?: "libvirt" | "lver";
  signal?: AbortSignal;
}

export class SanlockLockDriver {
  static readonly version = 1_000_000;
  readonly name = "sanlock";
  /** The driver hands out state strings (libvirt's VIR_LOCK_MANAGER_USES_STATE). */
  readonly usesState = true;
  private initialized = true;

  private constructor(
    readonly config: Readonly<SanlockLockConfig>,
    readonly socketPath: string,
    readonly killpathHelper: KillpathHelper,
    readonly options: Readonly<Pick<DriverInitOptions, "strictRegistration" | "stateVersionCheck">>,
    /** Why __LIBVIRT__DISKS__ could not be set up, when init went on without it (quirk Q2). */
    readonly lockspaceError: LockManagerError | null,
  ) {}

  /** Reads the configuration and, with automatic disk leases, creates and joins __LIBVIRT__DISKS__. */
  static async init(options: DriverInitOptions = {}): Promise<SanlockLockDriver> {
    const fromFile = options.configFile !== undefined ? await readLockConfig(options.configFile) : defaultLockConfig();
    const config: SanlockLockConfig = { ...fromFile, ...options.config };
    if (options.config?.autoDiskLeases !== undefined && options.config.requireLeaseForDisks === undefined && options.configFile === undefined) {
      config.requireLeaseForDisks = !config.autoDiskLeases;
    }
    checkLockConfig(config);
    const socketPath = resolveSocketPath({ socketPath: options.socketPath });
    let lockspaceError: LockManagerError | null = null;
    if (config.autoDiskLeases && options.setupLockspace !== false) {
      try {
        await setupDisksLockspace(config, { socketPath, timeoutMs: QUICK_REPLY_MS, signal: options.signal });
      } catch (err) {
        const failure =
          err instanceof LockManagerError
            ? err
            : fromClientFailure(LockManagerErrorCode.LOCKSPACE_SETUP, `Unable to add lockspace ${lockspaceFilePath(config.diskLeaseDir)}`, err);
        if (options.strictInit || failure.code === LockManagerErrorCode.ABORTED) throw failure;
        lockspaceError = failure;
      }
    }
    const helper = options.killpathHelper ?? { path: LIBVIRT_SANLOCK_HELPER };
    return new SanlockLockDriver(
      Object.freeze(config),
      socketPath,
      helper,
      { strictRegistration: options.strictRegistration, stateVersionCheck: options.stateVersionCheck },
      lockspaceError,
    );
  }

  /** A call target for quick calls (a reply is due at once). */
  target(signal?: AbortSignal): CallTarget {
    return { socketPath: this.socketPath, timeoutMs: QUICK_REPLY_MS, signal };
  }

  /** A call target for calls that wait by design (acquire): no time limit, only the signal. */
  waitingTarget(signal?: AbortSignal): CallTarget {
    return { socketPath: this.socketPath, signal };
  }

  /**
   * A manager for one operation on one domain (docs/lockmanager.md §2.2). Unless `started`, the
   * daemon is asked whether the pid is registered (INQUIRE by pid); any error means "not registered".
   */
  async newManager(type: "domain", params: DomainParams, options: { started?: boolean; signal?: AbortSignal } = {}): Promise<DomainLockManager> {
    if (!this.initialized) throw new LockManagerError(LockManagerErrorCode.NOT_INITIALIZED, "INTERNAL_ERROR", "Sanlock plugin is not initialized");
    if (type !== "domain") throw new LockManagerError(LockManagerErrorCode.UNSUPPORTED_TYPE, "INTERNAL_ERROR", `Unsupported object type ${String(type)}`);
    const domain = normalizeParams(params);
    let registered = false;
    if (!options.started) registered = await this.isRegistered(domain.pid, options.signal);
    return new DomainLockManager(this, domain, registered);
  }

  /** INQUIRE by pid answers ≥ 0 only for a registered pid (−ESRCH otherwise). */
  async isRegistered(pid: number, signal?: AbortSignal): Promise<boolean> {
    try {
      const { result } = await inquireRaw(this.target(signal), { pid });
      if (result >= 0) return true;
      if (this.options.strictRegistration && result !== -Errno.ESRCH) throw new SanlockError(9, result);
      return false;
    } catch (err) {
      if (this.options.strictRegistration || signal?.aborted) throw fromClientFailure(LockManagerErrorCode.REGISTER, "Failed to inquire lock", err);
      return false;
    }
  }

  /** Frees nothing in the daemon: __LIBVIRT__DISKS__ stays joined, as with libvirt. */
  deinit(): void {
    this.initialized = false;
  }
}

/** Creates (if missing) and joins __LIBVIRT__DISKS__ (docs/lockmanager.md §2.1 step 4). */
async function setupDisksLockspace(config: SanlockLockConfig, target: CallTarget): Promise<void> {
  const path = lockspaceFilePath(config.diskLeaseDir);
  await ensureLockspaceFile(path, config, target);
  const ls = { lockspace: DISKS_LOCKSPACE, hostId: BigInt(config.hostId), path, offset: 0n };
  const joinTarget: CallTarget = { socketPath: target.socketPath, signal: target.signal }; // a join takes several io_timeouts
  for (let attempt = 1; attempt <= LOCKSPACE_RETRIES; attempt++) {
    try {
      await addLockspace(joinTarget, { ...ls, ioTimeout: config.ioTimeout, wait: true });
      return;
    } catch (err) {
      if (err instanceof SanlockError && err.result === -Errno.EEXIST) return; // joined already (another driver, a restart)
      if (!(err instanceof SanlockError && err.result === -Errno.EINPROGRESS) || attempt === LOCKSPACE_RETRIES) {
        throw fromClientFailure(LockManagerErrorCode.LOCKSPACE_SETUP, `Unable to add lockspace ${path}`, err);
      }
      await inqLockspaceResult(joinTarget, { ...ls, wait: true }); // wait for the other add or remove to finish
    }
  }
}
