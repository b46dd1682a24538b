// The call patterns libvirt's domain_lock.c uses (docs/lockmanager.md §2.8): a fresh manager per
// operation, filled with the domain's leases and then its disks, one call, freed. Plus the
// supervisor command that lets a Node manager start a workload that registers itself (§2.9).

import type { Registration } from "../registration.js";
import type { SanlockLockDriver } from "./driver.js";
import { LockManagerError, LockManagerErrorCode } from "./errors.js";
import type { LockFailureAction } from "./killpath-args.js";
import type { DomainLockManager, DomainParams, LeaseParams } from "./manager.js";

export type DiskSourceType = "file" | "block" | "dir" | "network" | "volume" | "nvme" | "vhostuser" | "vhostvdpa";

export interface DomainDisk {
  /** The top source path; disks without one are skipped. */
  path?: string;
  type: DiskSourceType;
  readonly?: boolean;
  shared?: boolean;
}

export interface DomainLease extends LeaseParams {
  /** The <lease><key>: the resource name. */
  key: string;
}

export interface DomainDescription {
  params: DomainParams;
  leases?: readonly DomainLease[];
  disks?: readonly DomainDisk[];
  onLockFailure?: LockFailureAction;
}

/** Only local sources of these types get a lease (network disks are skipped, as libvirt does). */
const LOCKABLE_DISK_TYPES: ReadonlySet<DiskSourceType> = new Set(["file", "block", "dir"]);

async function addDisk(manager: DomainLockManager, disk: DomainDisk, signal?: AbortSignal): Promise<void> {
  if (disk.path === undefined || disk.path === "" || !LOCKABLE_DISK_TYPES.has(disk.type)) return;
  await manager.addResource("disk", disk.path, undefined, { readonly: disk.readonly ?? false, shared: disk.shared ?? false }, { signal });
}

async function addLease(manager: DomainLockManager, lease: DomainLease): Promise<void> {
  // domain_lock.c passes no flags for leases: <lease> leases are always exclusive.
  await manager.addResource("lease", lease.key, { path: lease.path, offset: lease.offset ?? 0, lockspace: lease.lockspace ?? "" });
}

/** A manager holding every lease, then every disk of the domain. */
async function managerFor(driver: SanlockLockDriver, dom: DomainDescription, started: boolean, signal?: AbortSignal): Promise<DomainLockManager> {
  const manager = await driver.newManager("domain", dom.params, { started, signal });
  try {
    for (const lease of dom.leases ?? []) await addLease(manager, lease);
    for (const disk of dom.disks ?? []) await addDisk(manager, disk, signal);
    return manager;
  } catch (err) {
    manager.free();
    throw err;
  }
}

/**
 * virDomainLockProcessStart, run by the workload itself (params.pid = this process): registers,
 * restricts, and unless `paused` acquires every lease. The registration holds the leases: keep it
 * open (or exec the program with it, `sanlock-ts lockmgr exec`).
 */
export async function processStart(
  driver: SanlockLockDriver,
  dom: DomainDescription,
  options: { paused: boolean; action?: LockFailureAction; signal?: AbortSignal },
): Promise<Registration> {
  const manager = await managerFor(driver, dom, true, options.signal);
  try {
    const { registration } = await manager.acquire({
      registerOnly: options.paused,
      restrict: true,
      action: options.action ?? dom.onLockFailure ?? "default",
      signal: options.signal,
    });
    if (registration === null) {
      throw new LockManagerError(
        LockManagerErrorCode.REGISTER,
        "INTERNAL_ERROR",
        "processStart must run in the supervised process (params.pid = this process)",
      );
    }
    return registration;
  } finally {
    manager.free();
  }
}

/** virDomainLockProcessPause: releases the domain's leases by pid; returns the state to resume with. */
export async function processPause(driver: SanlockLockDriver, dom: DomainDescription, options: { signal?: AbortSignal } = {}): Promise<string | null> {
  using manager = await managerFor(driver, dom, false, options.signal);
  return await manager.release({ wantState: true, signal: options.signal }); // await: `using` frees the manager on return
}

/** virDomainLockProcessResume: acquires the domain's leases by pid (the state is checked, see docs/lockmanager.md §4.2). */
export async function processResume(
  driver: SanlockLockDriver,
  dom: DomainDescription,
  state: string | null,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  using manager = await managerFor(driver, dom, false, options.signal);
  await manager.acquire({ state, action: dom.onLockFailure ?? "default", signal: options.signal });
}

/** virDomainLockProcessInquire: the state of the running domain's leases (migration Begin). */
export async function processInquire(driver: SanlockLockDriver, dom: DomainDescription, options: { signal?: AbortSignal } = {}): Promise<string | null> {
  using manager = await managerFor(driver, dom, false, options.signal);
  return await manager.inquire(options);
}

async function singleResourceManager(driver: SanlockLockDriver, dom: DomainDescription, add: (m: DomainLockManager) => Promise<void>, signal?: AbortSignal) {
  const manager = await driver.newManager("domain", dom.params, { signal });
  try {
    await add(manager);
    return manager;
  } catch (err) {
    manager.free();
    throw err;
  }
}

/** virDomainLockImageAttach: one pid ACQUIRE of that disk's lease (hot-plug, media change). */
export async function imageAttach(driver: SanlockLockDriver, dom: DomainDescription, disk: DomainDisk, options: { signal?: AbortSignal } = {}): Promise<void> {
  using manager = await singleResourceManager(driver, dom, (m) => addDisk(m, disk, options.signal), options.signal);
  await manager.acquire({ signal: options.signal });
}

/** virDomainLockImageDetach: one pid RELEASE of that disk's lease. */
export async function imageDetach(driver: SanlockLockDriver, dom: DomainDescription, disk: DomainDisk, options: { signal?: AbortSignal } = {}): Promise<void> {
  using manager = await singleResourceManager(driver, dom, (m) => addDisk(m, disk, options.signal), options.signal);
  await manager.release({ signal: options.signal });
}

/** virDomainLockLeaseAttach. */
export async function leaseAttach(
  driver: SanlockLockDriver,
  dom: DomainDescription,
  lease: DomainLease,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  using manager = await singleResourceManager(driver, dom, (m) => addLease(m, lease), options.signal);
  await manager.acquire({ signal: options.signal });
}

/** virDomainLockLeaseDetach. */
export async function leaseDetach(
  driver: SanlockLockDriver,
  dom: DomainDescription,
  lease: DomainLease,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  using manager = await singleResourceManager(driver, dom, (m) => addLease(m, lease), options.signal);
  await manager.release({ signal: options.signal });
}

const REGISTER_POLL_MS = 50;

/**
 * Waits until `pid` is registered with the daemon (a supervised workload started with
 * supervisorCommand registers before it execs the program), or `exited` resolves, or the limit.
 */
export async function waitRegistered(
  driver: SanlockLockDriver,
  pid: number,
  options: { timeoutMs: number; exited?: Promise<unknown>; signal?: AbortSignal },
): Promise<void> {
  let gone = false;
  void options.exited?.then(() => {
    gone = true;
  });
  const deadline = Date.now() + options.timeoutMs;
  while (!(await driver.isRegistered(pid, options.signal))) {
    if (gone) throw new LockManagerError(LockManagerErrorCode.REGISTER, "INTERNAL_ERROR", `process ${pid} exited before it registered`);
    if (Date.now() > deadline)
      throw new LockManagerError(LockManagerErrorCode.REGISTER, "INTERNAL_ERROR", `process ${pid} did not register within ${options.timeoutMs} ms`);
    options.signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, REGISTER_POLL_MS));
  }
}

export interface SupervisorOptions {
  /** The sanlock-ts command: [program, ...leading args], e.g. ["sanlock-ts"] or [node, main.js]. */
  cli: readonly string[];
  /** The driver's configuration file, read by the supervised process too. */
  configFile?: string;
  /** Register only (libvirt starts QEMU paused): leases come with processResume. */
  paused: boolean;
  /** The failure-action helper the daemon runs (default: the sanlock-ts command itself). */
  killpathHelper?: string;
}

/**
 * The command a manager starts instead of `argv` (docs/lockmanager.md §2.9): `sanlock-ts lockmgr
 * exec`, which does processStart in its own process and then becomes argv[0] with the registered
 * connection, so the workload itself holds the leases.
 */
export function supervisorCommand(dom: DomainDescription, argv: readonly string[], options: SupervisorOptions): string[] {
  if (argv.length === 0) throw new LockManagerError(LockManagerErrorCode.INVALID_ARG, "INVALID_ARG", "supervisorCommand: no program");
  const p = dom.params;
  const uuid = typeof p.uuid === "string" ? p.uuid : Buffer.from(p.uuid).toString("hex");
  const out = [...options.cli, "lockmgr", "exec", "--name", p.name, "--uuid", uuid];
  if (p.uri !== undefined) out.push("--uri", p.uri);
  if (options.configFile !== undefined) out.push("--config", options.configFile);
  if (dom.onLockFailure !== undefined) out.push("--action", dom.onLockFailure);
  if (options.paused) out.push("--paused");
  if (options.killpathHelper !== undefined) out.push("--killpath-helper", options.killpathHelper);
  for (const lease of dom.leases ?? [])
    out.push("--lease", JSON.stringify({ key: lease.key, lockspace: lease.lockspace ?? "", path: lease.path, offset: String(lease.offset ?? 0) }));
  for (const disk of dom.disks ?? []) out.push("--disk", JSON.stringify(disk));
  out.push("--", ...argv);
  return out;
}
