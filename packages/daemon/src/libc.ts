/**
 * The daemon's one door to libc. Node has no API for some calls the daemon needs (getsockopt
 * SO_PEERCRED, ioctl on block devices and /dev/watchdog, getpwnam/getgrnam, fcntl, sigaction,
 * execv/execve, mallopt/malloc_trim), so they are bound here through koffi, an FFI with prebuilt
 * binaries. libc.so.6 (glibc, as on every Linux the daemon supports) is loaded once per thread on
 * first use, and each function is bound once.
 */
import { constants as osConstants } from "node:os";
import koffi from "koffi";

let library: ReturnType<typeof koffi.load> | undefined;
const bound = new Map<string, unknown>();

function libc(): ReturnType<typeof koffi.load> {
  library ??= koffi.load("libc.so.6");
  return library;
}

/**
 * The libc function a C prototype declares, e.g. `libcFunction<IoctlFn>("int ioctl(int fd,
 * unsigned long request, uint8_t *arg)")`. `F` is the TypeScript view of it; koffi checks the
 * arguments against the prototype at each call.
 */
export function libcFunction<F>(prototype: string): F {
  let fn = bound.get(prototype);
  if (fn === undefined) {
    fn = libc().func(prototype);
    bound.set(prototype, fn);
  }
  return fn as F;
}

/**
 * A libc function whose result is a koffi type (a pointer to a struct declared with `koffi`).
 * Not cached: bind it once and keep it.
 */
export function libcFunctionOf<F>(name: string, result: unknown, parameters: string[]): F {
  // Called as a method of the library object: koffi's func needs its `this`.
  const library = libc() as unknown as { func(name: string, result: unknown, parameters: string[]): unknown };
  return library.func(name, result, parameters) as F;
}

/** errno as the last libc call on this thread left it. */
export function lastErrno(): number {
  return koffi.errno();
}

/** koffi itself, for the struct layouts and decoding that some calls need. */
export { koffi };

/** The name of an errno value ("ENOTTY"), or "errno N" for one Node does not know. */
export function errnoName(errno: number): string {
  return Object.entries(osConstants.errno).find(([, value]) => value === errno)?.[0] ?? `errno ${errno}`;
}

/** The error a failed libc call throws: `code` names the errno, `errno` is negative as sanlock reports it. */
export function errnoError(message: string, errno = lastErrno()): Error & { code: string; errno: number } {
  const code = errnoName(errno);
  return Object.assign(new Error(`${message}: ${code}`), { code, errno: -errno });
}
