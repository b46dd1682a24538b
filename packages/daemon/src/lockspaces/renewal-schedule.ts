/**
 * When a lockspace's delta lease is renewed (docs/algorithms.md §2.2-§2.3), for both places a
 * lockspace runs: the renewal worker (worker-lockspace.ts) and the in-thread lockspace with an
 * injected device (lockspace.ts).
 */
import type { DeltaLease } from "@sanlock-ts/core";
import { DAEMON_CLOCK } from "../daemon-clock.js";

/** The renewal loop wakes this often (sanlock's lockspace thread: every second, docs/algorithms.md §2.3). */
export const TICK_SECONDS = 1;
/** Extra wait before an attempt once a renewal is due (docs/algorithms.md §2.3). */
export const DUE_DELAY_SECONDS = 0.5;

/**
 * last_success for a join that wrote `joinedAt`: that timestamp, or a renewal's when one is due.
 *
 * The join's wait after its write is 2·No, No the previous owner's io_timeout (algorithms.md
 * docs/algorithms.md §2.2 step 7). When No is larger than ours, the join's timestamp is already 2N old (a renewal
 * is due), or older than the 8N failure limit, when the join ends: the lockspace would fail at
 * once. The real sanlock 3.8.5 keeps such a lockspace (measured: a record initialised with
 * io_timeout 10 and joined with io_timeout 1 renews normally), so one renewal (docs/algorithms.md §2.3: read, check
 * we are still the owner, write) runs before the join is reported, and its timestamp is the
 * last_success the watchdog is armed with. No process holds a lease of the lockspace yet.
 */
export async function renewIfDueAtJoin(delta: DeltaLease, joinedAt: bigint): Promise<bigint> {
  if (DAEMON_CLOCK.now() - Number(joinedAt) < delta.timeouts.idRenewalSeconds) return joinedAt;
  const renewed = await delta.renew();
  return renewed.timestamp;
}

/**
 * docs/algorithms.md §2.3 scheduling: wake every second; once 2N have passed since last_success, wait 0.5 s more and
 * run `renewOnce`. Returns when `signal` aborts (an attempt in progress is awaited first).
 */
export async function renewWhenDue(delta: DeltaLease, signal: AbortSignal, renewOnce: () => Promise<void>): Promise<void> {
  while (!signal.aborted) {
    try {
      await DAEMON_CLOCK.sleep(TICK_SECONDS, signal);
      if (DAEMON_CLOCK.now() - Number(delta.lastSuccess) < delta.timeouts.idRenewalSeconds) continue;
      await DAEMON_CLOCK.sleep(DUE_DELAY_SECONDS, signal);
    } catch {
      return; // stopped
    }
    await renewOnce();
  }
}
