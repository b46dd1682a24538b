/**
 * The Linux hardware watchdog character device (/dev/watchdog), driven the way
 * wdmd drives it (sanlock wdmd/main.c): GETTIMEOUT, SETTIMEOUT only when the
 * value differs, GETTIMEOUT again to verify, KEEPALIVE; close with or without
 * the magic 'V'.
 */
import { closeSync, constants as fsConstants, openSync, writeSync } from "node:fs";
import { errnoError, libcFunction } from "../libc.js";
import { WATCHDOG_MAGIC_CLOSE, WDIOC_GETTIMEOUT, WDIOC_KEEPALIVE, WDIOC_SETTIMEOUT, type WatchdogDevice } from "./device.js";
import { WatchdogError } from "./errors.js";

/** The system calls the device needs; injected in tests. */
export interface WatchdogIo {
  open(path: string): number;
  /** ioctl(2) with a pointer to `arg`; returns the result or throws an errno error. */
  ioctl(fd: number, request: number, arg: Buffer): number;
  write(fd: number, data: Uint8Array): number;
  close(fd: number): void;
}

type IoctlFn = (fd: number, request: number, arg: Buffer) => number;
let ioctlFn: IoctlFn | undefined;

/**
 * libc's ioctl(2) through koffi, loaded on first use; the int argument is passed by pointer
 * and read back (GETTIMEOUT fills it). Not the `ioctl` npm addon: it is not context-aware,
 * so it loads in only one thread of a process, and the device is driven from the watchdog
 * thread (thread.ts) while other threads may have loaded it. Throws an errno error (`code`).
 */
function libcIoctl(fd: number, request: number, arg: Buffer): number {
  ioctlFn ??= libcFunction<IoctlFn>("int ioctl(int fd, unsigned long request, uint8_t *arg)");
  const rc = ioctlFn(fd, request, arg);
  if (rc < 0) throw errnoError(`ioctl 0x${request.toString(16)} failed`);
  return rc;
}

/** The real system calls: node:fs (O_WRONLY, close-on-exec) and libc's ioctl. */
export const systemWatchdogIo: WatchdogIo = {
  open: (path) => openSync(path, fsConstants.O_WRONLY),
  ioctl: libcIoctl,
  write: (fd, data) => writeSync(fd, data),
  close: (fd) => closeSync(fd),
};

function errnoCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : String(err);
}

/** A C `int` in native byte order, as the watchdog ioctls take it. */
function intArg(value: number): Buffer {
  const buf = Buffer.alloc(4);
  new Int32Array(buf.buffer, buf.byteOffset, 1)[0] = value;
  return buf;
}

function readIntArg(buf: Buffer): number {
  return new Int32Array(buf.buffer, buf.byteOffset, 1)[0] ?? 0;
}

export class DevWatchdogDevice implements WatchdogDevice {
  private fd = -1;

  constructor(
    private readonly path: string,
    private readonly io: WatchdogIo = systemWatchdogIo,
  ) {}

  get description(): string {
    return this.path;
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  arm(fireTimeoutSeconds: number): void {
    if (!Number.isInteger(fireTimeoutSeconds) || fireTimeoutSeconds < 1) {
      throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", `fire timeout must be a positive integer, got ${fireTimeoutSeconds}`);
    }
    this.open();
    try {
      if (this.getTimeout() !== fireTimeoutSeconds) {
        this.ioctl(WDIOC_SETTIMEOUT, intArg(fireTimeoutSeconds), "WDIOC_SETTIMEOUT");
        const actual = this.getTimeout();
        if (actual !== fireTimeoutSeconds) {
          throw new WatchdogError(
            "ERR_WATCHDOG_TIMEOUT",
            `${this.path}: fire timeout is ${actual} s after setting ${fireTimeoutSeconds} s; refusing to use it`,
          );
        }
      }
      this.keepalive();
    } catch (err) {
      // A device we cannot trust must not stay armed (wdmd closes it with the magic code).
      this.disarm();
      throw err;
    }
  }

  reopen(): void {
    this.open();
    this.keepalive();
  }

  keepalive(): void {
    this.ioctl(WDIOC_KEEPALIVE, intArg(0), "WDIOC_KEEPALIVE");
  }

  closeUnclean(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.io.close(fd);
  }

  disarm(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      this.io.write(fd, Uint8Array.of(WATCHDOG_MAGIC_CLOSE));
    } finally {
      this.io.close(fd);
    }
  }

  private open(): void {
    if (this.fd >= 0) return;
    try {
      this.fd = this.io.open(this.path);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT") {
        throw new WatchdogError("ERR_WATCHDOG_NO_DEVICE", `watchdog device ${this.path} does not exist`, { cause: err });
      }
      throw new WatchdogError("ERR_WATCHDOG_OPEN", `cannot open watchdog device ${this.path}: ${code}`, { cause: err });
    }
  }

  private getTimeout(): number {
    const arg = intArg(0);
    this.ioctl(WDIOC_GETTIMEOUT, arg, "WDIOC_GETTIMEOUT");
    return readIntArg(arg);
  }

  private ioctl(request: number, arg: Buffer, name: string): void {
    if (this.fd < 0) throw new WatchdogError("ERR_WATCHDOG_CLOSED", `${this.path}: ${name} on a closed device`);
    try {
      this.io.ioctl(this.fd, request, arg);
    } catch (err) {
      throw new WatchdogError("ERR_WATCHDOG_IOCTL", `${this.path}: ${name} failed: ${errnoCode(err)}`, { cause: err });
    }
  }
}
