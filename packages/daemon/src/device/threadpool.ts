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
 *    kept if it is at least as large. Node 20 queues work while loading the
 *    entry's ES modules, so `sanlock daemon` re-executes itself in place with
 *    the variable set (reexecWithDaemonThreadpool, called by main.ts).
 * 2. Each device admits at most DEFAULT_MAX_IN_FLIGHT_PER_DEVICE (4) I/Os at
 *    once (InFlightLimiter), counted until the kernel finishes them, even
 *    after they timed out. So one stalled device holds at most 4 threads, and
 *    with 128 threads 31 devices can stall completely while 4 threads remain
 *    for the rest.
 * Each thread reserves its stack (libuv uses 8 MiB of address space,
 * committed lazily), so 128 threads cost address space, not memory.
 */
import os from "node:os";

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
export function applyDaemonThreadpoolSize(env: Record<string, string | undefined>, minimum: number = DAEMON_THREADPOOL_SIZE): ThreadpoolSetting {
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

/** Set in the environment of a daemon started again by reexecWithDaemonThreadpool (no second re-exec). */
export const THREADPOOL_REEXEC_ENV = "SANLOCK_TS_THREADPOOL_REEXEC";

/** <signal.h>: the "ignore" disposition. */
const SIG_IGN = 1;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

export interface ReexecResult {
  /** Why the process was not started again (it was, otherwise: the call does not return). */
  readonly reason: "large-enough" | "already-reexecuted";
  readonly size: number;
}

/** What else the new image gets when the re-exec happens anyway (settings read only at start). */
export interface ReexecStartup {
  /** Node flags placed before the script, unless execArgv already names the flag. */
  nodeFlags?: readonly string[];
  /** Environment variables set unless already set (the operator's value wins). */
  env?: Readonly<Record<string, string>>;
}

/** `flags` whose name (up to "=") process.execArgv does not already give. */
function addedNodeFlags(flags: readonly string[]): string[] {
  const given = new Set(process.execArgv.map((f) => f.split("=")[0]));
  return flags.filter((f) => !given.has(f.split("=")[0]));
}

/**
 * Makes DAEMON_THREADPOOL_SIZE take effect in this process. Node 20 starts libuv's pool while
 * it loads the ES modules of the entry point, before any of our code runs, so setting
 * UV_THREADPOOL_SIZE from inside the daemon is too late: when `env` (this process's
 * environment) asks for fewer threads, the variable is raised and the same program with the
 * same arguments is executed again in place (execve: same pid, same open stdio, nothing else
 * started yet), so the new image's pool starts at the right size. Call it only in a process
 * that is about to become the daemon, before it opens anything; resolves only when no re-exec
 * was needed (or one was already done), throws if execve failed.
 */
export async function reexecWithDaemonThreadpool(env: NodeJS.ProcessEnv = process.env, startup: ReexecStartup = {}): Promise<ReexecResult> {
  const setting = applyDaemonThreadpoolSize(env);
  if (!setting.changed) return { reason: "large-enough", size: setting.size };
  if (env[THREADPOOL_REEXEC_ENV] === "1") return { reason: "already-reexecuted", size: setting.size };
  env[THREADPOOL_REEXEC_ENV] = "1";
  for (const [name, value] of Object.entries(startup.env ?? {})) env[name] ??= value;
  const argv = [process.argv0, ...addedNodeFlags(startup.nodeFlags ?? []), ...process.execArgv, ...process.argv.slice(1)];
  const envp = Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const { lastErrno, libcFunction } = await import("../libc.js");
  const fcntl = libcFunction<(fd: number, cmd: number, ...rest: unknown[]) => number>("int fcntl(int fd, int cmd, ...)");
  const execve = libcFunction<(path: string, argv: (string | null)[], envp: (string | null)[]) => number>(
    "int execve(const char *path, const char **argv, const char **envp)",
  );
  // Node marks its stdio close-on-exec; the new image must keep the same stdin/stdout/stderr.
  for (const fd of [0, 1, 2]) {
    const flags = fcntl(fd, F_GETFD) as number;
    if (flags >= 0 && (flags & FD_CLOEXEC) !== 0) fcntl(fd, F_SETFD, "int", flags & ~FD_CLOEXEC);
  }
  // Under `node --cpu-prof`, V8's sampler sends this thread SIGPROF. One still pending at the
  // execve would be delivered in the new image before any handler exists, and SIGPROF's default
  // action ends the process (seen: about 1 start in 6 at --cpu-prof-interval=50). Ignoring it
  // discards a pending one and any sent until the old image is gone; the new image installs
  // its own handler if it profiles.
  const signal = libcFunction<(signum: number, handler: number) => number>("intptr_t signal(int signum, intptr_t handler)");
  signal(os.constants.signals.SIGPROF, SIG_IGN);
  execve(process.execPath, [...argv, null], [...envp, null]);
  throw new Error(`execve ${process.execPath} failed (errno ${lastErrno()}) raising UV_THREADPOOL_SIZE to ${setting.size}`);
}
