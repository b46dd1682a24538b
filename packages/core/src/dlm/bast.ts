// Which granted locks get a blocking AST, and with which mode (docs/dlm.md §5.9): the kernel's
// modes_require_bast (a lock just queued), lock_requires_bast (locks left waiting after a grant
// pass) and the callback layer's rule that skips a BAST compatible with the last granted mode.
import type { DlmLock } from "./lock.js";
import { LKM, MODE_IV, compatible } from "./modes.js";

/** modes_require_bast: does granted lock `g` block a request for `rq` enough to be told? */
export function modesRequireBast(g: DlmLock, rq: number): boolean {
  if ((g.gr === LKM.PR && rq === LKM.CW) || (g.gr === LKM.CW && rq === LKM.PR)) return g.highBast < LKM.EX;
  return g.highBast < rq && !compatible(g.gr, rq);
}

/** lock_requires_bast: after a pass, `high` is the largest mode still waiting, `cw` whether CW waits. */
export function lockRequiresBast(g: DlmLock, high: number, cw: boolean): boolean {
  if (g.gr === LKM.PR && cw) return g.highBast < LKM.EX;
  return g.highBast < high && !compatible(g.gr, high);
}

/** The mode a lock_requires_bast BAST carries: PR holders are asked for CW when CW is what waits. */
export function passBastMode(g: DlmLock, high: number, cw: boolean): number {
  return cw && high === LKM.PR && g.gr === LKM.PR ? LKM.CW : high;
}

/** The callback layer drops a BAST whose mode the lock's last granted mode does not block. */
export function bastSkipped(g: DlmLock, mode: number): boolean {
  return g.lastCast !== MODE_IV && compatible(g.lastCast, mode);
}
