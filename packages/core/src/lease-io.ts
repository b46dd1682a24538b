/**
 * Every lease I/O goes through here: one read or write bounded by a timeout on
 * the injected clock (algorithms.md §1.5). A timed-out I/O is reported as
 * -202 while it may still complete later; callers treat a timed-out write as
 * "may or may not have happened".
 */
import type { BlockDevice } from "./block-device.js";
import type { Clock } from "./clock.js";
import { LeaseError, type SanlockResultName } from "./lease-errors.js";

/** Largest single read the algorithms issue: one 8 MiB lease area. */
const MAX_IO_BYTES = 8 * 1024 * 1024;

const TIMED_OUT = Symbol("timed-out");

/** Await one already-issued I/O for at most `timeoutSeconds` on `clock`. */
export async function boundedIo<T>(clock: Clock, timeoutSeconds: number, io: Promise<T>, what: string, failName: SanlockResultName): Promise<T> {
  const stopTimer = new AbortController();
  const timer = clock.sleep(timeoutSeconds, stopTimer.signal).then(
    () => TIMED_OUT,
    () => TIMED_OUT,
  );
  try {
    const result = await Promise.race([io, timer]);
    if (result === TIMED_OUT) {
      io.catch(() => undefined); // the I/O stays in flight; its late outcome is ignored
      throw new LeaseError("AIO_TIMEOUT", `${what} did not complete within ${timeoutSeconds} s`);
    }
    return result as T;
  } catch (err) {
    if (err instanceof LeaseError) throw err;
    throw new LeaseError(failName, `${what} failed: ${(err as Error)?.message ?? String(err)}`, { cause: String(err) });
  } finally {
    stopTimer.abort();
  }
}

export interface IoContext {
  device: BlockDevice;
  clock: Clock;
}

export function readBytes(ctx: IoContext, offset: number, length: number, timeoutSeconds: number, what: string, failName: SanlockResultName): Promise<Uint8Array> {
  if (!Number.isInteger(length) || length <= 0 || length > MAX_IO_BYTES) {
    throw new RangeError(`${what}: read length ${length} outside 1..${MAX_IO_BYTES}`);
  }
  return boundedIo(ctx.clock, timeoutSeconds, ctx.device.read(offset, length), what, failName);
}

export function writeBytes(ctx: IoContext, offset: number, data: Uint8Array, timeoutSeconds: number, what: string, failName: SanlockResultName): Promise<void> {
  if (data.length === 0 || data.length > MAX_IO_BYTES) {
    throw new RangeError(`${what}: write length ${data.length} outside 1..${MAX_IO_BYTES}`);
  }
  return boundedIo(ctx.clock, timeoutSeconds, ctx.device.write(offset, data), what, failName);
}
