// A lease held through the client: what was acquired, for whom, and the
// release that `await using` runs when the scope ends.

import { ClientError, ClientErrorCode } from "./errors.js";
import type { CallTarget } from "./calls.js";
import { convert, release, type LeaseOwner, type ResourceSpec } from "./operations.js";

export class Lease implements AsyncDisposable {
  private releasedFlag = false;

  constructor(
    private readonly target: CallTarget,
    readonly owner: LeaseOwner,
    readonly spec: Readonly<ResourceSpec>,
    private sharedMode: boolean,
  ) {}

  get lockspace(): string {
    return this.spec.lockspace;
  }

  get resource(): string {
    return this.spec.resource;
  }

  get shared(): boolean {
    return this.sharedMode;
  }

  get released(): boolean {
    return this.releasedFlag;
  }

  /** Releases the lease (RELEASE, docs/wire.md §7.8); a second call does nothing. */
  async release(): Promise<void> {
    if (this.releasedFlag) return;
    await release(this.target, this.owner, [this.spec], 0);
    this.releasedFlag = true;
  }

  /** Converts between shared and exclusive (CONVERT, docs/wire.md §7.25). */
  async convert(shared: boolean, options: { ownerNowait?: boolean } = {}): Promise<void> {
    if (this.releasedFlag) throw new ClientError(ClientErrorCode.NOT_OPEN, `lease ${this.spec.lockspace}:${this.spec.resource} was released`);
    await convert(this.target, this.owner, this.spec, { shared, ownerNowait: options.ownerNowait ?? false });
    this.sharedMode = shared;
  }

  /**
   * Releases at the end of an `await using` scope. When the registered
   * connection is already closed the daemon has released the lease itself (docs/wire.md §5.7).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.releasedFlag) return;
    if ("registration" in this.owner && !this.owner.registration.isOpen) {
      this.releasedFlag = true;
      return;
    }
    await this.release();
  }
}
