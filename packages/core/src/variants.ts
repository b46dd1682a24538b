/**
 * SIMULATOR-ONLY fault injection. Each variant deliberately breaks one rule of
 * algorithms.md so that the simulator can show its invariant checks catch it.
 * Production code MUST use "none" (the default everywhere).
 */
export type BrokenVariant =
  /** none: the correct algorithm. */
  | "none"
  /** Skip the phase-2 re-read of the dblocks (docs/algorithms.md §4.6 step 5): decides without checking for a larger mbal. */
  | "skip-phase2-read"
  /** Treat an owner whose delta record shows any other generation as gone, and a resource owned by our host_id under any generation as ours (docs/algorithms.md §2.6 rules 1 and 3 without the generation order). */
  | "ignore-owner-generation"
  /** Exclusive acquire skips the shared-holder check (docs/algorithms.md §5.4). */
  | "ignore-shared-holders"
  /** Take an owner's lease without waiting host_dead_seconds (docs/algorithms.md §4.4 step 2.6). */
  | "no-dead-wait"
  /** Join a held host_id without the contested wait (docs/algorithms.md §2.2 step 5). */
  | "no-join-wait"
  /** Skip the join re-read after the short delay (docs/algorithms.md §2.2 steps 7-8). */
  | "skip-join-reread"
  /** Write the shared mark after freeing the leader instead of before (docs/algorithms.md §7.11 rule 8). */
  | "shared-mark-after-leader-release"
  /** A resource on several disks writes a shared mark to a majority of them, not to every disk (docs/algorithms.md §4.11). */
  | "majority-shared-mark";

export const BROKEN_VARIANTS: readonly BrokenVariant[] = [
  "none",
  "skip-phase2-read",
  "ignore-owner-generation",
  "ignore-shared-holders",
  "no-dead-wait",
  "no-join-wait",
  "skip-join-reread",
  "shared-mark-after-leader-release",
  "majority-shared-mark",
];
