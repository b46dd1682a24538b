// The six DLM lock modes, their compatibility matrix, "covered by", the QUECVT transitions and the
// LVB operation of each transition (docs/dlm.md §1.1, §1.3, §1.4). Pure tables: no I/O.

/** Lock modes, numbered as the kernel's DLM_LOCK_* (docs/dlm.md §1.1). */
export const LKM = { NL: 0, CR: 1, CW: 2, PR: 3, PW: 4, EX: 5 } as const;
export type LockModeName = keyof typeof LKM;
export type LockMode = (typeof LKM)[LockModeName];
/** "No mode" (the kernel's DLM_LOCK_IV): a new request's granted mode. */
export const MODE_IV = -1;
/** IV as it is stored in one unsigned byte on disk. */
export const MODE_NONE_BYTE = 0xff;

export const MODE_NAMES: readonly LockModeName[] = ["NL", "CR", "CW", "PR", "PW", "EX"];

export function isLockMode(value: unknown): value is LockMode {
  return Number.isInteger(value) && (value as number) >= LKM.NL && (value as number) <= LKM.EX;
}

export function modeName(mode: number): string {
  return mode === MODE_IV ? "IV" : (MODE_NAMES[mode] ?? `mode${mode}`);
}

// Row: mode held; column: mode requested; 1 = compatible (the kernel's __dlm_compat_matrix).
const COMPAT: readonly (readonly number[])[] = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 0],
  [1, 1, 1, 0, 0, 0],
  [1, 1, 0, 1, 0, 0],
  [1, 1, 0, 0, 0, 0],
  [1, 0, 0, 0, 0, 0],
];

/** True when a lock held at `held` lets a lock at `requested` be granted. IV (nothing held) blocks nothing. */
export function compatible(held: number, requested: number): boolean {
  if (held === MODE_IV || requested === MODE_IV) return true;
  return COMPAT[held]?.[requested] === 1;
}

/**
 * docs/dlm.md §1.1: a request `r` is covered by a held mode `g` when every mode that conflicts
 * with `r` also conflicts with `g`. NL is covered by anything, even by nothing (IV).
 */
export function coveredBy(requested: number, held: number): boolean {
  for (let m = LKM.NL; m <= LKM.EX; m++) {
    if (!compatible(requested, m) && compatible(held, m)) return false;
  }
  return true;
}

// gr → rq transitions QUECVT allows (the kernel's __quecvt_compat_matrix, docs/dlm.md §1.3).
const QUECVT_ALLOWED: readonly (readonly number[])[] = [
  [0, 1, 1, 1, 1, 1],
  [0, 0, 1, 1, 1, 1],
  [0, 0, 0, 1, 1, 1],
  [0, 0, 1, 0, 1, 1],
  [0, 0, 0, 0, 0, 1],
  [0, 0, 0, 0, 0, 0],
];

export function quecvtAllowed(granted: number, requested: number): boolean {
  return QUECVT_ALLOWED[granted]?.[requested] === 1;
}

/**
 * A conversion the kernel completes without asking the master (docs/dlm.md §1.2): to a lower
 * mode, except the PR↔CW "middle" conversions, which are neither up nor down.
 */
export function isDownConversion(granted: number, requested: number): boolean {
  if (granted === MODE_IV) return false;
  if ((granted === LKM.PR && requested === LKM.CW) || (granted === LKM.CW && requested === LKM.PR)) return false;
  return requested < granted;
}

/** What a transition does with the LVB (docs/dlm.md §1.4): R copies out, W writes in, none nothing. */
export type LvbOperation = "read" | "write" | "none";

/**
 * docs/dlm.md §1.4: the LVB operation of `granted → requested` (`requested` undefined = unlock),
 * the kernel's dlm_lvb_operations table. `granted` IV is a new request.
 */
export function lvbOperation(granted: number, requested: number | undefined): LvbOperation {
  if (requested === undefined) return granted >= LKM.PW ? "write" : "none";
  if (granted === MODE_IV || granted === LKM.NL) return "read";
  if (granted === LKM.EX) return "write";
  if (granted === LKM.PW) return requested === LKM.EX ? "read" : "write";
  return requested >= granted ? "read" : "none";
}

/** Largest mode of a set (IV when empty): what a set of pairwise-compatible modes blocks. */
export function maxMode(modes: Iterable<number>): number {
  let max: number = MODE_IV;
  for (const m of modes) if (m > max) max = m;
  return max;
}
