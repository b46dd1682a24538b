/**
 * The join's wait after its write is 2·No, No the previous owner's io_timeout (algorithms.md
 * §2.2 step 7). When No is larger than ours, the join's timestamp is already 2N old (a renewal
 * is due), or older than the 8N failure limit, when the join ends: the lockspace would fail at
 * once. The real sanlock 3.8.5 keeps such a lockspace (measured: a record initialised with
 * io_timeout 10 and joined with io_timeout 1 renews normally), so one renewal (§2.3: read, check
 * we are still the owner, write) runs before the join is reported, and its timestamp is the
 * last_success the watchdog is armed with. No process holds a lease of the lockspace yet.
 */
import type { DeltaLease } from "@sanlock-ts/core";
import { DAEMON_CLOCK } from "./daemon-clock.js";

/** last_success for a join that wrote `joinedAt`: that timestamp, or a renewal's when one is due. */
export async function renewIfDueAtJoin(delta: DeltaLease, joinedAt: bigint): Promise<bigint> {
  if (DAEMON_CLOCK.now() - Number(joinedAt) < delta.timeouts.idRenewalSeconds) return joinedAt;
  const renewed = await delta.renew();
  return renewed.timestamp;
}
