/**
 * One open DirectDevice per lease path, shared by every resource lease on it and
 * reference-counted (algorithms.md §1.5: the device layer's rules stay per device).
 *
 * Why: a device per held resource costs an fd, an open + fstat per acquire and its own
 * in-flight slots; 1,000 leases on one file then meant 1,000 fds and up to 4,000 libuv
 * threads claimable by one stalled file. Shared, the path has one fd and one in-flight limit
 * (SHARED_DEVICE_MAX_IN_FLIGHT), so a stalled path holds a bounded number of threads.
 *
 * Devices are keyed by path and I/O deadline (the deadline comes from the lockspace's
 * io_timeout, which may differ between lockspaces on one path). The device closes when its
 * last user releases it; DirectDevice.close keeps the fd, and the buffers of timed-out I/O
 * quarantined, until the kernel finishes that I/O. A later user of the path opens a new device.
 */
import type { DirectDevice } from "../device/index.js";

/** Bound on distinct (path, deadline) devices open at once. */
export const MAX_SHARED_LEASE_DEVICES = 4096;
/** Bound on users of one device (each held resource or running request is one). */
export const MAX_USERS_PER_LEASE_DEVICE = 1 << 20;

export type OpenLeaseDevice = (path: string, ioTimeoutMs: number) => Promise<DirectDevice>;

/** One user's claim on a shared device; `release` exactly once when done with it. */
export interface LeaseDeviceUse {
  readonly device: DirectDevice;
  /** Gives the claim back; the last one closes the device. A second call does nothing. */
  release(): Promise<void>;
}

interface Entry {
  readonly key: string;
  readonly opening: Promise<DirectDevice>;
  users: number;
}

export class SharedLeaseDevices {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly open: OpenLeaseDevice) {}

  /** The device for `path` with deadline `ioTimeoutMs`, opened if no user has it open; rejects with the open's error. */
  async use(path: string, ioTimeoutMs: number): Promise<LeaseDeviceUse> {
    const entry = this.entryFor(path, ioTimeoutMs);
    if (entry.users >= MAX_USERS_PER_LEASE_DEVICE) throw new RangeError(`more than ${MAX_USERS_PER_LEASE_DEVICE} users of lease device ${path}`);
    entry.users += 1;
    let device: DirectDevice;
    try {
      device = await entry.opening;
    } catch (error) {
      entry.users -= 1;
      throw error;
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

  /** Devices open (or opening) now. */
  get openCount(): number {
    return this.entries.size;
  }

  /** Users of the device for (path, deadline); 0 when none is open. */
  usersOf(path: string, ioTimeoutMs: number): number {
    return this.entries.get(keyOf(path, ioTimeoutMs))?.users ?? 0;
  }

  private entryFor(path: string, ioTimeoutMs: number): Entry {
    const key = keyOf(path, ioTimeoutMs);
    const existing = this.entries.get(key);
    if (existing !== undefined) return existing;
    if (this.entries.size >= MAX_SHARED_LEASE_DEVICES) throw new RangeError(`more than ${MAX_SHARED_LEASE_DEVICES} lease devices open`);
    const entry: Entry = { key, opening: this.open(path, ioTimeoutMs), users: 0 };
    this.entries.set(key, entry);
    // A failed open is forgotten at once, so the next user tries again.
    entry.opening.catch(() => this.forget(entry));
    return entry;
  }

  private async releaseOne(entry: Entry, device: DirectDevice): Promise<void> {
    if (entry.users <= 0) throw new Error(`assertion: lease device ${device.path} released more often than used`);
    entry.users -= 1;
    if (entry.users > 0) return;
    this.forget(entry);
    try {
      await device.close();
    } catch {
      // close(2) failing leaves nothing to retry: the fd is gone either way
    }
  }

  private forget(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
  }
}

function keyOf(path: string, ioTimeoutMs: number): string {
  return `${ioTimeoutMs}\u0000${path}`;
}
