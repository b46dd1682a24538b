// Shared shape of validation results: strict decoders throw the first problem,
// inspect* decoders (for `direct dump` and diagnostics) return all of them.
import { OnDiskFormatError } from "../errors.js";

export interface DecodeProblem {
  readonly code: string;
  readonly field: string;
  /** absolute byte position of the field (buffer position + caller's `at`) */
  readonly offset: number;
  readonly message: string;
}

export function problemError(problem: DecodeProblem): OnDiskFormatError {
  return new OnDiskFormatError(problem.code, problem.message, { field: problem.field, offset: problem.offset });
}

export function throwFirst(problems: readonly DecodeProblem[]): void {
  const first = problems[0];
  if (first) throw problemError(first);
}
