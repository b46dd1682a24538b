/**
 * BlockDevice over a regular file or a block device, opened for direct,
 * synchronous I/O: O_RDWR | O_DIRECT | O_SYNC, as sanlock opens its disks
 * (docs/algorithms.md §1.5 item 1). O_SYNC includes O_DSYNC's guarantee that a
 * completed write is on stable storage; O_DIRECT makes reads bypass the page
 * cache so they observe other hosts' writes.
 *
 * Each read or write:
 * - is checked before it reaches the kernel: whole sectors only (offset and
 *   length multiples of `sectorSize`), inside the device for block devices,
 *   at most `maxIoBytes` (docs/algorithms.md §1.5 item 3);
 * - waits for one of the device's in-flight slots (in-flight-limiter.ts);
 * - goes through a page-aligned buffer (aligned-buffer-pool.ts);
 * - has one deadline covering the slot wait and the I/O (the device's
 *   `ioTimeoutMs`, or the call's `timeoutMs`). A late I/O rejects with
 *   ERR_DEVICE_IO_TIMEOUT and counts as failed; its buffer stays quarantined and its
 *   slot taken until the kernel finishes it, since it may still land (docs/algorithms.md §1.5
 *   item 5).
 */
import { channels, type IoMessage, type IoTimeoutMessage } from "../diagnostics.js";
import { type AlignedBuffer, AlignedBufferPool, type SlabKeeper } from "./aligned-buffer-pool.js";
import { nodeDeviceIo, type BlockDeviceGeometry, type DeviceIo } from "./device-io.js";
import { DeviceError, DeviceErrorCode, errnoOf } from "./errors.js";
import { InFlightLimiter } from "./in-flight-limiter.js";
import { DEFAULT_MAX_IN_FLIGHT_PER_DEVICE } from "./threadpool.js";
import fs from "node:fs";
import type { BlockDevice } from "@sanlock-ts/core";

/** Sector sizes sanlock supports (docs/ondisk.md §2). */
export const SUPPORTED_SECTOR_SIZES: readonly number[] = [512, 4096];
/** sanlock's default io_timeout, 10 s (docs/algorithms.md §1.2). */
export const DEFAULT_IO_TIMEOUT_MS = 10_000;
/** Upper bound on any deadline; sanlock's longest is 60 s for initialising writes. */
export const MAX_IO_TIMEOUT_MS = 600_000;
/** Largest single I/O: one 8 MiB lease area, the biggest sanlock reads at once. */
export const DEFAULT_MAX_IO_BYTES = 8 * 1024 * 1024;
/** Bound on I/Os queued for a slot on one device. */
export const DEFAULT_MAX_WAITING_PER_DEVICE = 64;
/**
 * In-flight slots of a device shared by every resource lease on one path
 * (resources/lease-devices.ts). Parallel acquires on one path need more than
 * the default 4 (8 clients each keep one I/O in flight, plus releases); still
 * a stalled path holds at most 16 threads of libuv's pool (128 in the daemon,
 * threadpool.ts), where one device per lease let one stalled path take them all.
 */
export const SHARED_DEVICE_MAX_IN_FLIGHT = 16;

export const OPEN_FLAGS = fs.constants.O_RDWR | fs.constants.O_DIRECT | fs.constants.O_SYNC;

export interface DirectDeviceOptions {
  /**
   * Regular files: the sector size to use, default 512 (sanlock treats files
   * as 512-byte sectors, docs/algorithms.md §1.5 item 2); pass the area's recorded size (4096)
   * when known. Block devices: default the logical sector size (BLKSSZGET);
   * a larger supported value is allowed (4096 on a 512 device), a smaller one
   * is rejected since the kernel would refuse the I/O.
   */
  sectorSize?: number;
  /** Deadline for each I/O in ms; default 10 000 (io_timeout 10 s). */
  ioTimeoutMs?: number;
  /** Deadline for open and fstat in ms; default the I/O deadline. */
  openTimeoutMs?: number;
  /** I/Os in the kernel at once for this device; default 4. */
  maxInFlight?: number;
  /** I/Os allowed to wait for a slot; default 64. */
  maxWaiting?: number;
  /** Largest single read or write; default 8 MiB. */
  maxIoBytes?: number;
  /** Aligned buffers; default one pool shared by all devices of the process. */
  pool?: AlignedBufferPool;
  /**
   * Keep the slab of this device's largest I/O for its next ones (aligned-buffer-pool.ts,
   * SlabKeeper): for a device that repeats one large read, a lockspace's renewal read. Default false.
   */
  keepSlab?: boolean;
  /** System calls; tests inject slow or failing ones. */
  io?: DeviceIo;
}

export interface IoCallOptions {
  /** This call's deadline in ms, instead of the device's (e.g. 60 s for initialising writes). */
  timeoutMs?: number;
}

export interface DirectDeviceStats {
  reads: number;
  writes: number;
  /** Reads and writes that rejected, including timeouts. */
  failed: number;
  timedOut: number;
  /** I/Os the kernel has not finished, including timed-out ones. */
  inFlight: number;
}

export type DeviceKind = "file" | "block";

let sharedPool: AlignedBufferPool | undefined;
/** The process-wide buffer pool used when no pool is passed. */
export function sharedAlignedBufferPool(): AlignedBufferPool {
  sharedPool ??= new AlignedBufferPool();
  return sharedPool;
}

/** Open `path` for O_DIRECT I/O. Errors: ERR_DEVICE_NOT_FOUND, ERR_DEVICE_ACCESS, ERR_DEVICE_NOT_A_DEVICE, ERR_DEVICE_NO_O_DIRECT, ERR_DEVICE_BAD_SECTOR_SIZE, ERR_DEVICE_IO_TIMEOUT. */
export async function openDirectDevice(path: string, options: DirectDeviceOptions = {}): Promise<DirectDevice> {
  const io = options.io ?? nodeDeviceIo;
  const ioTimeoutMs = checkTimeout(options.ioTimeoutMs ?? DEFAULT_IO_TIMEOUT_MS, "ioTimeoutMs");
  const openTimeoutMs = checkTimeout(options.openTimeoutMs ?? ioTimeoutMs, "openTimeoutMs");
  const fd = await withDeadline(io.open(path, OPEN_FLAGS), openTimeoutMs, `open of ${path}`, (lateFd) => {
    void io.close(lateFd).catch(() => undefined); // an open that finished after we gave up: nobody owns that fd
  }).catch((err: unknown) => {
    throw err instanceof DeviceError ? err : openError(path, err);
  });
  try {
    const stat = await withDeadline(io.fstat(fd), openTimeoutMs, `fstat of ${path}`);
    let kind: DeviceKind;
    let sectorSize: number;
    let knownSize: number;
    if (stat.isBlockDevice) {
      const geometry = blockGeometryOf(io, fd, path);
      kind = "block";
      sectorSize = chooseBlockSectorSize(path, geometry.logicalSectorSize, options.sectorSize);
      knownSize = geometry.sizeBytes;
    } else if (stat.isRegularFile) {
      kind = "file";
      sectorSize = checkSectorSize(path, options.sectorSize ?? 512);
      knownSize = stat.size;
    } else {
      throw new DeviceError(DeviceErrorCode.NOT_A_DEVICE, `${path} is neither a regular file nor a block device`);
    }
    return new DirectDevice(path, fd, kind, sectorSize, knownSize, ioTimeoutMs, options, io, stat.identity);
  } catch (err) {
    await io.close(fd).catch(() => undefined);
    throw err;
  }
}

export class DirectDevice implements BlockDevice {
  private ioTimeout: number;
  private knownSize: number;
  private readonly limiter: InFlightLimiter;
  private readonly pool: AlignedBufferPool;
  private readonly keeper: SlabKeeper | undefined;
  private readonly maxIoBytes: number;
  private readonly counters = { reads: 0, writes: 0, failed: 0, timedOut: 0 };
  private closeRequested = false;
  private fdClosed: Promise<void> | undefined;
  private resolveFdClosed: (() => void) | undefined;

  /** @internal use openDirectDevice */
  constructor(
    readonly path: string,
    private readonly fd: number,
    readonly kind: DeviceKind,
    /** The I/O alignment unit in bytes (512 or 4096). */
    readonly sectorSize: number,
    knownSize: number,
    ioTimeoutMs: number,
    options: DirectDeviceOptions,
    private readonly io: DeviceIo,
    /** What `path` named at open (FileStat.identity); undefined if the I/O layer did not say. */
    readonly identity?: string,
  ) {
    this.knownSize = knownSize;
    this.ioTimeout = ioTimeoutMs;
    this.pool = options.pool ?? sharedAlignedBufferPool();
    this.keeper = options.keepSlab === true ? this.pool.keeper() : undefined;
    this.maxIoBytes = options.maxIoBytes ?? DEFAULT_MAX_IO_BYTES;
    if (!Number.isSafeInteger(this.maxIoBytes) || this.maxIoBytes < sectorSize || this.maxIoBytes > this.pool.limits.maxBufferBytes) {
      throw new RangeError(`maxIoBytes ${this.maxIoBytes} must be between the sector size and the pool's maxBufferBytes ${this.pool.limits.maxBufferBytes}`);
    }
    this.limiter = new InFlightLimiter(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT_PER_DEVICE, options.maxWaiting ?? DEFAULT_MAX_WAITING_PER_DEVICE);
  }

  /** The default deadline of each I/O in ms; sanlock sets it from the lockspace's io_timeout. */
  get ioTimeoutMs(): number {
    return this.ioTimeout;
  }
  set ioTimeoutMs(ms: number) {
    this.ioTimeout = checkTimeout(ms, "ioTimeoutMs");
  }

  /**
   * True when `path` still names what this device opened: the same block device, or the same
   * file, not one put in its place since (a lease written through a stale fd would be invisible to
   * the other hosts). A device kept open between uses is reused only then (lease-devices.ts).
   * The stat is bounded by the I/O deadline; any failure answers false.
   */
  async stillNamedByPath(): Promise<boolean> {
    if (this.closeRequested || this.identity === undefined || this.io.stat === undefined) return false;
    try {
      const now = await withDeadline(this.io.stat(this.path), this.ioTimeout, `stat of ${this.path}`);
      if (now.identity !== this.identity) return false;
      // Same file: its size comes with the stat, so reaches() need not fstat it again.
      if (this.kind === "file") this.knownSize = now.size;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Whether the device is at least `end` bytes long. Answered from the size last seen (at
   * open, by size() or by stillNamedByPath's stat) when that reaches `end`, else asked again:
   * a block device or a shared file may have grown since. A size seen earlier is too large only
   * if the file was truncated meanwhile; a read past the new end then fails (ERR_DEVICE_OUT_OF_RANGE).
   */
  async reaches(end: number): Promise<boolean> {
    if (this.knowsItReaches(end)) return true;
    return end <= (await this.size());
  }

  /** Whether the size last seen already reaches `end` (no I/O). */
  knowsItReaches(end: number): boolean {
    return end <= this.knownSize;
  }

  /** Size in bytes: BLKGETSIZE64 for a block device, fstat for a file. */
  async size(): Promise<number> {
    this.assertOpen("size");
    if (this.kind === "block") {
      this.knownSize = blockGeometryOf(this.io, this.fd, this.path).sizeBytes;
    } else {
      this.knownSize = (await withDeadline(this.io.fstat(this.fd), this.ioTimeout, `fstat of ${this.path}`)).size;
    }
    return this.knownSize;
  }

  /**
   * Read whole sectors at `offset`. The result is a fresh array, not pool memory: callers keep
   * it as long as they like, so pool memory handed out could only be reused after the garbage
   * collector proved it unreachable, and a new slab for the next read costs as much as this copy
   * (measured: about 0.9 ms per 1 MiB slab vs 0.3-0.8 ms per 1 MiB copy). The dead copies are
   * returned sooner by the daemon's buffer collector (process-memory.ts).
   */
  async read(offset: number, length: number, options: IoCallOptions = {}): Promise<Uint8Array> {
    this.counters.reads += 1;
    return this.countFailure(async () => {
      this.checkRange("read", offset, length);
      return this.runIo("read", offset, length, options, undefined, (buffer) => buffer.bytes.slice());
    });
  }

  /**
   * Read whole sectors at `offset` and hand the pool buffer itself to `use`, synchronously, before
   * the buffer goes back to the pool (no copy; `use` must not keep it). Not called after a timeout:
   * a timed-out read's buffer stays quarantined until the kernel finishes with it.
   */
  async readWith<T>(offset: number, length: number, use: (bytes: Uint8Array) => T, options: IoCallOptions = {}): Promise<T> {
    this.counters.reads += 1;
    // What `use` throws is about the data, not the device: kept out of the failure counters.
    let useFailed: { error: unknown } | undefined;
    const result = await this.countFailure(async () => {
      this.checkRange("read", offset, length);
      return this.runIo("read", offset, length, options, undefined, (buffer): T | undefined => {
        try {
          return use(buffer.bytes);
        } catch (error) {
          useFailed = { error };
          return undefined;
        }
      });
    });
    if (useFailed !== undefined) throw useFailed.error;
    return result as T;
  }

  /** Write whole sectors at `offset`; resolves once the data is on stable storage (O_SYNC). */
  async write(offset: number, data: Uint8Array, options: IoCallOptions = {}): Promise<void> {
    this.counters.writes += 1;
    return this.countFailure(async () => {
      this.checkRange("write", offset, data.length);
      return this.runIo(
        "write",
        offset,
        data.length,
        options,
        (buffer) => buffer.bytes.set(data),
        () => undefined,
      );
    });
  }

  /**
   * Stop accepting I/O. The fd itself is closed only when no I/O is in the
   * kernel any more: closing earlier would let the number be reused by a new
   * open while a queued read or write still names it. So with a stalled I/O
   * this resolves at once and the fd closes when that I/O finishes
   * (`whenFdClosed`).
   */
  async close(): Promise<void> {
    if (!this.closeRequested) {
      this.closeRequested = true;
      this.fdClosed = new Promise((resolve) => (this.resolveFdClosed = resolve));
      this.closeFdIfIdle();
    }
    if (this.limiter.inFlightCount === 0) await this.fdClosed;
  }

  /** Resolves when the fd has been closed (after close() and the last in-flight I/O). */
  whenFdClosed(): Promise<void> {
    return this.fdClosed ?? Promise.reject(new DeviceError(DeviceErrorCode.CLOSED, `${this.path}: close() was not called`));
  }

  stats(): DirectDeviceStats {
    return { ...this.counters, inFlight: this.limiter.inFlightCount };
  }

  private async countFailure<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      this.counters.failed += 1;
      if (err instanceof DeviceError && err.code === DeviceErrorCode.IO_TIMEOUT) this.counters.timedOut += 1;
      throw err;
    }
  }

  /** Everything that can be refused without the kernel (docs/algorithms.md §1.5 item 3: whole sectors only). */
  private checkRange(op: "read" | "write", offset: number, length: number): void {
    this.assertOpen(op);
    // Built only for an error: this runs for every I/O.
    const where = (): string => this.describeIo(op, offset, length);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new DeviceError(DeviceErrorCode.INVALID_ARGUMENT, `${where()}: offset must be a non-negative integer`);
    }
    if (!Number.isSafeInteger(length) || length <= 0 || length > this.maxIoBytes) {
      throw new DeviceError(DeviceErrorCode.INVALID_ARGUMENT, `${where()}: length must be 1..${this.maxIoBytes} bytes`);
    }
    if (offset % this.sectorSize !== 0 || length % this.sectorSize !== 0) {
      throw new DeviceError(DeviceErrorCode.MISALIGNED, `${where()}: offset and length must be multiples of the ${this.sectorSize}-byte sector size`);
    }
    if (this.kind === "block" && offset + length > this.knownSize) {
      // Block devices can grow (an extended LV): ask again before refusing. No media I/O.
      this.knownSize = blockGeometryOf(this.io, this.fd, this.path).sizeBytes;
      if (offset + length > this.knownSize) {
        throw new DeviceError(DeviceErrorCode.OUT_OF_RANGE, `${where()}: device is only ${this.knownSize} bytes`);
      }
    }
    // Regular files are not checked here: another host may have extended a
    // shared file, and writes may extend it. A read past the end comes back
    // short and is reported as ERR_DEVICE_OUT_OF_RANGE below.
  }

  private async runIo<T>(
    op: "read" | "write",
    offset: number,
    length: number,
    options: IoCallOptions,
    fill: ((buffer: AlignedBuffer) => void) | undefined,
    consume: (buffer: AlignedBuffer) => T,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs === undefined ? this.ioTimeout : checkTimeout(options.timeoutMs, "timeoutMs");
    const where = (): string => this.describeIo(op, offset, length);
    const deadline = performance.now() + timeoutMs;
    const slot = await this.limiter.acquire(timeoutMs);
    if (slot === "queue-full") {
      throw new DeviceError(
        DeviceErrorCode.BUSY,
        `${where()}: ${this.limiter.waitingCount} I/Os already wait for the ${this.limiter.maxInFlight} in-flight slots`,
      );
    }
    if (slot === "timeout") {
      throw new DeviceError(DeviceErrorCode.IO_TIMEOUT, `${where()}: no in-flight slot freed within ${timeoutMs} ms (${this.limiter.maxInFlight} I/Os stuck)`);
    }
    const remainingMs = deadline - performance.now();
    let buffer: AlignedBuffer;
    try {
      this.assertOpen(op);
      if (remainingMs <= 0) {
        // The wait for a slot used the whole deadline: do not start an I/O that is already late.
        throw new DeviceError(DeviceErrorCode.IO_TIMEOUT, `${where()}: in-flight slot freed only at the ${timeoutMs} ms deadline`);
      }
      buffer = this.pool.acquire(length, this.keeper);
    } catch (err) {
      this.finishIo();
      throw err;
    }
    fill?.(buffer);
    return new Promise<T>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        this.pool.quarantine(buffer); // the kernel may still use it; released by the completion below
        observeIo(this.path, op, length, deadline - timeoutMs, "timeout", timeoutMs);
        reject(new DeviceError(DeviceErrorCode.IO_TIMEOUT, `${where()}: not complete after ${timeoutMs} ms; counted as failed, it may still complete`));
      }, remainingMs);
      let started: Promise<number>;
      try {
        started = op === "read" ? this.io.read(this.fd, buffer.bytes, offset) : this.io.write(this.fd, buffer.bytes, offset);
      } catch (err) {
        started = Promise.reject(err); // a synchronous throw still goes through the completion path below
      }
      started
        .then(
          (transferred) => {
            if (late) return;
            clearTimeout(timer);
            observeIo(this.path, op, length, deadline - timeoutMs, transferred === length ? "ok" : "error", timeoutMs);
            if (transferred !== length) {
              reject(this.shortIoError(where(), transferred));
              return;
            }
            try {
              resolve(consume(buffer)); // before the buffer goes back to the pool (finally below)
            } catch (err) {
              reject(err);
            }
          },
          (err: unknown) => {
            if (late) return;
            clearTimeout(timer);
            observeIo(this.path, op, length, deadline - timeoutMs, "error", timeoutMs);
            reject(ioError(where(), err, op));
          },
        )
        .finally(() => {
          // The kernel is done with the buffer only now, timed out or not.
          this.pool.release(buffer, this.keeper);
          this.finishIo();
        });
    });
  }

  private describeIo(op: "read" | "write", offset: number, length: number): string {
    return `${op} of ${length} bytes at offset ${offset} on ${this.path}`;
  }

  private shortIoError(where: string, transferred: number): DeviceError {
    if (this.kind === "file") {
      return new DeviceError(DeviceErrorCode.OUT_OF_RANGE, `${where}: only ${transferred} bytes transferred; the file ends inside the range`);
    }
    return new DeviceError(DeviceErrorCode.SHORT_IO, `${where}: only ${transferred} bytes transferred`);
  }

  private finishIo(): void {
    this.limiter.release();
    this.closeFdIfIdle();
  }

  private closeFdIfIdle(): void {
    if (!this.closeRequested || this.limiter.inFlightCount !== 0 || this.resolveFdClosed === undefined) return;
    this.keeper?.close(); // no I/O left to use the kept slab
    const resolve = this.resolveFdClosed;
    this.resolveFdClosed = undefined;
    // A failing close(2) leaves nothing to retry (the fd is gone either way).
    this.io
      .close(this.fd)
      .catch(() => undefined)
      .finally(resolve);
  }

  private assertOpen(op: string): void {
    if (this.closeRequested) throw new DeviceError(DeviceErrorCode.CLOSED, `${op} on ${this.path}: device is closed`);
  }
}

/** The ioctls, with their failure turned into a DeviceError naming the device. */
function blockGeometryOf(io: DeviceIo, fd: number, path: string): BlockDeviceGeometry {
  let geometry: BlockDeviceGeometry;
  try {
    geometry = io.blockGeometry(fd);
  } catch (err) {
    const errno = errnoOf(err);
    throw new DeviceError(DeviceErrorCode.IO_FAILED, `${path}: BLKSSZGET/BLKGETSIZE64 ioctl failed (${errno ?? String(err)})`, { cause: err, errno });
  }
  if (!Number.isSafeInteger(geometry.sizeBytes) || geometry.sizeBytes < 0) {
    throw new DeviceError(DeviceErrorCode.IO_FAILED, `${path}: BLKGETSIZE64 returned ${geometry.sizeBytes}`);
  }
  return geometry;
}

function checkTimeout(ms: number, name: string): number {
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_IO_TIMEOUT_MS) {
    throw new RangeError(`${name} must be in (0, ${MAX_IO_TIMEOUT_MS}] ms, got ${ms}`);
  }
  return ms;
}

function checkSectorSize(path: string, sectorSize: number): number {
  if (!SUPPORTED_SECTOR_SIZES.includes(sectorSize)) {
    throw new DeviceError(DeviceErrorCode.BAD_SECTOR_SIZE, `${path}: sector size ${sectorSize} is not one of ${SUPPORTED_SECTOR_SIZES.join(", ")}`);
  }
  return sectorSize;
}

function chooseBlockSectorSize(path: string, logical: number, requested: number | undefined): number {
  checkSectorSize(path, logical);
  if (requested === undefined) return logical;
  checkSectorSize(path, requested);
  if (requested < logical) {
    throw new DeviceError(
      DeviceErrorCode.BAD_SECTOR_SIZE,
      `${path}: sector size ${requested} is below the device's logical sector size ${logical} (BLKSSZGET)`,
    );
  }
  return requested;
}

/**
 * Race `pending` against a timer. On timeout reject with ERR_DEVICE_IO_TIMEOUT; if
 * `pending` fulfils later, `onLate` gets its value (e.g. to close a late fd).
 */
function withDeadline<T>(pending: Promise<T>, timeoutMs: number, what: string, onLate?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new DeviceError(DeviceErrorCode.IO_TIMEOUT, `${what}: not complete after ${timeoutMs} ms`));
    }, timeoutMs);
    pending.then(
      (value) => {
        if (late) onLate?.(value);
        else {
          clearTimeout(timer);
          resolve(value);
        }
      },
      (err: unknown) => {
        if (!late) {
          clearTimeout(timer);
          reject(err);
        }
      },
    );
  });
}

function openError(path: string, err: unknown): DeviceError {
  const errno = errnoOf(err);
  const opts = { cause: err, errno, syscall: "open" as const };
  switch (errno) {
    case "ENOENT":
      return new DeviceError(DeviceErrorCode.NOT_FOUND, `${path}: no such file or device`, opts);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new DeviceError(DeviceErrorCode.ACCESS, `${path}: cannot open read-write (${errno})`, opts);
    case "EISDIR":
      return new DeviceError(DeviceErrorCode.NOT_A_DEVICE, `${path} is a directory, not a file or block device`, opts);
    case "EINVAL":
      return new DeviceError(DeviceErrorCode.NO_O_DIRECT, `${path}: filesystem does not support O_DIRECT (EINVAL from open)`, opts);
    default:
      return new DeviceError(DeviceErrorCode.IO_FAILED, `${path}: open failed (${errno ?? String(err)})`, opts);
  }
}

function ioError(where: string, err: unknown, syscall: "read" | "write"): DeviceError {
  const errno = errnoOf(err);
  const opts = { cause: err, errno, syscall };
  if (errno === "EINVAL") {
    // Offset, length and buffer are aligned to the sector size in use by construction, so
    // EINVAL here means the filesystem refuses direct I/O, or (a file) the device under the
    // filesystem has larger logical sectors than that sector size (512-byte I/O on 4K).
    return new DeviceError(
      DeviceErrorCode.NO_O_DIRECT,
      `${where}: filesystem does not support O_DIRECT (EINVAL), or the device under it has larger logical sectors than the sector size in use`,
      opts,
    );
  }
  return new DeviceError(DeviceErrorCode.IO_FAILED, `${where}: ${errno ?? String(err)}`, opts);
}

/** The I/O channels (diagnostics.ts); nothing is built unless someone subscribes. `startedAt` is performance.now() at the start. */
function observeIo(path: string, op: "read" | "write", bytes: number, startedAt: number, outcome: "ok" | "timeout" | "error", timeoutMs: number): void {
  if (channels.io.hasSubscribers) channels.io.publish({ path, op, bytes, durationMs: performance.now() - startedAt, outcome } satisfies IoMessage);
  if (outcome === "timeout" && channels.ioTimeout.hasSubscribers) channels.ioTimeout.publish({ path, op, timeoutMs } satisfies IoTimeoutMessage);
}
