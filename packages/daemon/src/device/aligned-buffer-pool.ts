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
 *
 * Keepers: a device that issues the same large I/O again and again (a lockspace's renewal read,
 * 1 MiB every 2 × io_timeout) keeps its slab between I/Os (SlabKeeper), as sanlock keeps one
 * read buffer per lockspace. A fresh slab's pages are mapped on first touch, and in a VM that
 * costs about 2 ms per MiB (a 1 MiB O_DIRECT read into fresh wasm memory, then one scan of it:
 * 2.2 ms; into a reused one: 0.2 ms); 64 lockspaces renewing together through 8 idle slabs
 * paid it on most renewals. A kept slab yields under pressure: it is dropped before an
 * allocation would fail.
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
  /** Slabs held by keepers between their I/Os. */
  kept: number;
  totalBytes: number;
}

/** One owner's slab, kept between its I/Os (see the file comment). Made by AlignedBufferPool.keeper(). */
export class SlabKeeper {
  /** @internal the kept slab, absent while it is lent out or after a drop */
  slab: Slab | undefined;
  /** @internal set by close(): nothing is kept any more */
  closed = false;
  constructor(private readonly pool: AlignedBufferPool) {}
  /** Gives the kept slab back to the pool; later releases keep nothing. */
  close(): void {
    this.pool.closeKeeper(this);
  }
}

export class AlignedBufferPool {
  readonly limits: Readonly<AlignedBufferPoolLimits>;
  private readonly idle: Slab[] = [];
  private inUseCount = 0;
  private quarantinedCount = 0;
  private liveBytes = 0;
  /** Keepers holding a slab now; their slabs count in liveBytes. */
  private readonly keepers = new Set<SlabKeeper>();

  constructor(limits: Partial<AlignedBufferPoolLimits> = {}) {
    const merged = { ...DEFAULT_POOL_LIMITS, ...limits };
    for (const [name, value] of Object.entries(merged)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`buffer pool limit ${name} must be a non-negative integer, got ${value}`);
    }
    this.limits = Object.freeze(merged);
  }

  /** A keeper for one owner's repeated I/O; it holds nothing until its first release. */
  keeper(): SlabKeeper {
    return new SlabKeeper(this);
  }

  /**
   * A page-aligned buffer of `length` bytes (contents unspecified): the keeper's slab when it has
   * one that fits, else an idle or new one. Throws ERR_DEVICE_BUFFER_POOL_EXHAUSTED at a limit.
   */
  acquire(length: number, keeper?: SlabKeeper): AlignedBuffer {
    if (!Number.isSafeInteger(length) || length <= 0 || length > this.limits.maxBufferBytes) {
      throw new DeviceError(DeviceErrorCode.INVALID_ARGUMENT, `buffer length ${length} outside 1..${this.limits.maxBufferBytes} bytes`);
    }
    const capacityBytes = Math.ceil(length / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
    const slab = this.takeKept(keeper, capacityBytes) ?? this.takeIdle(capacityBytes) ?? this.allocate(capacityBytes);
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

  /**
   * Return a buffer whose I/O has completed (or never started). Releasing twice is a bug and throws.
   * With a keeper, the keeper keeps the slab if it holds none or a smaller one (which then goes
   * back to the pool): an owner's largest I/O finds its slab the next time.
   */
  release(buffer: AlignedBuffer, keeper?: SlabKeeper): void {
    if (buffer.state === "released") throw new Error("assertion: buffer released twice");
    if (buffer.state === "quarantined") this.quarantinedCount -= 1;
    else this.inUseCount -= 1;
    buffer.setState("released");
    let slab = buffer.slab;
    if (keeper !== undefined && !keeper.closed && (keeper.slab === undefined || keeper.slab.capacityBytes < slab.capacityBytes)) {
      const smaller = keeper.slab;
      keeper.slab = slab;
      this.keepers.add(keeper);
      if (smaller === undefined) return;
      slab = smaller;
    }
    this.putIdle(slab);
  }

  /** @internal SlabKeeper.close(): the kept slab goes back as any released one. */
  closeKeeper(keeper: SlabKeeper): void {
    keeper.closed = true;
    const slab = this.dropKept(keeper);
    if (slab !== undefined) this.putIdle(slab);
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
    return { inUse: this.inUseCount, quarantined: this.quarantinedCount, idle: this.idle.length, kept: this.keepers.size, totalBytes: this.liveBytes };
  }

  private putIdle(slab: Slab): void {
    if (this.idle.length < this.limits.maxIdleBuffers) {
      slab.idleSince = performance.now();
      this.idle.push(slab);
    } else this.liveBytes -= slab.capacityBytes; // dropped; V8 frees it when collected
  }

  /** The keeper's slab, lent out (the keeper holds none until the buffer's release), if it is large enough. */
  private takeKept(keeper: SlabKeeper | undefined, capacityBytes: number): Slab | undefined {
    if (keeper?.slab === undefined || keeper.slab.capacityBytes < capacityBytes) return undefined;
    return this.dropKept(keeper);
  }

  private dropKept(keeper: SlabKeeper): Slab | undefined {
    const slab = keeper.slab;
    keeper.slab = undefined;
    this.keepers.delete(keeper);
    return slab;
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
    // Then kept slabs: a keeper's slab saves page faults, a failed allocation fails an I/O.
    for (const keeper of this.keepers) {
      if (this.fits(capacityBytes)) break;
      this.liveBytes -= this.dropKept(keeper)!.capacityBytes;
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
    const liveBuffers = this.inUseCount + this.quarantinedCount + this.idle.length + this.keepers.size;
    return this.liveBytes + capacityBytes <= this.limits.maxTotalBytes && liveBuffers + 1 <= this.limits.maxBuffers;
  }
}
