// Faults of whole disks for resources replicated on several disks (docs/algorithms.md §4.11): one
// disk of the run fails (every I/O errors) or stalls (no I/O completes, none lands) for a window of
// true time, for every host (the disk died) or for one host (its path to that disk died). Drawn
// from a seed of its own, so a run with one disk draws exactly what it drew before this existed.

import type { BlockDevice } from "../block-device.js";
import type { SimRandom } from "./prng.js";

export interface DiskFaultWindow {
  /** Index of the disk among the resource's disks (0 = the first). */
  readonly disk: number;
  readonly start: number;
  readonly end: number;
  readonly kind: "fail" | "stall";
  /** Only this host loses the disk (a path failure); undefined: every host does. */
  readonly hostIndex: number | undefined;
}

/** Mixed into the seed for the disk-fault draw (independent of every other draw of a seed). */
export const DISK_FAULT_SEED_SALT = 0xd15c_fa17;

/** Up to two windows; at most one disk is faulty at any moment, so a majority stays for 3 or 4 disks. */
export function planDiskFaults(random: SimRandom, disks: number, hosts: number, runSeconds: number): DiskFaultWindow[] {
  if (disks < 2) return [];
  const windows: DiskFaultWindow[] = [];
  let from = random.between(5, runSeconds * 0.3);
  for (let i = 0; i < 2 && from < runSeconds; i++) {
    if (!random.chance(0.7)) break;
    const length = random.between(5, 200);
    windows.push({
      disk: random.int(0, disks - 1),
      start: from,
      end: from + length,
      kind: random.chance(0.5) ? "fail" : "stall",
      hostIndex: random.chance(0.3) ? random.int(0, hosts - 1) : undefined,
    });
    from += length + random.between(5, 100);
  }
  return windows;
}

export function describeDiskFault(w: DiskFaultWindow): string {
  const who = w.hostIndex === undefined ? "all hosts" : `host${w.hostIndex + 1}`;
  return `disk ${w.disk + 1} ${w.kind} t=${w.start.toFixed(1)}..${w.end.toFixed(1)} for ${who}`;
}

/**
 * One host's view of one disk of a replicated resource: the host's own device (with its own I/O
 * faults) unless a window of this disk is open for this host, then errors or I/O that never ends.
 */
export class ReplicaDevice implements BlockDevice {
  constructor(
    private readonly inner: BlockDevice,
    private readonly disk: number,
    private readonly hostIndex: number,
    private readonly windows: readonly DiskFaultWindow[],
    private readonly now: () => number,
    /** Called for every I/O a window fails or stalls (the progress rule then skips that release). */
    private readonly onFault: () => void,
  ) {}

  get sectorSize(): number {
    return this.inner.sectorSize;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  private openWindow(): DiskFaultWindow | undefined {
    const t = this.now();
    return this.windows.find((w) => w.disk === this.disk && t >= w.start && t < w.end && (w.hostIndex === undefined || w.hostIndex === this.hostIndex));
  }

  private fault(): Promise<never> | undefined {
    const window = this.openWindow();
    if (!window) return undefined;
    this.onFault();
    if (window.kind === "stall") return new Promise<never>(() => undefined);
    return Promise.reject(new Error(`disk ${this.disk + 1} failed (EIO)`));
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.fault() ?? this.inner.read(offset, length);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return this.fault() ?? this.inner.write(offset, data);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
