// Whether another host's slot still counts (docs/dlm.md §3.4): its instance is dead only when its
// delta record is free, taken over or of a newer generation, or unchanged for 8·N+60 s — each
// judged by the local watcher and confirmed by a direct read of the record (docs/algorithms.md
// §8.4 item 13). A slot found dead stays dead: a dead instance never returns.
import { nowSeconds, type Clock } from "../clock.js";
import type { HostLiveness } from "../host-status.js";
import type { DeltaRecordView } from "../paxos-owner.js";
import { effectiveIoTimeout, hostDeadSeconds } from "../timeouts.js";

export interface SlotLivenessInput {
  readonly clock: Clock;
  readonly liveness: HostLiveness;
  readDeltaRecord(hostId: number): Promise<DeltaRecordView>;
  readonly ownIoTimeout: number;
  /** Seconds without a renewal after which a host is dead, from its io_timeout (planted bugs shorten it). */
  readonly deadSeconds?: (ioTimeout: number) => number;
}

/** Bound on remembered dead instances (hosts × generations seen in one engine's life). */
const MAX_REMEMBERED = 4096;

export class SlotLiveness {
  private readonly dead = new Set<string>();

  constructor(private readonly input: SlotLivenessInput) {}

  private deadAfter(ioTimeout: number): number {
    const n = effectiveIoTimeout(ioTimeout, this.input.ownIoTimeout);
    return this.input.deadSeconds ? this.input.deadSeconds(n) : hostDeadSeconds(n);
  }

  /** The watcher's opinion alone (sanlock's host_live, with the dead-wait of `deadSeconds`). */
  private watcherSaysAlive(hostId: number, generation: bigint, recordIo = 0): boolean {
    const e = this.input.liveness.snapshot(hostId);
    if (e === undefined || e.lastCheck === 0) return true;
    if (e.timestamp === 0n) return false;
    if (e.ownerGeneration > generation) return false;
    const after = this.deadAfter(Math.max(e.ioTimeout, recordIo));
    const now = nowSeconds(this.input.clock);
    return !(now - (e.lastLive === 0 ? e.firstCheck : e.lastLive) > after);
  }

  isKnownDead(hostId: number, generation: bigint): boolean {
    return this.dead.has(`${hostId}/${generation}`);
  }

  /** docs/dlm.md §3.4: true when host `hostId`'s instance `generation` is dead. Read errors propagate. */
  async isDead(hostId: number, generation: bigint): Promise<boolean> {
    const key = `${hostId}/${generation}`;
    if (this.dead.has(key)) return true;
    if (this.watcherSaysAlive(hostId, generation)) return false;
    const record = await this.input.readDeltaRecord(hostId);
    let dead: boolean;
    if (record.timestamp === 0n || record.ownerId !== hostId || record.ownerGeneration > generation) dead = true;
    else if (record.ioTimeout !== 0 && this.watcherSaysAlive(hostId, generation, record.ioTimeout)) dead = false;
    else {
      const stored = this.input.liveness.snapshot(hostId);
      dead = stored !== undefined && record.timestamp === stored.timestamp && record.ownerGeneration === stored.ownerGeneration;
    }
    if (dead) {
      if (this.dead.size >= MAX_REMEMBERED) this.dead.clear();
      this.dead.add(key);
    }
    return dead;
  }
}
