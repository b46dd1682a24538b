// The one shared disk every simulated host reads and writes. Writes are applied sector by sector
// (A1: a single-sector write is atomic), so a multi-sector write applied in pieces is torn at
// sector boundaries only. Observers (the checker) may watch every sector write as it lands.

export type SectorWriteObserver = (sector: number, data: Uint8Array, writer: string) => void;

const MAX_DISK_BYTES = 64 * 1024 * 1024;

export class SharedDisk {
  private readonly bytes: Uint8Array;
  private readonly observers: SectorWriteObserver[] = [];

  constructor(
    readonly sectorSize: number,
    readonly sizeBytes: number,
  ) {
    if (sectorSize !== 512 && sectorSize !== 4096) throw new RangeError(`sector size must be 512 or 4096, got ${sectorSize}`);
    if (sizeBytes <= 0 || sizeBytes % sectorSize !== 0 || sizeBytes > MAX_DISK_BYTES) {
      throw new RangeError(`disk size ${sizeBytes} must be a positive multiple of ${sectorSize} up to ${MAX_DISK_BYTES}`);
    }
    this.bytes = new Uint8Array(sizeBytes);
  }

  onSectorWrite(observer: SectorWriteObserver): void {
    this.observers.push(observer);
  }

  private checkRange(offset: number, length: number): void {
    if (offset % this.sectorSize !== 0 || length % this.sectorSize !== 0 || length <= 0) {
      throw new RangeError(`I/O at ${offset}+${length} is not sector aligned (${this.sectorSize})`);
    }
    if (offset < 0 || offset + length > this.sizeBytes) {
      throw new RangeError(`I/O at ${offset}+${length} is outside the ${this.sizeBytes}-byte disk`);
    }
  }

  /** Copies sectors out (the read itself; callers decide when it happens). */
  readInto(offset: number, target: Uint8Array, targetOffset: number, length: number): void {
    this.checkRange(offset, length);
    target.set(this.bytes.subarray(offset, offset + length), targetOffset);
  }

  /** Writes whole sectors at once (each sector atomically). */
  writeSectors(offset: number, data: Uint8Array, writer: string): void {
    this.checkRange(offset, data.length);
    this.bytes.set(data, offset);
    if (this.observers.length === 0) return;
    for (let pos = 0; pos < data.length; pos += this.sectorSize) {
      const sector = (offset + pos) / this.sectorSize;
      const content = data.subarray(pos, pos + this.sectorSize);
      for (const observer of this.observers) observer(sector, content, writer);
    }
  }

  /** Direct copy for set-up (lease initialisation before the hosts start). */
  load(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    this.bytes.set(data, offset);
  }

  snapshot(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    return this.bytes.slice(offset, offset + length);
  }
}
