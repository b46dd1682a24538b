/**
 * libuv threadpool policy for the daemon.
 *
 * The problem: Node runs every fs call (open, read, write, fstat, close) on
 * libuv's threadpool, 4 threads by default, shared by the whole process (also
 * dns.lookup, crypto, zlib). A read or write on a device that stops answering
 * blocks its thread until the kernel gives up, which can take minutes, and an
 * fs call cannot be cancelled. Four such calls on one dead device would stall
 * every other lockspace's renewals — on healthy devices — and lose their leases.
 *
 * Our position, two limits together:
 * 1. The daemon raises the pool to DAEMON_THREADPOOL_SIZE (128; libuv's
 *    maximum is 1024) with `applyDaemonThreadpoolSize` at the very start of
 *    the daemon process. libuv reads UV_THREADPOOL_SIZE once, when the pool
 *    starts on the first queued work item, so this must run before any
 *    asynchronous fs/dns/crypto call; a value already set by the operator is
 *    kept if it is at least as large.
 * 2. Each device admits at most DEFAULT_MAX_IN_FLIGHT_PER_DEVICE (4) I/Os at
 *    once (InFlightLimiter), counted until the kernel finishes them, even
 *    after they timed out. So one stalled device holds at most 4 threads, and
 *    with 128 threads 31 devices can stall completely while 4 threads remain
 *    for the rest.
 * Each thread reserves its stack (libuv uses 8 MiB of address space,
 * committed lazily), so 128 threads cost address space, not memory.
 */

/** Threads the daemon asks libuv for. */
export const DAEMON_THREADPOOL_SIZE = 128;

/** libuv clamps UV_THREADPOOL_SIZE to this. */
export const LIBUV_MAX_THREADPOOL_SIZE = 1024;

/** In-flight I/Os one device may hold (sanlock's renewal thread has 4 slots). */
export const DEFAULT_MAX_IN_FLIGHT_PER_DEVICE = 4;

export interface ThreadpoolSetting {
  /** The size libuv will use (if nothing used the pool before this call). */
  size: number;
  /** True if this call changed the environment. */
  changed: boolean;
}

/**
 * Set UV_THREADPOOL_SIZE in `env` (normally process.env) to at least `minimum`.
 * Must run before the process's first threadpool use to take effect.
 */
export function applyDaemonThreadpoolSize(
  env: Record<string, string | undefined>,
  minimum: number = DAEMON_THREADPOOL_SIZE,
): ThreadpoolSetting {
  if (!Number.isSafeInteger(minimum) || minimum < 1 || minimum > LIBUV_MAX_THREADPOOL_SIZE) {
    throw new RangeError(`threadpool size must be 1..${LIBUV_MAX_THREADPOOL_SIZE}, got ${minimum}`);
  }
  const current = Number.parseInt(env.UV_THREADPOOL_SIZE ?? "", 10);
  if (Number.isSafeInteger(current) && current >= minimum) {
    return { size: Math.min(current, LIBUV_MAX_THREADPOOL_SIZE), changed: false };
  }
  env.UV_THREADPOOL_SIZE = String(minimum);
  return { size: minimum, changed: true };
}
