/**
 * One open DirectDevice per lease path, shared by every resource lease on it and
 * reference-counted (docs/algorithms.md §1.5: the device layer's rules stay per device).
 *
 * Why: a device per held resource costs an fd, an open + fstat per acquire and its own
 * in-flight slots; 1,000 leases on one file then meant 1,000 fds and up to 4,000 libuv
 * threads claimable by one stalled file. Shared, the path has one fd and one in-flight limit
 * (SHARED_DEVICE_MAX_IN_FLIGHT), so a stalled path holds a bounded number of threads.
 *
 * Devices are keyed by path and I/O deadline (the deadline comes from the lockspace's
 * io_timeout, which may differ between lockspaces on one path).
 *
 * After its last user the device stays open for IDLE_DEVICE_CLOSE_MS (at most MAX_IDLE_DEVICES
 * such devices, the oldest closed first): an uncontended acquire+release cycle would otherwise
 * pay an open and two fstats on libuv's threadpool on every acquire (measured: the largest part
 * of the daemon's own time before the first lease I/O). A device is reused only after a stat
 * of the path shows the path still names what was opened (DirectDevice.stillNamedByPath), as
 * sanlock's open per acquire guarantees: a lease file replaced meanwhile gets a new device.
 * The user's reads do not wait for that stat; its writes do (confirming-device.ts).
 * A device with an I/O still in the kernel (timed out) is not kept: it closes at once, and
 * DirectDevice.close keeps the fd, and the buffers of that I/O quarantined, until the kernel
 * finishes it; a later user of the path opens a new device.
 */
import type { DirectDevice } from "../device/index.js";
import { ConfirmingDevice } from "./confirming-device.js";

/** Bound on distinct (path, deadline) devices open at once. */
export const MAX_SHARED_LEASE_DEVICES = 4096;
/** Bound on users of one device (each held resource or running request is one). */
export const MAX_USERS_PER_LEASE_DEVICE = 1 << 20;
/** How long a device stays open after its last user. */
export const IDLE_DEVICE_CLOSE_MS = 10_000;
/** Devices kept open without users at most. */
export const MAX_IDLE_DEVICES = 64;

export interface SharedLeaseDevicesOptions {
  /** Default IDLE_DEVICE_CLOSE_MS; 0 closes a device with its last user. */
  idleCloseMs?: number;
  /** Default MAX_IDLE_DEVICES. */
  maxIdle?: number;
}

export type OpenLeaseDevice = (path: string, ioTimeoutMs: number) => Promise<DirectDevice>;

/** One user's claim on a shared device; `release` exactly once when done with it. */
export interface LeaseDeviceUse {
  /** This user's I/O: reads may start before a reused device is confirmed, writes wait for it. */
  readonly device: ConfirmingDevice;
  /** Gives the claim back; the last one closes the device. A second call does nothing. */
  release(): Promise<void>;
}

interface Entry {
  readonly key: string;
  readonly path: string;
  readonly ioTimeoutMs: number;
  opening: Promise<DirectDevice>;
  users: number;
  /** Set while the device is open without users. */
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** The device itself while idle. */
  parked: DirectDevice | undefined;
  /** The reused device while the stat that confirms it runs (`opening` then says what it found). */
  unconfirmed: DirectDevice | undefined;
}

export class SharedLeaseDevices {
  private readonly entries = new Map<string, Entry>();
  /** Entries without users, oldest first. */
  private readonly idle = new Set<Entry>();
  private readonly idleCloseMs: number;
  private readonly maxIdle: number;

  constructor(
    private readonly open: OpenLeaseDevice,
    options: SharedLeaseDevicesOptions = {},
  ) {
    this.idleCloseMs = options.idleCloseMs ?? IDLE_DEVICE_CLOSE_MS;
    this.maxIdle = options.maxIdle ?? MAX_IDLE_DEVICES;
    if (!(this.idleCloseMs >= 0) || !Number.isSafeInteger(this.maxIdle) || this.maxIdle < 0) {
      throw new RangeError(`idleCloseMs ${this.idleCloseMs} and maxIdle ${this.maxIdle} must be >= 0`);
    }
  }

  /** The device for `path` with deadline `ioTimeoutMs`, opened if no user has it open; rejects with the open's error. */
  async use(path: string, ioTimeoutMs: number): Promise<LeaseDeviceUse> {
    const entry = this.entryFor(path, ioTimeoutMs);
    if (entry.users >= MAX_USERS_PER_LEASE_DEVICE) throw new RangeError(`more than ${MAX_USERS_PER_LEASE_DEVICE} users of lease device ${path}`);
    entry.users += 1;
    let device: ConfirmingDevice;
    if (entry.unconfirmed !== undefined) {
      device = new ConfirmingDevice(entry.unconfirmed, entry.opening);
    } else {
      try {
        device = new ConfirmingDevice(await entry.opening);
      } catch (error) {
        entry.users -= 1;
        throw error;
      }
    }
    let released = false;
    return {
      device,
      release: async () => {
        if (released) return;
        released = true;
        await this.releaseOne(entry, device);
      },
    };
  }

  /** Devices open (or opening) now, in use or idle. */
  get openCount(): number {
    return this.entries.size;
  }

  /** Devices open without users now. */
  get idleCount(): number {
    return this.idle.size;
  }

  /** Closes every idle device now (daemon shutdown, tests). */
  async closeIdle(): Promise<void> {
    await Promise.all([...this.idle].map((entry) => this.closeIdleEntry(entry)));
  }

  /** Users of the device for (path, deadline); 0 when none is open. */
  usersOf(path: string, ioTimeoutMs: number): number {
    return this.entries.get(keyOf(path, ioTimeoutMs))?.users ?? 0;
  }

  private entryFor(path: string, ioTimeoutMs: number): Entry {
    const key = keyOf(path, ioTimeoutMs);
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      if (existing.idleTimer !== undefined) this.revive(existing);
      return existing;
    }
    if (this.entries.size >= MAX_SHARED_LEASE_DEVICES) throw new RangeError(`more than ${MAX_SHARED_LEASE_DEVICES} lease devices open`);
    const entry: Entry = {
      key,
      path,
      ioTimeoutMs,
      opening: this.open(path, ioTimeoutMs),
      users: 0,
      idleTimer: undefined,
      parked: undefined,
      unconfirmed: undefined,
    };
    this.entries.set(key, entry);
    this.forgetOnFailure(entry);
    return entry;
  }

  /** A failed open is forgotten at once, so the next user tries again. */
  private forgetOnFailure(entry: Entry): void {
    entry.opening.catch(() => this.forget(entry));
  }

  /**
   * An idle device gets a user again: reused if the path still names it, else replaced. Users
   * that come before the stat answers get the device unconfirmed (ConfirmingDevice).
   */
  private revive(entry: Entry): void {
    const device = entry.parked;
    if (device === undefined) throw new Error(`assertion: idle lease device ${entry.path} without its device`);
    this.unpark(entry);
    entry.unconfirmed = device;
    // Started from setImmediate, i.e. after the reviving user's first read has gone to the
    // threadpool in this turn: that read is on the acquire's critical path, the stat is not.
    const stat = new Promise<boolean>((resolve) => setImmediate(() => resolve(device.stillNamedByPath())));
    const confirming = stat.then((same) => {
      if (same) return device;
      void closeQuietly(device);
      return this.open(entry.path, entry.ioTimeoutMs);
    });
    entry.opening = confirming;
    const settled = (): void => {
      if (entry.opening === confirming) entry.unconfirmed = undefined;
    };
    confirming.then(settled, settled);
    this.forgetOnFailure(entry);
  }

  private async releaseOne(entry: Entry, use: ConfirmingDevice): Promise<void> {
    if (entry.users <= 0) throw new Error(`assertion: lease device ${entry.path} released more often than used`);
    // The device the entry now holds: the confirmed one. If opening a replacement failed, the
    // entry is already forgotten and the stale device closed.
    const device = await use.confirmed().catch(() => undefined);
    entry.users -= 1;
    if (entry.users > 0 || device === undefined) return;
    if (this.idleCloseMs > 0 && this.maxIdle > 0 && device.stats().inFlight === 0 && this.entries.get(entry.key) === entry) {
      this.park(entry, device);
      return;
    }
    this.forget(entry);
    await closeQuietly(device);
  }

  private park(entry: Entry, device: DirectDevice): void {
    entry.parked = device;
    entry.idleTimer = setTimeout(() => void this.closeIdleEntry(entry), this.idleCloseMs);
    entry.idleTimer.unref(); // an idle device never keeps the daemon alive
    this.idle.add(entry);
    if (this.idle.size > this.maxIdle) {
      const oldest = this.idle.values().next().value;
      if (oldest !== undefined) void this.closeIdleEntry(oldest);
    }
  }

  private unpark(entry: Entry): void {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    entry.parked = undefined;
    this.idle.delete(entry);
  }

  private async closeIdleEntry(entry: Entry): Promise<void> {
    const device = entry.parked;
    if (entry.idleTimer === undefined || entry.users > 0 || device === undefined) return; // revived meanwhile
    this.unpark(entry);
    this.forget(entry);
    await closeQuietly(device);
  }

  private forget(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
  }
}

async function closeQuietly(device: DirectDevice): Promise<void> {
  try {
    await device.close();
  } catch {
    // close(2) failing leaves nothing to retry: the fd is gone either way
  }
}

function keyOf(path: string, ioTimeoutMs: number): string {
  return `${ioTimeoutMs}\u0000${path}`;
}
