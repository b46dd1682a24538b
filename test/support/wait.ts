/** Waiting in tests: polls with a limit, never an unbounded wait. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check()` is true, polling every 50 ms; rejects naming `what` after `ms` (a daemon start under load: give 30 s). */
export function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}

/** Polls `probe` every `intervalMs` until it gives a value (anything but undefined); rejects after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${ms} ms)`);
    await sleep(intervalMs);
  }
}

/** Retries `fn` while it throws an error whose errno is in `retryOn`, up to `attempts` times, `delayMs` apart. */
export async function retrying<T>(fn: () => Promise<T>, retryOn: number[], attempts = 40, delayMs = 500): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (i >= attempts || errno === undefined || !retryOn.includes(errno)) throw err;
      await sleep(delayMs);
    }
  }
}

/** CLOCK_MONOTONIC in seconds (libuv's hrtime), the clock of delta-record timestamps. */
export function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}
