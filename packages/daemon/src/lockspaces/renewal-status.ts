/**
 * Last good renewal of one lockspace, published through a SharedArrayBuffer so the main
 * thread and a future watchdog thread can read it without messages (design requirement:
 * the expiry must be readable even when the renewing side is busy).
 *
 * Slots (Int32, written with Atomics): [0] last_success seconds (monotonic, whole),
 * [1] last attempt seconds, [2] last attempt result (0 ok, else sanlock result),
 * [3] state code (see LOCKSPACE_STATE_CODES).
 */
export const LOCKSPACE_STATE_CODES = { joining: 1, live: 2, recovery: 3, removed: 4 } as const;
export type LockspaceState = keyof typeof LOCKSPACE_STATE_CODES;

const SLOT_LAST_SUCCESS = 0;
const SLOT_LAST_ATTEMPT = 1;
const SLOT_LAST_RESULT = 2;
const SLOT_STATE = 3;
const SLOTS = 4;

export class RenewalStatus {
  readonly buffer: SharedArrayBuffer;
  private readonly view: Int32Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.view = new Int32Array(this.buffer);
  }

  get lastSuccess(): number {
    return Atomics.load(this.view, SLOT_LAST_SUCCESS);
  }

  get lastAttempt(): number {
    return Atomics.load(this.view, SLOT_LAST_ATTEMPT);
  }

  get lastResult(): number {
    return Atomics.load(this.view, SLOT_LAST_RESULT);
  }

  get stateCode(): number {
    return Atomics.load(this.view, SLOT_STATE);
  }

  recordAttempt(atSeconds: number, result: number): void {
    Atomics.store(this.view, SLOT_LAST_ATTEMPT, Math.floor(atSeconds));
    Atomics.store(this.view, SLOT_LAST_RESULT, result);
  }

  /** Published only after the renewal write completed (docs/algorithms.md §7.11 rule 2). */
  recordSuccess(timestampSeconds: number): void {
    Atomics.store(this.view, SLOT_LAST_SUCCESS, Math.floor(timestampSeconds));
  }

  setState(state: LockspaceState): void {
    Atomics.store(this.view, SLOT_STATE, LOCKSPACE_STATE_CODES[state]);
  }
}
