/**
 * The devices of every disk of one resource lease (docs/algorithms.md §4.11). One disk is what it
 * always was: the shared device of its path, checked for the lease's placement, with sanlock's
 * errors (a missing path −ENOENT, a misplaced offset −EINVAL or −EMSGSIZE). For several disks,
 * sanlock opens them all and goes on when a majority opened (open_disks_fd); a disk that did not
 * open stays in the set as a device whose every I/O fails with its open error, so each Paxos step
 * counts it as a disk that did not answer.
 */
import { isMajority, type BlockDevice } from "@sanlock-ts/core";
import { Errno } from "@sanlock-ts/core/wire";
import { DaemonResultError } from "../results.js";
import type { ConfirmingDevice } from "./confirming-device.js";
import type { LeaseDeviceUse, SharedLeaseDevices } from "./lease-devices.js";
import { checkLeasePlacement } from "./lease-placement.js";

/** One disk of a resource lease: its path and the byte offset of the lease area on it. */
export interface LeaseDiskPlace {
  readonly path: string;
  readonly offset: bigint;
}

/** Claims on the devices of a resource's disks, first disk first; `release` once when done. */
export interface ResourceDisksUse {
  readonly devices: readonly BlockDevice[];
  /** The devices of the disks that opened (their I/O counts feed the lease channels). */
  readonly opened: readonly ConfirmingDevice[];
  release(): Promise<void>;
}

export async function useResourceDisks(devices: SharedLeaseDevices, disks: readonly LeaseDiskPlace[], ioTimeoutMs: number): Promise<ResourceDisksUse> {
  const settled = await Promise.allSettled(disks.map((disk) => useOneDisk(devices, disk, ioTimeoutMs)));
  const uses = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const release = async (): Promise<void> => {
    await Promise.all(uses.map((use) => use.release()));
  };
  const firstFailure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (firstFailure !== undefined && (disks.length === 1 || !isMajority(uses.length, disks.length))) {
    await release();
    throw firstFailure.reason;
  }
  const blockDevices = settled.map((s) => (s.status === "fulfilled" ? s.value.device : new UnopenedDisk(s.reason)));
  return { devices: blockDevices, opened: uses.map((use) => use.device), release };
}

async function useOneDisk(devices: SharedLeaseDevices, disk: LeaseDiskPlace, ioTimeoutMs: number): Promise<LeaseDeviceUse> {
  let use: LeaseDeviceUse;
  try {
    use = await devices.use(disk.path, ioTimeoutMs);
  } catch (error) {
    // docs/wire.md §7.7 recorded: a lease path that does not exist → −ENOENT.
    const code = (error as { code?: string }).code;
    if (code === "ERR_DEVICE_NOT_FOUND") throw new DaemonResultError(-Errno.ENOENT, `lease path ${disk.path} does not exist`);
    throw error;
  }
  try {
    await checkLeasePlacement(use.device, disk.offset);
  } catch (error) {
    await use.release();
    throw error;
  }
  return use;
}

/** A disk of a multi-disk resource that could not be opened: every I/O fails with that error. */
class UnopenedDisk implements BlockDevice {
  readonly sectorSize = 512;
  constructor(private readonly openError: unknown) {}
  private fail(): Promise<never> {
    const message = (this.openError as Error)?.message ?? String(this.openError);
    return Promise.reject(new Error(`disk not open: ${message}`));
  }
  size(): Promise<number> {
    return this.fail();
  }
  read(): Promise<Uint8Array> {
    return this.fail();
  }
  write(): Promise<void> {
    return this.fail();
  }
  async close(): Promise<void> {}
}
