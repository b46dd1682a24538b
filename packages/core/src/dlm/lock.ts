// One DLM lock of a local process (the kernel's lkb) and what its completion AST carries
// (docs/dlm.md §1.6, §5.4-§5.7).
import { MODE_IV } from "./modes.js";
import { type StatusFlags, noStatusFlags } from "./status.js";

/** What the completion AST reports: status 0 or a DlmStatus value, sb_flags, the lksb LVB. */
export interface Completion {
  readonly lkid: number;
  readonly status: number;
  readonly sb: StatusFlags;
  /** The lock's granted mode after the operation (MODE_IV when it no longer exists). */
  readonly mode: number;
  /** Copy of the lksb LVB after the operation (VALBLK locks only). */
  readonly lvb: Uint8Array | undefined;
  /** Sequence number of the LVB value returned or written (0 when none). */
  readonly lvbSeq: bigint;
}

export type LockState = "waiting" | "converting" | "granted";

/** A blocking AST: called with the mode another lock waits for. */
export type BastCallback = (mode: number) => void;

export class DlmLock {
  /** Granted mode; MODE_IV while a new request waits. */
  gr: number = MODE_IV;
  /** Requested mode while waiting or converting; MODE_IV when granted with nothing pending. */
  rq: number = MODE_IV;
  /** LKF flags of the operation in progress (or of the last one). */
  flags = 0;
  /** Evaluated with the kernel's "now" rules until a pass with a view of every host has seen it. */
  fresh = false;
  /** lver of the round that published it, while pending and published. */
  ticket: bigint | undefined;
  /** PERSISTENT was given: the lock becomes an orphan when its process exits. */
  persistent = false;
  /** Persistent lock whose process exited: owned by no process, still granted (docs/dlm.md §5.10). */
  orphan = false;
  /** An unlock is in progress (a second one is EINPROGRESS). */
  unlocking = false;
  /** Highest mode a BAST was delivered for since the last grant (the kernel's lkb_highbast). */
  highBast = 0;
  /** Mode of the last grant delivered (BASTs compatible with it are skipped, docs/dlm.md §5.9). */
  lastCast: number = MODE_IV;
  sb: StatusFlags = noStatusFlags();
  /** The lksb LVB buffer (VALBLK); its contents are written on W transitions. */
  lvb: Uint8Array | undefined;
  lvbSeq = 0n;
  /** Whether the caller holds its LVB in this lock (VALBLK at the last grant): marks VALBLK_HOLD. */
  valblk = false;
  /** Local queue order (smaller = earlier); HEADQUE takes a smaller number than every queued lock. */
  order = 0;
  /** Completion of the operation in progress. */
  settle: ((c: Completion) => void) | undefined;
  /** Deadline (local monotonic seconds) of a TIMEOUT request. */
  deadline: number | undefined;
  bast: BastCallback | undefined;
  /** Completion AST of the operation in progress, called when it completes (before `settle`'s promise reactions run). */
  ast: ((c: Completion) => void) | undefined;

  constructor(
    readonly lkid: number,
    public pid: number,
    readonly resourceKey: string,
  ) {}

  get state(): LockState {
    if (this.rq === MODE_IV) return "granted";
    return this.gr === MODE_IV ? "waiting" : "converting";
  }

  get pending(): boolean {
    return this.rq !== MODE_IV;
  }
}
