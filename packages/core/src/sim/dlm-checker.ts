// Invariants of the DLM workload (docs/dlm.md §9 test 36), fed by the DLM actors in true time and
// by every sector write as it lands on the shared disk. Violations go to the run's checker.
//
// D1 no two incompatible locks are held at once by live holders (same or different hosts);
// D2 a PR/PW/EX grant with VALBLK returns the last value written (the ghost register), or reports
//    VALNOTVALID; it must report it while a PW/EX+VALBLK holder's death or an IVVALBLK has left
//    the value unknown;
// D4 a host writes only its own dblock sector of a resource (O4), and the slots it writes land in
//    write order (O6: an older slot never replaces a newer one);
// D5 a host with a granted lock never writes its dblock sector without a current slot (O1).
// D3 (no grant ignores a slot before 8N+60 s) shows as D1 when broken; D6 is not checked.
import { LKM, MODE_NAMES, compatible } from "../dlm/modes.js";
import { SLOT_OFFSET_IN_SECTOR, decodeSlot } from "../dlm/slot-record.js";
import type { InvariantChecker } from "./checker.js";
import type { SimLayout } from "./layout.js";

interface DlmHold {
  readonly host: number;
  readonly pid: number;
  mode: number;
  valblk: boolean;
  readonly since: number;
}

export interface Ghost {
  value: string;
  /** A PW/EX+VALBLK holder died, or an IVVALBLK unlock: readers must see VALNOTVALID. */
  unknown: boolean;
}

export class DlmChecker {
  private readonly holds = new Map<string, DlmHold[]>();
  private readonly ghosts = new Map<string, Ghost>();
  private readonly landedSlots = new Map<number, { generation: bigint; writeSeq: number }>();
  /** Host index → host_id of each simulated host (several may share one). */
  readonly hostIds: number[] = [];
  grants = 0;
  lvbChecked = 0;

  constructor(
    private readonly checker: InvariantChecker,
    private readonly layout: SimLayout,
  ) {}

  private holdsOf(resource: string): DlmHold[] {
    let list = this.holds.get(resource);
    if (!list) {
      list = [];
      this.holds.set(resource, list);
    }
    return list;
  }

  private ghost(resource: string): Ghost {
    let g = this.ghosts.get(resource);
    if (!g) {
      g = { value: "", unknown: false };
      this.ghosts.set(resource, g);
    }
    return g;
  }

  /** D1 and D2: a grant (new lock or up-conversion) delivered to process `pid` of `host`. */
  granted(time: number, resource: string, host: number, pid: number, mode: number, valblk: boolean, read?: { value: string; valNotValid: boolean }): void {
    this.grants++;
    const list = this.holdsOf(resource);
    for (const other of list) {
      if (other.host === host && other.pid === pid) continue;
      if (!compatible(other.mode, mode)) {
        this.checker.reportDlm(
          time,
          "dlm-exclusion",
          `${resource}: h${host + 1} pid ${pid} granted ${MODE_NAMES[mode]} while h${other.host + 1} pid ${other.pid} holds ${MODE_NAMES[other.mode]} since t=${other.since.toFixed(3)}`,
        );
      }
    }
    const mine = list.find((h) => h.host === host && h.pid === pid);
    if (mine) {
      mine.mode = mode;
      mine.valblk = valblk;
    } else list.push({ host, pid, mode, valblk, since: time });
    if (read && mode >= LKM.PR) this.checkRead(time, resource, host, read);
  }

  private checkRead(time: number, resource: string, host: number, read: { value: string; valNotValid: boolean }): void {
    this.lvbChecked++;
    const g = this.ghost(resource);
    if (g.unknown && !read.valNotValid) {
      this.checker.reportDlm(time, "dlm-lvb", `${resource}: h${host + 1} read "${read.value}" without VALNOTVALID after the value was lost`);
    } else if (!read.valNotValid && read.value !== g.value) {
      this.checker.reportDlm(time, "dlm-lvb", `${resource}: h${host + 1} read "${read.value}", the last value written is "${g.value}"`);
    }
  }

  /** A lock leaves a PW/EX mode writing `value` (or invalidating it) through its own unlock or conversion. */
  wrote(resource: string, value: string | undefined): void {
    const g = this.ghost(resource);
    if (value === undefined) g.unknown = true;
    else {
      g.value = value;
      g.unknown = false;
    }
  }

  /** The ghost register of `resource` as it is now (to restore it when a write was refused). */
  ghostOf(resource: string): Ghost {
    return { ...this.ghost(resource) };
  }

  restoreGhost(resource: string, saved: Ghost): void {
    this.ghosts.set(resource, { ...saved });
  }

  /** The process now holds at `mode` (a down-conversion, applied before the call). */
  lowered(resource: string, host: number, pid: number, mode: number): void {
    const h = this.holdsOf(resource).find((x) => x.host === host && x.pid === pid);
    if (h) h.mode = mode;
  }

  /** The process stops using the lock (before the unlock call). */
  ended(resource: string, host: number, pid: number): void {
    this.holds.set(
      resource,
      this.holdsOf(resource).filter((h) => !(h.host === host && h.pid === pid)),
    );
  }

  /** Processes died holding locks: their PW/EX+VALBLK holds leave the value unknown. */
  died(host: number, pid?: number): void {
    for (const [resource, list] of this.holds) {
      const gone = list.filter((h) => h.host === host && (pid === undefined || h.pid === pid));
      if (gone.some((h) => h.mode >= LKM.PW && h.valblk)) this.ghost(resource).unknown = true;
      this.holds.set(
        resource,
        list.filter((h) => !gone.includes(h)),
      );
    }
  }

  /** D5: host `host` issues a write of its own dblock sector of `resource` while holding `grmode` there. */
  ownSectorWrite(time: number, resource: string, host: number, grmode: number, generation: bigint, sector: Uint8Array): void {
    // NL blocks nothing and is published with the next slot write only (docs/dlm.md §5.6).
    if (grmode <= LKM.NL) return;
    let ok = false;
    try {
      const slot = decodeSlot(sector, SLOT_OFFSET_IN_SECTOR);
      ok = slot !== undefined && slot.generation === generation && slot.grmode >= grmode;
    } catch {
      ok = false;
    }
    if (!ok) this.checker.reportDlm(time, "dlm-slot-carried", `${resource}: h${host + 1} wrote its dblock sector without a slot showing ${MODE_NAMES[grmode]}`);
  }

  /** D4: every sector write as it lands. */
  landed(time: number, sector: number, data: Uint8Array, writer: string): void {
    const bytes = sector * this.layout.sectorSize;
    const area = Math.floor(bytes / this.layout.alignSize);
    const resource = this.layout.resources[area - 1];
    if (!resource) return;
    const inArea = (bytes - resource.offset) / this.layout.sectorSize;
    if (inArea < 2) return;
    const owner = inArea - 1;
    const host = Number(writer.replace(/^host/, "")) - 1;
    if (this.hostIds[host] !== undefined && this.hostIds[host] !== owner) {
      this.checker.reportDlm(
        time,
        "dlm-single-writer",
        `${resource.name}: ${writer} (host_id ${this.hostIds[host]}) wrote the dblock sector of host_id ${owner}`,
      );
    }
    let slot;
    try {
      slot = decodeSlot(data, SLOT_OFFSET_IN_SECTOR);
    } catch {
      return;
    }
    if (!slot) return;
    const last = this.landedSlots.get(sector);
    if (last && last.generation === slot.generation && slot.writeSeq < last.writeSeq) {
      this.checker.reportDlm(time, "dlm-slot-order", `${resource.name}: host_id ${owner}'s slot write ${slot.writeSeq} landed after write ${last.writeSeq}`);
    }
    if (!last || slot.generation > last.generation || slot.writeSeq > last.writeSeq)
      this.landedSlots.set(sector, { generation: slot.generation, writeSeq: slot.writeSeq });
  }
}
