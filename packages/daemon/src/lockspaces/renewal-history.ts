/**
 * Renewal history of one lockspace, as RENEWAL (docs/wire.md §7.30) reports it: one entry per
 * successful join/renewal (timestamp, read and write milliseconds), with the timeouts and
 * other errors of the failed attempts that followed it. Bounded ring (renewal_history_size,
 * default 180; 0 disables).
 */
import type { BlockDevice } from "@sanlock-ts/core";

export interface RenewalEntry {
  readonly timestamp: number;
  readonly readMs: number;
  readonly writeMs: number;
  nextTimeouts: number;
  nextErrors: number;
}

export const DEFAULT_RENEWAL_HISTORY_SIZE = 180;

export class RenewalHistory {
  private readonly entries: RenewalEntry[] = [];

  constructor(private readonly size = DEFAULT_RENEWAL_HISTORY_SIZE) {
    if (!Number.isInteger(size) || size < 0 || size > 100_000) throw new RangeError(`renewal history size ${size}`);
  }

  success(timestamp: number, readMs: number, writeMs: number): void {
    if (this.size === 0) return;
    this.entries.push({ timestamp, readMs, writeMs, nextTimeouts: 0, nextErrors: 0 });
    if (this.entries.length > this.size) this.entries.shift();
  }

  /** A failed attempt counts against the last successful entry. */
  failure(timedOut: boolean): void {
    const last = this.entries.at(-1);
    if (last === undefined) return;
    if (timedOut) last.nextTimeouts++;
    else last.nextErrors++;
  }

  list(): readonly RenewalEntry[] {
    return this.entries;
  }
}

export function renewalStateString(e: RenewalEntry): string {
  return `timestamp=${e.timestamp} read_ms=${e.readMs} write_ms=${e.writeMs} next_timeouts=${e.nextTimeouts} next_errors=${e.nextErrors}`;
}

/** Wraps a device to time its reads and writes (the last of each, in ms). */
export class TimedDevice implements BlockDevice {
  lastReadMs = 0;
  lastWriteMs = 0;

  constructor(private readonly inner: BlockDevice) {
    if (inner.readWith !== undefined) {
      const readWith = inner.readWith.bind(inner);
      this.readWith = async (offset, length, use) => {
        const start = performance.now();
        const result = await readWith(offset, length, use);
        this.lastReadMs = Math.round(performance.now() - start);
        return result;
      };
    }
  }

  get sectorSize(): number {
    return this.inner.sectorSize;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const start = performance.now();
    const data = await this.inner.read(offset, length);
    this.lastReadMs = Math.round(performance.now() - start);
    return data;
  }

  /** BlockDevice.readWith of the inner device, timed like read (absent when the inner device has none). */
  readonly readWith?: <T>(offset: number, length: number, use: (bytes: Uint8Array) => T) => Promise<T>;

  async write(offset: number, data: Uint8Array): Promise<void> {
    const start = performance.now();
    await this.inner.write(offset, data);
    this.lastWriteMs = Math.round(performance.now() - start);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Starts a new measurement (one renewal attempt). */
  reset(): void {
    this.lastReadMs = 0;
    this.lastWriteMs = 0;
  }
}
