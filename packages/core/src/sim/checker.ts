// Invariant checker (docs/algorithms.md §8.3), fed by the host actors with facts in true time.
//
// A hold is valid from the moment the acquire returned success to the host's process until the
// process stops using it: it released (the hold ends before the release I/O starts), it was killed,
// or its host was reset (watchdog or crash). A daemon crash does not end a hold: the processes keep
// running until the watchdog resets the host (docs/algorithms.md §7.5.5).
//
// Checked:
// 1. mutual exclusion (docs/algorithms.md §8.3.1): an exclusive hold never overlaps another host's hold of the
//    same resource, in either mode;
// 2. unique decision (docs/algorithms.md §8.3.2): every successful acquire reporting version L of a resource names
//    the same (host_id, generation);
// 3. lver never goes back (docs/algorithms.md §8.3.8): an exclusive acquire reports a version no lower than any
//    version an earlier exclusive acquire of that resource reported;
//    2 and 3 hold only while no write to the resource has landed after its writer timed out: a
//    late stale leader write rolls the leader back and versions get decided again (docs/algorithms.md §8.4 items
//    1-2, docs/algorithms.md §8.3.8), so for such a resource only mutual exclusion is checked from then on;
// 4. join exclusivity (docs/algorithms.md §8.3.10): two daemon instances never both believe they own one host_id
//    for longer than one renewal interval;
// 5. release progress (release-progress.ts): a release that returned success, with no fault in
//    play during it, leaves the resource acquirable by others on disk at once.
// It also counts what the ballots met (coverage, not a rule): ballots whose phase 1 found an
// accepted value to adopt, and ballots that had to choose among two or more such values.

export type HoldMode = "exclusive" | "shared";

/** Violations of the DLM workload's invariants D1-D5 (dlm-checker.ts, docs/dlm.md §9 test 36). */
export type DlmViolationKind = "dlm-exclusion" | "dlm-lvb" | "dlm-slot-carried" | "dlm-single-writer" | "dlm-slot-order";

export interface Violation {
  readonly time: number;
  readonly kind: "mutual-exclusion" | "unique-decision" | "lver-order" | "host-id-owners" | "release-progress" | DlmViolationKind;
  readonly message: string;
}

interface Hold {
  readonly host: number;
  readonly mode: HoldMode;
  readonly lver: number;
  readonly hostId: number;
  readonly generation: number;
  readonly since: number;
}

interface HostIdBelief {
  readonly host: number;
  readonly daemon: number;
  readonly generation: number;
  readonly since: number;
  readonly allowedOverlap: number;
}

const MAX_VIOLATIONS = 100;

export class InvariantChecker {
  private readonly holds = new Map<string, Hold[]>();
  private readonly decisions = new Map<string, Map<number, string>>();
  private readonly maxExclusiveLver = new Map<string, number>();
  private readonly beliefs = new Map<number, HostIdBelief[]>();
  /** Resources that saw a late-landing write: version checks no longer apply (docs/algorithms.md §8.4 item 2). */
  private readonly lateWritten = new Set<string>();
  readonly violations: Violation[] = [];
  /** Lease operations observed (acquires, releases, conversions), for the summary. */
  operations = 0;
  /** Ballots run, ballots whose phase 1 found an accepted value, and found two or more. */
  readonly ballots = { run: 0, withValue: 0, multiValue: 0 };
  /** Successful releases whose disk state was checked by the progress rule. */
  releasesChecked = 0;

  constructor(private readonly onViolation: (v: Violation) => void = () => {}) {}

  private report(time: number, kind: Violation["kind"], message: string): void {
    if (this.violations.length >= MAX_VIOLATIONS) return;
    const v = { time, kind, message };
    this.violations.push(v);
    this.onViolation(v);
  }

  private holdsOf(resource: string): Hold[] {
    let list = this.holds.get(resource);
    if (!list) {
      list = [];
      this.holds.set(resource, list);
    }
    return list;
  }

  /** A host's process starts using `resource` (the acquire or conversion returned success). */
  holdStart(time: number, resource: string, hold: Omit<Hold, "since">): void {
    const list = this.holdsOf(resource);
    for (const other of list) {
      if (other.host === hold.host) continue;
      if (hold.mode === "exclusive" || other.mode === "exclusive") {
        this.report(
          time,
          "mutual-exclusion",
          `${resource}: h${hold.host + 1} (host_id ${hold.hostId} gen ${hold.generation}) got it ${hold.mode} v${hold.lver} ` +
            `while h${other.host + 1} (host_id ${other.hostId} gen ${other.generation}) holds it ${other.mode} v${other.lver} since t=${other.since.toFixed(3)}`,
        );
      }
    }
    this.decided(time, resource, hold.lver, hold.hostId, hold.generation);
    if (hold.mode === "exclusive" && !this.lateWritten.has(resource)) {
      const previous = this.maxExclusiveLver.get(resource) ?? 0;
      // Equal is tolerated (the same owner only: a different one is a unique-decision violation):
      // a late-landing stale leader write (docs/algorithms.md §8.4 item 2) can make the last owner decide its own
      // version once more, because its own phase-1 write erased its accepted value (docs/algorithms.md §9.1).
      if (hold.lver < previous) {
        this.report(time, "lver-order", `${resource}: h${hold.host + 1} acquired exclusive v${hold.lver}, below earlier v${previous}`);
      }
      this.maxExclusiveLver.set(resource, Math.max(previous, hold.lver));
    }
    const kept = list.filter((h) => h.host !== hold.host);
    kept.push({ ...hold, since: time });
    this.holds.set(resource, kept);
  }

  /** The host's process stops using `resource` (before any release I/O). */
  holdEnd(resource: string, host: number): void {
    const list = this.holds.get(resource);
    if (list)
      this.holds.set(
        resource,
        list.filter((h) => h.host !== host),
      );
  }

  /** A violation found by another checker of the same run (the DLM workload's). */
  reportDlm(time: number, kind: DlmViolationKind, message: string): void {
    this.report(time, kind, message);
  }

  /** Every process of `host` is gone (reset, or all killed). */
  processesGone(host: number): void {
    for (const [resource, list] of this.holds)
      this.holds.set(
        resource,
        list.filter((h) => h.host !== host),
      );
  }

  heldBy(host: number): Array<{ resource: string; mode: HoldMode }> {
    const result: Array<{ resource: string; mode: HoldMode }> = [];
    for (const [resource, list] of this.holds) for (const h of list) if (h.host === host) result.push({ resource, mode: h.mode });
    return result;
  }

  /** Phase 1 of a ballot found `values` distinct accepted values. */
  ballotSeen(values: number): void {
    this.ballots.run++;
    if (values >= 1) this.ballots.withValue++;
    if (values >= 2) this.ballots.multiValue++;
  }

  /**
   * A release returned success; `leftBehind` is what the disk still shows holding it (undefined:
   * released). Resources with late-landing writes are exempt: a stale write may restore a leader.
   */
  releaseChecked(time: number, resource: string, host: number, leftBehind: string | undefined): void {
    if (this.lateWritten.has(resource)) return;
    this.releasesChecked++;
    if (leftBehind !== undefined) this.report(time, "release-progress", `${resource}: h${host + 1} released it, but ${leftBehind}`);
  }

  /** A write to `resource` landed after its writer had timed out. */
  lateWrite(resource: string): void {
    this.lateWritten.add(resource);
  }

  /** An acquire reported version `lver` decided for (hostId, generation). */
  decided(time: number, resource: string, lver: number, hostId: number, generation: number): void {
    if (this.lateWritten.has(resource)) return;
    let byLver = this.decisions.get(resource);
    if (!byLver) {
      byLver = new Map();
      this.decisions.set(resource, byLver);
    }
    const who = `${hostId}/${generation}`;
    const earlier = byLver.get(lver);
    if (earlier !== undefined && earlier !== who) {
      this.report(time, "unique-decision", `${resource} v${lver}: decided for host_id/gen ${earlier} and again for ${who}`);
    }
    byLver.set(lver, who);
  }

  /** A daemon instance completed a join of hostId (generation) and now believes it owns it. */
  hostIdOwned(time: number, hostId: number, belief: Omit<HostIdBelief, "since">): void {
    const list = (this.beliefs.get(hostId) ?? []).filter((b) => !(b.host === belief.host && b.daemon === belief.daemon));
    list.push({ ...belief, since: time });
    this.beliefs.set(hostId, list);
  }

  /** That instance no longer believes it owns hostId (left, lost it, crashed or reset). */
  hostIdReleased(time: number, hostId: number, host: number, daemon: number): void {
    const list = this.beliefs.get(hostId) ?? [];
    const mine = list.find((b) => b.host === host && b.daemon === daemon);
    if (!mine) return;
    const rest = list.filter((b) => b !== mine);
    for (const other of rest) {
      const overlap = time - Math.max(other.since, mine.since);
      if (overlap > Math.min(mine.allowedOverlap, other.allowedOverlap)) {
        this.report(
          time,
          "host-id-owners",
          `host_id ${hostId}: h${mine.host + 1} gen ${mine.generation} and h${other.host + 1} gen ${other.generation} ` +
            `both owned it for ${overlap.toFixed(1)} s`,
        );
      }
    }
    this.beliefs.set(hostId, rest);
  }

  /** At the end of a run, beliefs still open are checked against each other. */
  finish(time: number): void {
    for (const [hostId, list] of this.beliefs) {
      for (const b of [...list]) this.hostIdReleased(time, hostId, b.host, b.daemon);
    }
  }
}
