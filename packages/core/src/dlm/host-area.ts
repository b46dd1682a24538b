// The DLM host area (docs/dlm.md §4.1, §4.3, §5.9): one record per host, written only by its host.
// A host publishes the requests it has queued (wait entries); holders read the area every poll
// and give BASTs for the entries their locks block. Hints only: a lost or stale record delays a
// BAST, it never grants anything.
import type { BlockDevice } from "../block-device.js";
import { type HostRecord, HOST_RECORD_SIZE, MAX_WAIT_ENTRIES, type WaitEntry, decodeHostRecord, encodeHostRecord } from "./host-record.js";

export interface HostAreaOptions {
  readonly device: BlockDevice;
  /** Byte offset of the host area (the lockspace header's host area offset). */
  readonly offset: number;
  readonly sectorSize: number;
  readonly numHosts: number;
  readonly hostId: number;
  readonly lockspaceId: bigint;
  readonly generation: bigint;
  /** Where members() reads: not the lock path's I/O, so not counted with it (default `device`). */
  readonly diagnosticDevice?: BlockDevice;
}

/** A wait entry of another host, as last read. */
export interface RemoteWait extends WaitEntry {
  readonly hostId: number;
}

function sameWaits(a: readonly WaitEntry[], b: readonly WaitEntry[]): boolean {
  return (
    a.length === b.length &&
    a.every((w, i) => w.resourceIndex === b[i]!.resourceIndex && w.rq === b[i]!.rq && w.gr === b[i]!.gr && w.kind === b[i]!.kind && w.ticket === b[i]!.ticket)
  );
}

export class HostArea {
  private written: WaitEntry[] | undefined;
  private seq = 0;
  private writing: Promise<void> | undefined;

  constructor(private readonly opts: HostAreaOptions) {}

  /** Our record as it should be; written when it differs from the last write (one write in flight). */
  publish(waits: readonly WaitEntry[]): void {
    const wanted = waits.slice(0, MAX_WAIT_ENTRIES);
    if (this.writing || (this.written && sameWaits(this.written, wanted))) return;
    this.writing = this.write(wanted).finally(() => {
      this.writing = undefined;
    });
  }

  private async write(waits: WaitEntry[]): Promise<void> {
    const record: HostRecord = {
      generation: this.opts.generation,
      hostId: this.opts.hostId,
      seq: ++this.seq,
      lockspaceId: this.opts.lockspaceId,
      hintAddress: "",
      waits,
      notices: [],
    };
    const sector = new Uint8Array(this.opts.sectorSize);
    sector.set(encodeHostRecord(record));
    try {
      await this.opts.device.write(this.opts.offset + (this.opts.hostId - 1) * this.opts.sectorSize, sector);
      this.written = waits;
    } catch {
      this.written = undefined; // written again at the next publish
    }
  }

  /**
   * Hosts whose record is of this lockspace and of their current delta generation
   * (`generationOf`; undefined = not live): with a live delta lease, what makes a host a DLM
   * member (docs/dlm.md §3.1). One read of the area. Our own host is always one.
   */
  async members(generationOf: (hostId: number) => bigint | undefined): Promise<number[]> {
    const records = await this.readRecords(this.opts.diagnosticDevice ?? this.opts.device);
    const out = [this.opts.hostId];
    for (const [h, r] of records) {
      const generation = generationOf(h);
      if (generation !== undefined && r.generation === generation) out.push(h);
    }
    return out.sort((a, b) => a - b);
  }

  /** Every other host's record that decodes, names its own host_id and this lockspace id. */
  private async readRecords(device: BlockDevice = this.opts.device): Promise<Map<number, HostRecord>> {
    const ss = this.opts.sectorSize;
    const bytes = await device.read(this.opts.offset, this.opts.numHosts * ss);
    const out = new Map<number, HostRecord>();
    for (let h = 1; h <= this.opts.numHosts; h++) {
      if (h === this.opts.hostId) continue;
      try {
        const r = decodeHostRecord(bytes.subarray((h - 1) * ss, (h - 1) * ss + HOST_RECORD_SIZE), 0);
        if (r.hostId === h && r.lockspaceId === this.opts.lockspaceId) out.set(h, r);
      } catch {
        // never written, or damaged: no hints from it
      }
    }
    return out;
  }

  /**
   * One read of the whole area (num_hosts sectors): the wait entries of every other host whose
   * record is of this lockspace and not older than `generationOf(host)` (docs/dlm.md §4.3).
   */
  async readWaits(generationOf: (hostId: number) => bigint | undefined): Promise<RemoteWait[]> {
    const out: RemoteWait[] = [];
    for (const [h, r] of await this.readRecords()) {
      const generation = generationOf(h);
      if (generation !== undefined && r.generation < generation) continue;
      for (const w of r.waits) out.push({ ...w, hostId: h });
    }
    return out;
  }
}
