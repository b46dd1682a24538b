// Evaluation of one lock against the queues of a resource (docs/dlm.md §1.2, §5.4): the kernel's
// grant rules, conversion-deadlock detection and alternate modes, over entries that may belong
// to this host (locks) or to other hosts (published slot entries). Pure: no I/O, no state change.
import { LKM, MODE_IV, compatible } from "./modes.js";
import { LKF } from "./status.js";

/** One lock with a granted mode, a pending request, or both, as the evaluation sees it. */
export interface QueueEntry {
  /** Identity for "not L itself" (a local lock id, or host:index for a remote entry). */
  readonly key: string;
  readonly gr: number;
  readonly rq: number;
  /** LKF bits that matter to the rules (EXPEDITE, QUECVT, NOORDER, CONVDEADLK, NODLCKWT, ALTPR, ALTCW, NOQUEUE). */
  readonly flags: number;
}

/** A resource's granted modes and its two queues, in grant order (docs/dlm.md §3.5). */
export interface ResourceQueues {
  /** Granted modes of every holder: granted locks, converting locks' granted modes, remote grmodes. */
  readonly granted: readonly QueueEntry[];
  readonly convert: readonly QueueEntry[];
  readonly wait: readonly QueueEntry[];
}

export type Verdict =
  | { kind: "grant"; mode: number; altMode: boolean }
  | { kind: "demote" }
  | { kind: "deadlock" }
  | { kind: "deadlock-wait" }
  | { kind: "refuse" }
  | { kind: "queue" };

/** docs/dlm.md §1.2 item 2: a granted mode of another lock conflicts with `rq`. */
function conflicts(queues: ResourceQueues, self: string, rq: number): boolean {
  for (const e of queues.granted) if (e.key !== self && !compatible(e.gr, rq)) return true;
  return false;
}

function othersAhead(queue: readonly QueueEntry[], self: string): number {
  let ahead = 0;
  for (const e of queue) {
    if (e.key === self) return ahead;
    ahead++;
  }
  return ahead;
}

function emptyBesides(queue: readonly QueueEntry[], self: string): boolean {
  return queue.every((e) => e.key === self);
}

/** The kernel's _can_be_granted for lock `l` requesting `rq` (docs/dlm.md §1.2 items 1-8). */
export function canBeGranted(l: QueueEntry, rq: number, queues: ResourceQueues, now: boolean): boolean {
  const conv = l.gr !== MODE_IV;
  if (l.flags & LKF.EXPEDITE) return true;
  if (conflicts(queues, l.key, rq)) return false;
  if (now && conv) return l.flags & LKF.QUECVT ? emptyBesides(queues.convert, l.key) : true;
  if (l.flags & LKF.NOORDER) return true;
  if (conv) return othersAhead(queues.convert, l.key) === 0;
  if (now) return emptyBesides(queues.convert, l.key) && emptyBesides(queues.wait, l.key);
  return emptyBesides(queues.convert, l.key) && othersAhead(queues.wait, l.key) === 0;
}

/**
 * The kernel's conversion_deadlock_detect (docs/dlm.md §1.2 item 9): some conversion ahead of `l`
 * wants a mode `l`'s granted mode blocks, or one behind it does while `l` wants a mode its granted
 * mode blocks. A conversion evaluated "now" is not queued yet: every queued one is ahead of it.
 */
export function conversionDeadlock(l: QueueEntry, queues: ResourceQueues): boolean {
  let behind = false;
  for (const e of queues.convert) {
    if (e.key === l.key) {
      behind = true;
      continue;
    }
    const blocksThem = !compatible(l.gr, e.rq);
    if (!behind && blocksThem) return true;
    if (behind && blocksThem && !compatible(e.gr, l.rq)) return true;
  }
  return false;
}

/** The alternate mode ALTPR / ALTCW offer, if any (docs/dlm.md §1.2 item 10). */
function alternateMode(l: QueueEntry): number | undefined {
  if (l.rq !== LKM.PR && l.flags & LKF.ALTPR) return LKM.PR;
  if (l.rq !== LKM.CW && l.flags & LKF.ALTCW) return LKM.CW;
  return undefined;
}

/**
 * docs/dlm.md §5.4: the kernel's can_be_granted and what follows it. "refuse" is NOQUEUE's
 * EAGAIN; "deadlock" EDEADLK; "deadlock-wait" a NODLCKWT conversion that stays queued though
 * deadlocked; "demote" CONVDEADLK's drop of the granted mode to NL (the caller retries after
 * granting other conversions).
 */
export function evaluateLock(l: QueueEntry, queues: ResourceQueues, now: boolean): Verdict {
  if (canBeGranted(l, l.rq, queues, now)) return { kind: "grant", mode: l.rq, altMode: false };
  const canQueue = !(l.flags & LKF.NOQUEUE);
  if (l.gr !== MODE_IV && canQueue && conversionDeadlock(l, queues)) {
    if (l.flags & LKF.CONVDEADLK) return { kind: "demote" };
    if (l.flags & LKF.NODLCKWT) return { kind: "deadlock-wait" };
    return { kind: "deadlock" };
  }
  const alt = alternateMode(l);
  if (alt !== undefined && canBeGranted(l, alt, queues, now)) return { kind: "grant", mode: alt, altMode: true };
  return canQueue ? { kind: "queue" } : { kind: "refuse" };
}
