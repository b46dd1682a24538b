/**
 * Every lease I/O goes through here: one read or write bounded by a timeout on
 * the injected clock (docs/algorithms.md §1.5). A timed-out I/O is reported as
 * -202 while it may still complete later; callers treat a timed-out write as
 * "may or may not have happened".
 */
import type { BlockDevice } from "./block-device.js";
import type { Clock, ClockTimer } from "./clock.js";
import { LeaseError, type SanlockResultName } from "./lease-errors.js";

/** Largest single read the algorithms issue: one 8 MiB lease area. */
const MAX_IO_BYTES = 8 * 1024 * 1024;

const TIMED_OUT = Symbol("timed-out");
/** Abort reason for a timer that is no longer needed (a constant: no DOMException per I/O). */
const TIMER_STOPPED = Symbol("timer-stopped");

/** Await one already-issued I/O for at most `timeoutSeconds` on `clock`. */
export async function boundedIo<T>(clock: Clock, timeoutSeconds: number, io: Promise<T>, what: string, failName: SanlockResultName): Promise<T> {
  try {
    const result = await raceTimer(clock, timeoutSeconds, io);
    if (result === TIMED_OUT) {
      io.catch(() => undefined); // the I/O stays in flight; its late outcome is ignored
      throw new LeaseError("AIO_TIMEOUT", `${what} did not complete within ${timeoutSeconds} s`);
    }
    return result;
  } catch (err) {
    if (err instanceof LeaseError) throw err;
    throw new LeaseError(failName, `${what} failed: ${(err as Error)?.message ?? String(err)}`, { cause: String(err) });
  }
}

/** The I/O's outcome, or TIMED_OUT when `seconds` pass first on `clock`; the timer is stopped either way. */
function raceTimer<T>(clock: Clock, seconds: number, io: Promise<T>): Promise<T | typeof TIMED_OUT> {
  if (clock.startTimer) {
    const start = clock.startTimer.bind(clock);
    return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
      // A promise settles once: whichever of I/O and timer comes first decides. The I/O's
      // handlers are attached first (they never run synchronously, so `timer` is set by then).
      let timer: ClockTimer | undefined;
      io.then(
        (value) => {
          timer?.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer?.cancel();
          reject(err);
        },
      );
      timer = start(seconds, () => resolve(TIMED_OUT));
    });
  }
  return raceSleep(clock, seconds, io);
}

/** raceTimer for clocks with only sleep(): an abortable sleep raced against the I/O. */
async function raceSleep<T>(clock: Clock, seconds: number, io: Promise<T>): Promise<T | typeof TIMED_OUT> {
  const stopTimer = new AbortController();
  const timer = clock.sleep(seconds, stopTimer.signal).then(
    (): typeof TIMED_OUT => TIMED_OUT,
    (): typeof TIMED_OUT => TIMED_OUT,
  );
  try {
    return await Promise.race([io, timer]);
  } finally {
    stopTimer.abort(TIMER_STOPPED);
  }
}

export interface IoContext {
  device: BlockDevice;
  clock: Clock;
}

function checkReadLength(what: string, length: number): void {
  if (!Number.isInteger(length) || length <= 0 || length > MAX_IO_BYTES) {
    throw new RangeError(`${what}: read length ${length} outside 1..${MAX_IO_BYTES}`);
  }
}

export function readBytes(
  ctx: IoContext,
  offset: number,
  length: number,
  timeoutSeconds: number,
  what: string,
  failName: SanlockResultName,
): Promise<Uint8Array> {
  checkReadLength(what, length);
  return boundedIo(ctx.clock, timeoutSeconds, ctx.device.read(offset, length), what, failName);
}

/**
 * One bounded read whose bytes are parsed at once by `parse` (which must not keep them): without
 * a copy when the device offers readWith. What `parse` throws settles the read like an I/O
 * error (a LeaseError as is). After a timeout the late read may still run `parse`; its result
 * is ignored.
 */
export function readParsed<T>(
  ctx: IoContext,
  offset: number,
  length: number,
  timeoutSeconds: number,
  what: string,
  failName: SanlockResultName,
  parse: (bytes: Uint8Array) => T,
): Promise<T> {
  checkReadLength(what, length);
  const { device } = ctx;
  const io = device.readWith ? device.readWith(offset, length, parse) : device.read(offset, length).then(parse);
  return boundedIo(ctx.clock, timeoutSeconds, io, what, failName);
}

export function writeBytes(ctx: IoContext, offset: number, data: Uint8Array, timeoutSeconds: number, what: string, failName: SanlockResultName): Promise<void> {
  if (data.length === 0 || data.length > MAX_IO_BYTES) {
    throw new RangeError(`${what}: write length ${data.length} outside 1..${MAX_IO_BYTES}`);
  }
  return boundedIo(ctx.clock, timeoutSeconds, ctx.device.write(offset, data), what, failName);
}
