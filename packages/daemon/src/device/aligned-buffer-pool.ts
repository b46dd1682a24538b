/**
 * Page-aligned buffers for O_DIRECT I/O, with a hard limit and a quarantine.
 *
 * Why not Buffer: O_DIRECT needs the user buffer aligned to the logical sector
 * size (512 or 4096). `Buffer.alloc` memory is not aligned (small ones come
 * from a shared slab at arbitrary offsets); ext4 answers EINVAL.
 *
 * Approach: each slab is its own `WebAssembly.Memory` with initial = maximum
 * pages. V8 allocates wasm memory with the OS page allocator (mmap), so the
 * backing store starts on a page boundary (4096 or more), and `fs.read` /
 * `fs.write` accept a Uint8Array view of it. This is an observed V8 behaviour,
 * not a documented guarantee; the device tests exercise it on ext4 and on a
 * 4096-byte-sector loop device. The memory is never grown: growing could move
 * the backing store under an I/O that is still in flight.
 *
 * Costs and limits: a slab is a multiple of 64 KiB (the wasm page). On 64-bit
 * V8 each wasm memory also reserves (not commits) several GiB of address space
 * for guard regions, so the number of live slabs must stay small:
 * `maxTotalBytes` and `maxBuffers` bound it.
 *
 * Quarantine: when an I/O outlives its deadline the kernel (a libuv thread)
 * may still write into or read from its buffer at any later time. Such a
 * buffer is quarantined: it is not reused and keeps counting against the
 * limits until its I/O completion fires, then it returns to the pool. Enough
 * stalled I/O therefore exhausts the pool, which fails new I/O with
 * ERR_DEVICE_BUFFER_POOL_EXHAUSTED instead of growing memory without bound.
 */
import { DeviceError, DeviceErrorCode } from "./errors.js";

/** The wasm page: the allocation unit of a slab, and its minimum alignment. */
export const WASM_PAGE_BYTES = 65536;

export interface AlignedBufferPoolLimits {
  /** Largest single buffer. The largest sanlock I/O is one 8 MiB lease area (4 KiB sectors, 8 MiB align). */
  maxBufferBytes: number;
  /** All slabs alive together: in use + idle + quarantined. */
  maxTotalBytes: number;
  /** Number of slabs alive together (each reserves address space, see above). */
  maxBuffers: number;
  /** Idle slabs kept for reuse; more are dropped on release. */
  maxIdleBuffers: number;
}

export const DEFAULT_POOL_LIMITS: Readonly<AlignedBufferPoolLimits> = Object.freeze({
  maxBufferBytes: 16 * 1024 * 1024,
  maxTotalBytes: 128 * 1024 * 1024,
  maxBuffers: 256,
  maxIdleBuffers: 8,
});

export type AlignedBufferState = "in-use" | "quarantined" | "released";

interface Slab {
  readonly memory: WebAssembly.Memory;
  readonly capacityBytes: number;
  /** performance.now() when it last went idle. */
  idleSince: number;
}

/** One acquisition of a slab. `bytes` is a view of exactly the requested length, starting page-aligned. */
export class AlignedBuffer {
  private currentState: AlignedBufferState = "in-use";
  constructor(
    readonly bytes: Uint8Array,
    /** @internal the slab this buffer lends; only the pool touches it */
    readonly slab: Slab,
  ) {}
  get state(): AlignedBufferState {
    return this.currentState;
  }
  /** @internal state changes go through the pool, which keeps the accounting */
  setState(next: AlignedBufferState): void {
    this.currentState = next;
  }
}

export interface AlignedBufferPoolStats {
  inUse: number;
  quarantined: number;
  idle: number;
  totalBytes: number;
}

export class AlignedBufferPool {
  readonly limits: Readonly<AlignedBufferPoolLimits>;
  private readonly idle: Slab[] = [];
  private inUseCount = 0;
  private quarantinedCount = 0;
  private liveBytes = 0;

  constructor(limits: Partial<AlignedBufferPoolLimits> = {}) {
    const merged = { ...DEFAULT_POOL_LIMITS, ...limits };
    for (const [name, value] of Object.entries(merged)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`buffer pool limit ${name} must be a non-negative integer, got ${value}`);
    }
    this.limits = Object.freeze(merged);
  }

  /** A page-aligned buffer of `length` bytes (contents unspecified). Throws ERR_DEVICE_BUFFER_POOL_EXHAUSTED at a limit. */
  acquire(length: number): AlignedBuffer {
    if (!Number.isSafeInteger(length) || length <= 0 || length > this.limits.maxBufferBytes) {
      throw new DeviceError(DeviceErrorCode.INVALID_ARGUMENT, `buffer length ${length} outside 1..${this.limits.maxBufferBytes} bytes`);
    }
    const capacityBytes = Math.ceil(length / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
    const slab = this.takeIdle(capacityBytes) ?? this.allocate(capacityBytes);
    this.inUseCount += 1;
    return new AlignedBuffer(new Uint8Array(slab.memory.buffer, 0, length), slab);
  }

  /**
   * The buffer's I/O passed its deadline and may still be running in the
   * kernel: keep the slab out of circulation until `release` is called from
   * the I/O's completion.
   */
  quarantine(buffer: AlignedBuffer): void {
    if (buffer.state !== "in-use") throw new Error(`assertion: quarantine of a ${buffer.state} buffer`);
    buffer.setState("quarantined");
    this.inUseCount -= 1;
    this.quarantinedCount += 1;
  }

  /** Return a buffer whose I/O has completed (or never started). Releasing twice is a bug and throws. */
  release(buffer: AlignedBuffer): void {
    if (buffer.state === "released") throw new Error("assertion: buffer released twice");
    if (buffer.state === "quarantined") this.quarantinedCount -= 1;
    else this.inUseCount -= 1;
    buffer.setState("released");
    if (this.idle.length < this.limits.maxIdleBuffers) {
      buffer.slab.idleSince = performance.now();
      this.idle.push(buffer.slab);
    } else this.liveBytes -= buffer.slab.capacityBytes; // dropped; V8 frees it when collected
  }

  /**
   * Drops the idle slabs that nobody took for `keepMs` (a burst's slabs, kept for reuse while
   * the burst lasts) and returns their bytes. Their memory stays resident until V8 collects
   * the dropped WebAssembly.Memory objects (process-memory.ts runs that collection).
   */
  trimIdle(keepMs: number, now: number = performance.now()): number {
    let dropped = 0;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const slab = this.idle[i]!;
      if (now - slab.idleSince < keepMs) continue;
      this.idle.splice(i, 1);
      this.liveBytes -= slab.capacityBytes;
      dropped += slab.capacityBytes;
    }
    return dropped;
  }

  stats(): AlignedBufferPoolStats {
    return { inUse: this.inUseCount, quarantined: this.quarantinedCount, idle: this.idle.length, totalBytes: this.liveBytes };
  }

  /** Smallest idle slab that fits, removed from the idle list. */
  private takeIdle(capacityBytes: number): Slab | undefined {
    let best = -1;
    for (let i = 0; i < this.idle.length; i++) {
      const slab = this.idle[i]!;
      if (slab.capacityBytes >= capacityBytes && (best < 0 || slab.capacityBytes < this.idle[best]!.capacityBytes)) best = i;
    }
    return best < 0 ? undefined : this.idle.splice(best, 1)[0];
  }

  private allocate(capacityBytes: number): Slab {
    // Drop idle slabs (largest first) until the new one fits under the limits.
    this.idle.sort((a, b) => a.capacityBytes - b.capacityBytes);
    while (this.idle.length > 0 && !this.fits(capacityBytes)) {
      this.liveBytes -= this.idle.pop()!.capacityBytes;
    }
    if (!this.fits(capacityBytes)) {
      const { inUse, quarantined } = this.stats();
      throw new DeviceError(
        DeviceErrorCode.POOL_EXHAUSTED,
        `aligned buffer pool full: ${capacityBytes} more bytes would exceed ${this.limits.maxTotalBytes} bytes or ${this.limits.maxBuffers} buffers (${inUse} in use, ${quarantined} quarantined by timed-out I/O)`,
      );
    }
    const pages = capacityBytes / WASM_PAGE_BYTES;
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    } catch (cause) {
      throw new DeviceError(DeviceErrorCode.POOL_EXHAUSTED, `cannot allocate a ${capacityBytes}-byte aligned buffer: ${String(cause)}`, { cause });
    }
    this.liveBytes += capacityBytes;
    return { memory, capacityBytes, idleSince: 0 };
  }

  private fits(capacityBytes: number): boolean {
    const liveBuffers = this.inUseCount + this.quarantinedCount + this.idle.length;
    return this.liveBytes + capacityBytes <= this.limits.maxTotalBytes && liveBuffers + 1 <= this.limits.maxBuffers;
  }
}
