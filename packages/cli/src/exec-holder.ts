/**
 * Register, acquire, then become the program: what `sanlock client command -r RES -c PATH ARGS`
 * does (sanlock 3.8.5 do_client ACT_COMMAND). The process registers with the daemon, acquires
 * the leases on the registered connection, and then execv()s the program in place. The
 * daemon recorded this pid at REGISTER (SO_PEERCRED), and the registered socket stays open
 * across the exec, so the program itself is the lease holder: the daemon releases the leases
 * only when the program's last descriptor of that socket closes, i.e. when the program has
 * exited and its I/O is over. There is no wrapper process whose death would free the leases
 * while the program still runs (the old `setpriv --pdeathsig` child did exactly that).
 *
 * Why this lives in the CLI package: it uses the client (Registration, acquire) and libc
 * (fcntl, sigaction, pthread_sigmask, execv) through the daemon's libc module, and the CLI is
 * the package that depends on both (the daemon does not depend on the client; the client stays
 * a plain Node library). The CLI imports it dynamically, only for `client command`; the lock
 * managers that start a program under a lease reuse it. Linux (glibc) only, like the daemon.
 *
 * What execv must not inherit from Node, and how it is undone just before the call:
 * - Descriptors: libuv opens everything close-on-exec, the registered socket and Node's
 *   stdio (0, 1, 2) included, and sets them non-blocking. The socket keeps its number (the
 *   "register done N" printed before) and, like fds 0-2, loses FD_CLOEXEC and O_NONBLOCK
 *   (sanlock's own socket and a caller's stdio are blocking). Anything else Node opened
 *   closes at the exec; descriptors this process inherited without close-on-exec pass on.
 * - Output: what Node still buffers for stdout/stderr (a pipe that was full) is written first.
 * - Signals: Node ignores SIGPIPE and SIGXFSZ, and an ignored disposition survives execve
 *   (caught ones are reset by the kernel). Every signal found ignored is set to SIG_DFL —
 *   Node reset all dispositions to default at its own start-up, so an ignore is Node's, not
 *   the caller's. The signal mask of this (the only remaining) thread is emptied.
 * - PATH: none, as sanlock: execv, not execvp; a relative path is relative to the cwd.
 * - Environment: execv passes `environ`, which process.env writes update (setenv).
 * If execv fails, all of the above is put back as it was and the failure is returned; the
 * leases are still held by this process until the caller closes the registration or exits.
 */
import { errnoName, lastErrno, libcFunction } from "@sanlock-ts/daemon/libc";
import type { WaitLimits } from "@sanlock-ts/client/connection";
import { acquire, type AcquireSpec } from "@sanlock-ts/client/operations";
import { Registration } from "@sanlock-ts/client/registration";

/** Why the program could not be executed (execv returned). */
export interface ExecFailure {
  /** errno of execv (ENOENT = 2, EACCES = 13...). */
  readonly errno: number;
  /** Its name, e.g. "ENOENT", or "errno N" when Node does not know it. */
  readonly code: string;
  /** strerror(errno): the text perror("execv failed") prints after "execv failed: ". */
  readonly message: string;
}

export interface AcquireOptions {
  /** Limit of the wait for the acquire reply; none by default (acquire waits by design). */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
/** <fcntl.h> on x86_64 and aarch64. */
const O_NONBLOCK = 0o4000;
const SIG_DFL = 0;
const SIG_IGN = 1;
const SIG_SETMASK = 2;
/** glibc's sigset_t (1024 bits). */
const SIGSET_BYTES = 128;
/** More than glibc's struct sigaction (152 bytes on 64-bit); sa_handler is its first member. */
const SIGACTION_BYTES = 256;
/** Linux signal numbers; 32 and 33 are glibc's own and refuse sigaction. */
const MAX_SIGNAL = 64;

interface Libc {
  fcntl: (fd: number, cmd: number, ...rest: unknown[]) => number;
  sigaction: (signum: number, act: null, oldact: Uint8Array) => number;
  signal: (signum: number, handler: number) => number;
  pthreadSigmask: (how: number, set: Uint8Array, oldset: Uint8Array) => number;
  execv: (path: string, argv: (string | null)[]) => number;
  strerror: (errnum: number) => string;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc === undefined) {
    libc = {
      fcntl: libcFunction<Libc["fcntl"]>("int fcntl(int fd, int cmd, ...)"),
      sigaction: libcFunction<Libc["sigaction"]>("int sigaction(int signum, const uint8_t *act, _Out_ uint8_t *oldact)"),
      signal: libcFunction<Libc["signal"]>("intptr_t signal(int signum, intptr_t handler)"),
      pthreadSigmask: libcFunction<Libc["pthreadSigmask"]>("int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *oldset)"),
      execv: libcFunction<Libc["execv"]>("int execv(const char *path, const char **argv)"),
      strerror: libcFunction<Libc["strerror"]>("const char *strerror(int errnum)"),
    };
  }
  return libc;
}

/**
 * Leases held on a registered connection by a process that will become another program:
 * `register` (or `adopt` a registration made elsewhere), `acquire`, then `becomeProgram`.
 */
export class ExecHolder implements AsyncDisposable {
  private constructor(
    readonly socketPath: string,
    readonly registration: Registration,
  ) {}

  /** Connects to the daemon and registers this process (its pid, which the program will keep). */
  static async register(socketPath: string, limits: WaitLimits = {}): Promise<ExecHolder> {
    return new ExecHolder(socketPath, await Registration.open(socketPath, limits));
  }

  /**
   * Takes over a registration this process opened itself (to `socketPath`), with or without
   * leases acquired on it yet. The CLI does so: its bundle carries its own copy of the client
   * package, whose error classes its result codes are read from.
   */
  static adopt(registration: Registration, socketPath: string): ExecHolder {
    return new ExecHolder(socketPath, registration);
  }

  /** The registered socket's descriptor; the program inherits it under this number. */
  get fd(): number {
    return this.registration.fd;
  }

  /** Acquires `specs` on the registered connection (throws SanlockError with the daemon's result). */
  async acquire(specs: readonly AcquireSpec[], flags = 0, options: AcquireOptions = {}): Promise<void> {
    await acquire(
      { socketPath: this.socketPath, timeoutMs: options.timeoutMs, signal: options.signal },
      { registration: this.registration },
      [...specs],
      flags,
    );
  }

  /**
   * Replaces this process with `path` (argv[0] = path, then `args`), which keeps the
   * registered connection and so the leases. Never resolves when it works; resolves with
   * the failure, everything restored and the leases still held, when execv returns.
   * `keepFds` are more descriptors the program inherits as they are numbered here (made
   * inheritable and blocking like the socket), e.g. `supervise`'s channel on fd 3.
   */
  async becomeProgram(path: string, args: readonly string[] = [], options: { keepFds?: readonly number[] } = {}): Promise<ExecFailure> {
    if (!this.registration.isOpen || this.fd < 0) throw new Error("becomeProgram: the registered connection is closed; its leases are gone");
    return execInPlace(path, args, [this.fd, ...(options.keepFds ?? [])], () => {
      if (!this.registration.isOpen) throw new Error("becomeProgram: the registered connection closed; its leases are gone");
    });
  }

  /** Closes the registered connection: the daemon releases the leases (before any exec only). */
  async close(): Promise<void> {
    await this.registration.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * The exec of `becomeProgram`, also for a program that holds no lease (`supervise` without
 * -r): replaces this process with `path`, passing `keepFds` and fds 0-2 on as described at the
 * top of this file. `beforeExec` runs after the output was flushed, just before the point of
 * no return (it may throw to stop). Resolves only with the failure when execv returns.
 */
export async function execInPlace(
  path: string,
  args: readonly string[],
  keepFds: readonly number[],
  beforeExec: () => void = () => undefined,
): Promise<ExecFailure> {
  const argv = [path, ...args];
  if (path === "") throw new TypeError("becomeProgram: empty program path");
  if (argv.some((a) => a.includes("\0"))) throw new TypeError("becomeProgram: an argument contains a NUL byte");
  const c = loadLibc();
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  beforeExec();
  // From here to execv nothing yields to the event loop: libuv cannot touch the descriptors.
  const undo: (() => void)[] = [];
  try {
    for (const fd of new Set([...keepFds, 0, 1, 2])) inheritable(c, fd, undo);
    for (let sig = 1; sig <= MAX_SIGNAL; sig++) defaultIfIgnored(c, sig, undo);
    const oldMask = new Uint8Array(SIGSET_BYTES);
    if (c.pthreadSigmask(SIG_SETMASK, new Uint8Array(SIGSET_BYTES), oldMask) === 0) {
      undo.push(() => c.pthreadSigmask(SIG_SETMASK, oldMask, new Uint8Array(SIGSET_BYTES)));
    }
    c.execv(path, [...argv, null]);
    const errno = lastErrno();
    return { errno, code: errnoName(errno), message: c.strerror(errno) };
  } finally {
    for (const step of undo.reverse()) step();
  }
}

/** Clears FD_CLOEXEC and O_NONBLOCK on an open descriptor, recording how to put them back. */
function inheritable(c: Libc, fd: number, undo: (() => void)[]): void {
  const fdFlags = c.fcntl(fd, F_GETFD);
  if (fdFlags < 0) return; // not open
  if (fdFlags & FD_CLOEXEC) {
    c.fcntl(fd, F_SETFD, "int", fdFlags & ~FD_CLOEXEC);
    undo.push(() => c.fcntl(fd, F_SETFD, "int", fdFlags));
  }
  const flags = c.fcntl(fd, F_GETFL);
  if (flags >= 0 && flags & O_NONBLOCK) {
    c.fcntl(fd, F_SETFL, "int", flags & ~O_NONBLOCK);
    undo.push(() => c.fcntl(fd, F_SETFL, "int", flags));
  }
}

/** SIG_IGN → SIG_DFL (caught signals are left alone: execve resets them itself). */
function defaultIfIgnored(c: Libc, sig: number, undo: (() => void)[]): void {
  const old = new Uint8Array(SIGACTION_BYTES);
  if (c.sigaction(sig, null, old) !== 0) return;
  const handler = new BigInt64Array(old.buffer, 0, 1)[0];
  if (handler !== BigInt(SIG_IGN)) return;
  c.signal(sig, SIG_DFL);
  undo.push(() => c.signal(sig, SIG_IGN));
}

/** Waits until Node has handed everything written so far to the kernel. */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    stream.write("", () => resolve()); // called after the writes before it, also on error
  });
}
