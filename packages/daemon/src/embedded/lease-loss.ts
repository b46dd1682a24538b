/**
 * Telling the application that leases it holds through an embedded daemon are lost. A lease is
 * lost when its lockspace fails (docs/algorithms.md §7.2 step 1: renewals stopped proving the
 * host_id) or is removed with the lease still held; from then on the application must stop
 * writing what the lease guards. Each lockspace instance (one join) has one AbortController:
 * every lease acquired in that instance shares its signal, aborted at the failure. A lockspace
 * joined again is a new instance with a fresh signal.
 */
import { SanlockTsError } from "@sanlock-ts/core";
import { EventEmitter } from "node:events";
import type { Lockspace } from "../lockspaces/lockspace.js";

/** What the "lockspace-failed" event and the AbortSignal's reason carry. */
export interface LockspaceLoss {
  readonly lockspace: string;
  readonly hostId: number;
  /** Why the daemon gave the lockspace up (renewal gap, corrupt record, removal). */
  readonly reason: string;
  /** Monotonic seconds of the last successful renewal: what the other hosts' timing counts from. */
  readonly lastRenewal: number;
}

export class LeaseLostError extends SanlockTsError {
  override readonly name = "LeaseLostError";
  constructor(readonly loss: LockspaceLoss) {
    super("ERR_DAEMON_LEASE_LOST", `lockspace ${loss.lockspace}:${loss.hostId} failed (${loss.reason}): its leases are lost, stop using them`);
  }
}

export interface LeaseLossEvents {
  "lockspace-failed": [LockspaceLoss];
}

export class LeaseLoss extends EventEmitter<LeaseLossEvents> {
  private readonly controllers = new WeakMap<Lockspace, AbortController>();

  /** The signal of `ls`'s leases, made on first use. */
  signalOf(ls: Lockspace): AbortSignal {
    let controller = this.controllers.get(ls);
    if (controller === undefined) {
      controller = new AbortController();
      this.controllers.set(ls, controller);
      if (ls.state !== "live") controller.abort(new LeaseLostError(this.lossOf(ls, `lockspace is ${ls.state}`)));
    }
    return controller.signal;
  }

  /** An already aborted signal, for a lease whose lockspace is gone. */
  static lostSignal(lockspace: string): AbortSignal {
    return AbortSignal.abort(new LeaseLostError({ lockspace, hostId: 0, reason: "lockspace not joined", lastRenewal: 0 }));
  }

  /** The lockspace failed or is removed with holders: abort its signal and tell the listeners, once. */
  lost(ls: Lockspace, reason: string): void {
    const controller = this.controllers.get(ls) ?? new AbortController();
    this.controllers.set(ls, controller);
    if (controller.signal.aborted) return;
    const loss = this.lossOf(ls, reason);
    controller.abort(new LeaseLostError(loss));
    this.emit("lockspace-failed", loss);
  }

  private lossOf(ls: Lockspace, reason: string): LockspaceLoss {
    return { lockspace: ls.name, hostId: ls.spec.hostId, reason, lastRenewal: ls.renewal.lastSuccess };
  }
}
