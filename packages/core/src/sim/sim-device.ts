// A host's view of the shared disk (the core's BlockDevice interface, structurally). Every read
// and write is a scheduled event: it takes effect at a seeded instant between issue and
// completion, so the scheduler interleaves the I/O of all hosts.
//
// Fault model (docs/algorithms.md §1.5, §8.5):
// * latency: usually sub-millisecond to milliseconds; sometimes slow (up to 1.5·N, so some
//   exceed the io_timeout); sometimes stalled (N … 8N+90 s, landing long after the caller gave up);
// * errors: EIO after some latency; a failed write does not reach the disk;
// * stall windows: all I/O of one host that is pending in a window completes only after it;
// * multi-sector writes land sector-range by sector-range at different instants (torn at sector
//   boundaries, A1); multi-sector reads sample ranges at different instants (not a snapshot, docs/algorithms.md §1.5.4);
// * a reset drops every I/O of the old boot that has not landed (A4); a crashed daemon's I/O may
//   still land but its completion is never delivered.

import { SanlockTsError } from "../errors.js";
import type { SimRandom } from "./prng.js";
import type { Scheduler } from "./scheduler.js";
import type { SharedDisk } from "./shared-disk.js";
import type { SimHost } from "./sim-host.js";

export interface IoFaultRates {
  /** Probability an I/O fails with EIO. */
  readonly fail: number;
  /** Probability an I/O is slow (0.1 … 1.5·N seconds). */
  readonly slow: number;
  /** Probability an I/O stalls (N … 8N+90 seconds). */
  readonly stall: number;
  /** Probability a multi-sector I/O is split into pieces at different instants. */
  readonly split: number;
}

export const NO_IO_FAULTS: IoFaultRates = { fail: 0, slow: 0, stall: 0, split: 0 };

export interface StallWindow {
  readonly start: number;
  readonly end: number;
  /** Which I/O the window holds back. */
  readonly kind: "read" | "write" | "both";
}

/** Describes an I/O range for the trace (which record, which fields). */
export type IoDescriber = (offset: number, length: number, data: Uint8Array | undefined) => string;

export class SimIoError extends SanlockTsError {
  override readonly name = "SimIoError";
  constructor(message: string) {
    super("ERR_SIM_EIO", message);
  }
}

const MAX_PIECES = 4;
const MAX_IO_BYTES = 16 * 1024 * 1024;

interface Fate {
  readonly latency: number;
  readonly fails: boolean;
  readonly label: string;
}

export class SimDevice {
  readonly sectorSize: number;
  private readonly stallWindows: StallWindow[] = [];
  /** I/Os issued (for counting simulated work). */
  ioCount = 0;
  /** I/Os that failed, stalled, were slow or outlasted the io_timeout (a fault was in play). */
  faultCount = 0;
  /** Called when a write lands after its io_timeout had passed (the caller saw a timeout, docs/algorithms.md §1.5.5). */
  onLateLanding: ((offset: number, length: number) => void) | undefined;
  /** Called right after each I/O is issued (fault injection: crash at the n-th I/O). */
  onIssue: ((ioNumber: number, kind: "read" | "write") => void) | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly disk: SharedDisk,
    private readonly host: SimHost,
    private readonly random: SimRandom,
    private readonly ioTimeout: number,
    private readonly rates: IoFaultRates,
    private readonly describe: IoDescriber,
  ) {
    this.sectorSize = disk.sectorSize;
  }

  addStallWindow(window: StallWindow): void {
    this.stallWindows.push(window);
  }

  async size(): Promise<number> {
    return this.disk.sizeBytes;
  }

  async close(): Promise<void> {}

  private noteFault(fate: Fate, seconds: number): void {
    if (fate.fails || fate.label !== "" || seconds > this.ioTimeout) this.faultCount++;
  }

  private chooseFate(): Fate {
    const r = this.random.next();
    const n = this.ioTimeout;
    if (r < this.rates.fail) return { latency: this.random.between(0.001, 0.5), fails: true, label: "EIO" };
    if (r < this.rates.fail + this.rates.stall) {
      return { latency: this.random.between(n, 8 * n + 90), fails: false, label: "stalled" };
    }
    if (r < this.rates.fail + this.rates.stall + this.rates.slow) {
      return { latency: this.random.between(0.1, 1.5 * n), fails: false, label: "slow" };
    }
    return { latency: this.random.between(0.0002, 0.01), fails: false, label: "" };
  }

  /** Completion time after stall windows that cover the I/O. */
  private completionTime(issue: number, latency: number, kind: "read" | "write"): number {
    let done = issue + latency;
    for (const w of this.stallWindows) {
      if (w.kind !== "both" && w.kind !== kind) continue;
      if (done >= w.start && issue < w.end) done = Math.max(done, w.end + this.random.between(0.001, 0.1));
    }
    return done;
  }

  /** Splits [0, length) at sector boundaries into 1..MAX_PIECES pieces. */
  private pieces(length: number): Array<[number, number]> {
    const sectors = length / this.sectorSize;
    if (sectors <= 1 || !this.random.chance(this.rates.split)) return [[0, length]];
    const count = Math.min(MAX_PIECES, sectors, this.random.int(2, MAX_PIECES));
    const cuts = new Set<number>();
    while (cuts.size < count - 1) cuts.add(this.random.int(1, sectors - 1));
    const bounds = [0, ...[...cuts].sort((a, b) => a - b), sectors];
    const result: Array<[number, number]> = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      result.push([(bounds[i] as number) * this.sectorSize, ((bounds[i + 1] as number) - (bounds[i] as number)) * this.sectorSize]);
    }
    return result;
  }

  /** A seeded instant in [issue, done), strictly before the completion event. */
  private beforeDone(issue: number, done: number): number {
    return Math.min(this.random.between(issue, done), done - (done - issue) / 1e6);
  }

  private checkArgs(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) throw new RangeError(`I/O ${offset}+${length}: not integers`);
    if (offset % this.sectorSize !== 0 || length % this.sectorSize !== 0 || length <= 0 || length > MAX_IO_BYTES) {
      throw new RangeError(`I/O ${offset}+${length}: not a positive multiple of ${this.sectorSize} up to ${MAX_IO_BYTES}`);
    }
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    this.checkArgs(offset, length);
    this.ioCount++;
    const issue = this.scheduler.now;
    const boot = this.host.boot;
    const daemon = this.host.daemon;
    const fate = this.chooseFate();
    const done = this.completionTime(issue, fate.latency, "read");
    this.noteFault(fate, done - issue);
    const what = this.describe(offset, length, undefined);
    this.host.log(`read  ${what}${fate.label ? ` (${fate.label}, ${(done - issue).toFixed(2)} s)` : ""}`);
    let buffer: Uint8Array | undefined;
    if (!fate.fails) {
      const pieces = this.pieces(length);
      if (pieces.length === 1) {
        // One piece: copy the whole range at one seeded instant.
        this.scheduler.at(this.beforeDone(issue, done), () => {
          if (this.host.bootAlive(boot)) buffer = this.disk.snapshot(offset, length);
        });
      } else {
        const target = new Uint8Array(length);
        buffer = target;
        for (const [start, size] of pieces) {
          // Each piece is sampled at its own instant: a large read is not a snapshot (docs/algorithms.md §1.5.4).
          this.scheduler.at(this.beforeDone(issue, done), () => {
            if (this.host.bootAlive(boot)) this.disk.readInto(offset + start, target, start, size);
          });
        }
      }
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.host.deliverAt(done, daemon, () => {
        if (fate.fails) {
          this.host.log(`read  ${what} -> EIO`);
          reject(new SimIoError(`simulated EIO reading ${what}`));
          return;
        }
        const data = buffer ?? new Uint8Array(length);
        this.host.log(`read  ${this.describe(offset, length, data)} -> done`);
        resolve(data);
      });
      this.onIssue?.(this.ioCount, "read");
    });
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    this.checkArgs(offset, data.length);
    this.ioCount++;
    const issue = this.scheduler.now;
    const boot = this.host.boot;
    const daemon = this.host.daemon;
    const fate = this.chooseFate();
    const done = this.completionTime(issue, fate.latency, "write");
    this.noteFault(fate, done - issue);
    // The caller may reuse its buffer; the I/O owns a copy (docs/algorithms.md §1.5.5: the buffer stays with the I/O).
    const copy = data.slice();
    const what = this.describe(offset, copy.length, copy);
    this.host.log(`write ${what}${fate.label ? ` (${fate.label}, ${(done - issue).toFixed(2)} s)` : ""}`);
    if (!fate.fails) {
      const pieces = this.pieces(copy.length);
      for (const [start, size] of pieces) {
        // Strictly before the completion is delivered: a completed write is visible to all (docs/algorithms.md §1.5.1).
        const landAt = pieces.length === 1 && fate.label === "" ? done - (done - issue) / 2 : this.beforeDone(issue, done);
        this.scheduler.at(landAt, () => {
          if (!this.host.bootAlive(boot)) return;
          this.disk.writeSectors(offset + start, copy.subarray(start, start + size), this.host.name);
          const late = this.scheduler.now - issue > this.ioTimeout;
          if (fate.label !== "" || pieces.length > 1) {
            this.host.log(`lands${late ? " LATE" : ""} ${this.describe(offset + start, size, copy.subarray(start, start + size))}`);
          }
          if (late) this.onLateLanding?.(offset + start, size);
        });
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.host.deliverAt(done, daemon, () => {
        if (fate.fails) {
          this.host.log(`write ${what} -> EIO (not written)`);
          reject(new SimIoError(`simulated EIO writing ${what}`));
          return;
        }
        resolve();
      });
      this.onIssue?.(this.ioCount, "write");
    });
  }
}
