/**
 * Memory settings for the daemon process, applied in-process at the start of `sanlock-ts
 * daemon` (the process is started as `node main.js daemon ...`, so node flags on the command
 * line cannot be relied on).
 *
 * What they address (measured holding 1,000 leases, see bench "daemon RSS"):
 * - V8's young generation grows from 1 MiB to 16 MiB per semi-space (32 MiB committed) under
 *   the daemon's allocation rate, though what survives a scavenge is small. The growth factor of
 *   1 set at run time did not hold it (V8 heap statistics holding 1,000 leases: new space 16 MiB),
 *   so the daemon caps it with --max-semi-space-size=1 (MiB), which V8 reads once, when an
 *   isolate's heap is set up: for the main isolate it is a node flag of the re-executed image
 *   (DAEMON_STARTUP), and set at run time it reaches the isolates created later (the renewal
 *   worker), also when no re-exec happens. Measured holding 1,000 leases (`pnpm bench --steps
 *   hold --only sanlock-ts`): RssAnon 62-71 MiB without, 47-54 MiB with (and MALLOC_ARENA_MAX),
 *   with no more daemon CPU for the acquires.
 * - V8 lets the old generation (and with it the external memory of dropped buffers) grow by a
 *   factor of up to 2 or more before the next full collection; 1.2 keeps the dead 1 MiB read
 *   buffers fewer at a cost of more, small (about 9 ms) collections. Measured holding 1,000
 *   leases after 8 parallel clients: 115-126 MiB RSS without, 104-108 MiB with.
 * - A full collection frees dead objects but V8 moves live ones out of only a few sparse pages, so
 *   after a burst (1,000 acquires) the old generation stays committed at about 1.4 times what is
 *   live, and the collector below cannot give that back. --compact-on-every-full-gc evacuates
 *   every fragmented page on each full collection, which are few while the daemon is steady
 *   (V8's own, and the collector's at most every 5 s). Measured holding 1,000 leases, 10 s after
 *   the acquires (`pnpm bench --steps hold --only sanlock-ts`, interleaved runs): RssAnon
 *   31.1-33.8 MiB in eight runs with it against 36.2-37.4 in six without; the daemon CPU for
 *   the 1,000 acquires within the same spread (2.3-3.3 s against 2.4-3.6), and EX
 *   acquire+release median and p99 as before. The cost is in each full collection of the main
 *   isolate: 20-28 ms instead of 2-3 ms (--trace-gc; some 100 of them while the bench formats
 *   1,010 resources, a few a minute under EX cycles).
 *   Compacting only in the collector's own collections (the flag set around its gc()) was
 *   tried and measured worse: 41-42 MiB, as V8's other collections left the pages sparse again.
 * - glibc raises its mmap threshold after the first large block is freed (dynamic threshold),
 *   after which the 1 MiB buffers of lease-area reads come from the brk heap and fragment it:
 *   freed memory in the middle of the heap stays resident. A fixed threshold would give each
 *   such buffer its own mapping, but that doubles the cost of every copy (mmap + page faults,
 *   measured 0.33 → 0.78 ms per MiB), so instead the buffer collector below asks glibc to
 *   return free pages (malloc_trim) after each collection.
 * - glibc gives each thread that allocates its own arena (up to 8 per CPU); the daemon's
 *   threads (libuv's pool of 128, the renewal worker, V8's helpers) each keep freed memory in
 *   theirs. mallopt(M_ARENA_MAX) at run time comes after node's own threads started; the
 *   re-executed image gets MALLOC_ARENA_MAX in its environment, which glibc reads at start.
 *
 * Every setting is best effort: without glibc (mallopt missing) or if V8 rejects a flag, the
 * daemon runs with the defaults.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { sharedAlignedBufferPool } from "./device/direct-device.js";
import { libcFunction } from "./libc.js";

/** Largest young-generation semi-space, MiB (see above). */
export const DAEMON_MAX_SEMI_SPACE_MIB = 1;

/** V8 flags set at start. */
export const DAEMON_V8_FLAGS: readonly string[] = [
  "--semi-space-growth-factor=1",
  "--heap-growing-percent=20",
  "--compact-on-every-full-gc",
  `--max-semi-space-size=${DAEMON_MAX_SEMI_SPACE_MIB}`,
];

/** <malloc.h> mallopt parameter. */
const M_ARENA_MAX = -8;

/** malloc arenas shared by all threads. */
export const MALLOC_ARENA_MAX = 2;

/**
 * Settings read only when a process starts, given to the daemon's re-executed image
 * (device/threadpool.ts reexecWithDaemonThreadpool); an operator's own value is kept.
 */
export const DAEMON_STARTUP = Object.freeze({
  nodeFlags: Object.freeze([`--max-semi-space-size=${DAEMON_MAX_SEMI_SPACE_MIB}`]),
  env: Object.freeze({ MALLOC_ARENA_MAX: String(MALLOC_ARENA_MAX) }),
});

export interface ProcessMemorySettings {
  /** V8 flags that were set. */
  readonly v8Flags: readonly string[];
  /** mallopt settings glibc accepted, e.g. "M_MMAP_THRESHOLD=131072". */
  readonly malloc: readonly string[];
}

interface GlibcMalloc {
  mallopt(param: number, value: number): number;
  /** Returns free heap pages to the kernel; 1 if it released any. */
  mallocTrim(pad: number): number;
}

let glibcMalloc: GlibcMalloc | null | undefined;

/** glibc's mallopt and malloc_trim, or undefined without glibc. */
function loadGlibcMalloc(): GlibcMalloc | undefined {
  if (glibcMalloc !== undefined) return glibcMalloc ?? undefined;
  try {
    glibcMalloc = {
      mallopt: libcFunction<GlibcMalloc["mallopt"]>("int mallopt(int param, int value)"),
      mallocTrim: libcFunction<GlibcMalloc["mallocTrim"]>("int malloc_trim(size_t pad)"),
    };
  } catch {
    glibcMalloc = null; // not glibc
  }
  return glibcMalloc ?? undefined;
}

/** Applies the settings above to this process; call once, first thing in the daemon process. */
export function applyDaemonMemorySettings(): ProcessMemorySettings {
  const v8Flags: string[] = [];
  for (const flag of DAEMON_V8_FLAGS) {
    try {
      v8.setFlagsFromString(flag);
      v8Flags.push(flag);
    } catch {
      // an unknown flag is ignored by V8; nothing else to do
    }
  }
  const malloc: string[] = [];
  const glibc = loadGlibcMalloc();
  // mallopt returns 1 on success.
  if (glibc !== undefined && glibc.mallopt(M_ARENA_MAX, MALLOC_ARENA_MAX) === 1) malloc.push(`M_ARENA_MAX=${MALLOC_ARENA_MAX}`);
  return { v8Flags, malloc };
}

/** How often the collector looks at the buffer memory. */
export const GARBAGE_CHECK_INTERVAL_MS = 1000;
/** Collect once ArrayBuffer memory grew this much since the last collection. */
export const GARBAGE_COLLECT_GROWTH_BYTES = 8 * 1024 * 1024;
/** At most one collection this often, so a busy daemon pays a few ms per interval at most. */
export const GARBAGE_COLLECT_MIN_INTERVAL_MS = 5000;
/** Free heap pages are returned to the kernel this often (whoever collected the buffers). */
export const MALLOC_TRIM_INTERVAL_MS = 5000;
/**
 * Idle aligned I/O slabs (1 MiB each for a lease area) unused this long are dropped from the
 * shared pool: a burst of parallel acquires leaves up to 8 of them, 8-9 MiB resident while the
 * daemon then sits holding its leases (smaps holding 1,000 leases: nine 1 MiB mappings).
 */
export const IDLE_SLAB_KEEP_MS = 5_000;

export interface BufferCollectorOptions {
  /** ArrayBuffer growth that asks for a collection; default GARBAGE_COLLECT_GROWTH_BYTES. */
  growthBytes?: number;
  /** Also return free malloc pages every MALLOC_TRIM_INTERVAL_MS (default true; one thread of the process suffices). */
  mallocTrim?: boolean;
}

/**
 * The renewal worker's collector: its renewal reads copy the lockspace area (1 MiB, 8 MiB for
 * 4 KiB sectors) from the aligned buffer, and those copies, malloc'ed in the worker's arena,
 * otherwise wait for V8's own full collection of the worker's small heap (holding 1,000 leases
 * with one lockspace, smaps showed the worker's arena at 8-9 MiB between collections). A
 * collection of that heap takes a few ms, at most every GARBAGE_COLLECT_MIN_INTERVAL_MS; the
 * main thread's collector returns the pages (malloc_trim covers every arena).
 */
export const WORKER_COLLECTOR_OPTIONS: Readonly<BufferCollectorOptions> = Object.freeze({ growthBytes: 4 * 1024 * 1024, mallocTrim: false });

export interface BufferGarbageCollector {
  /** Full collections run so far. */
  readonly collections: number;
  stop(): void;
}

/**
 * Returns the memory of dropped I/O buffers sooner than V8 would.
 *
 * A read through DirectDevice.read hands its caller a fresh copy (up to 1 MiB for a lease area),
 * dropped once parsed; the paxos reads of an acquire parse in place (readWith) and leave none, the
 * renewal reads and direct requests still copy. Such a buffer outlives a few young-generation collections (it lives across the
 * acquire's I/O), so it is freed only by a full collection, which V8 starts for external
 * memory only after some 64 MiB of growth: up to that much dead buffers stay resident. This
 * runs a full collection when the isolate's ArrayBuffer memory grew by 8 MiB since the last
 * one, or when idle aligned slabs were dropped from the shared pool (IDLE_SLAB_KEEP_MS), at
 * most every 5 s; and every 5 s it returns free heap pages to the kernel (malloc_trim,
 * glibc only), also those of buffers V8 collected on its own. A collection of the daemon's small
 * heap takes a few ms; lease renewals run in the renewal worker with its own heap and are not
 * paused by it.
 *
 * Uses V8's --expose-gc set at run time; `gc` is taken from a fresh context. Returns undefined
 * when that is not available. The timer does not keep the process alive.
 */
export function startBufferGarbageCollector(options: BufferCollectorOptions = {}): BufferGarbageCollector | undefined {
  const gc = exposedGc();
  if (gc === undefined) return undefined;
  const growthBytes = options.growthBytes ?? GARBAGE_COLLECT_GROWTH_BYTES;
  const glibc = options.mallocTrim === false ? undefined : loadGlibcMalloc();
  let baseline = process.memoryUsage().arrayBuffers;
  let lastRun = performance.now();
  let lastTrim = lastRun;
  let collections = 0;
  let droppedSlabBytes = 0;
  const timer = setInterval(() => {
    const buffers = process.memoryUsage().arrayBuffers;
    if (buffers < baseline) baseline = buffers; // V8 collected on its own
    const now = performance.now();
    droppedSlabBytes += sharedAlignedBufferPool().trimIdle(IDLE_SLAB_KEEP_MS, now);
    const garbage = buffers - baseline >= growthBytes || droppedSlabBytes > 0;
    if (garbage && now - lastRun >= GARBAGE_COLLECT_MIN_INTERVAL_MS) {
      gc();
      collections += 1;
      lastRun = performance.now();
      baseline = process.memoryUsage().arrayBuffers;
      droppedSlabBytes = 0;
    }
    if (glibc !== undefined && now - lastTrim >= MALLOC_TRIM_INTERVAL_MS) {
      glibc.mallocTrim(0);
      lastTrim = performance.now();
    }
  }, GARBAGE_CHECK_INTERVAL_MS);
  timer.unref();
  return {
    get collections() {
      return collections;
    },
    stop: () => clearInterval(timer),
  };
}

function exposedGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
