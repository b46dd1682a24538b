/**
 * What `sanlock-ts dlm dump` shows of a DLM volume (docs/dlm.md §4): its header, the host records
 * in use, and every resource of the rindex with its paxos leader and the slots of the hosts that
 * wrote one. Read-only; records that do not decode are skipped (a dump must show what it can).
 */
import { type BlockDevice, decodeLeader, geometryFor, readRindex } from "@sanlock-ts/core";
import {
  type HostRecord,
  type LockspaceHeader,
  type SlotRecord,
  SLOT_OFFSET_IN_SECTOR,
  decodeHostRecord,
  decodeResourceHeader,
  decodeSlot,
  detectVolumeGeometry,
  readVolumeHeader,
} from "@sanlock-ts/core/dlm";

export interface DumpedResource {
  readonly index: number;
  readonly offset: number;
  readonly sanlockName: string;
  /** The DLM name as text (binary bytes as \\xNN). */
  readonly name: string;
  readonly leader: { ownerId: number; lver: bigint };
  readonly slots: (SlotRecord & { hostId: number })[];
}

export interface VolumeDump {
  readonly header: LockspaceHeader;
  readonly hosts: HostRecord[];
  readonly resources: DumpedResource[];
}

function printable(name: Uint8Array): string {
  return Array.from(name, (b) => (b >= 0x21 && b <= 0x7e && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
}

export async function collectDump(device: BlockDevice, offset: number): Promise<VolumeDump> {
  const geometry = await detectVolumeGeometry(device, offset);
  const header = await readVolumeHeader(device, offset, geometry);
  const g = geometryFor(header.sectorSize, header.alignSize);
  const hostBytes = await device.read(Number(header.hostAreaOffset), header.numHosts * g.sectorSize);
  const hosts: HostRecord[] = [];
  for (let h = 1; h <= header.numHosts; h++) {
    try {
      hosts.push(decodeHostRecord(hostBytes, (h - 1) * g.sectorSize));
    } catch {
      // never written
    }
  }
  const rx = await readRindex(device, { offset: Number(header.rindexOffset), spaceName: header.name });
  const resources: DumpedResource[] = [];
  for (let i = 0; i < rx.entries.length; i++) {
    const entry = rx.entries[i]!;
    if (entry.name === "") continue;
    const area = await device.read(entry.resOffset, g.alignSize);
    let name = "";
    try {
      name = printable(decodeResourceHeader(area, g.alignSize - g.sectorSize).name);
    } catch {
      name = "?";
    }
    const leader = decodeLeader(area, 0, { kind: "paxos" });
    const slots: (SlotRecord & { hostId: number })[] = [];
    for (let h = 1; h <= header.numHosts; h++) {
      try {
        const slot = decodeSlot(area, (h + 1) * g.sectorSize + SLOT_OFFSET_IN_SECTOR);
        if (slot) slots.push({ ...slot, hostId: h });
      } catch {
        // a damaged slot: its owner rewrites it
      }
    }
    resources.push({ index: i, offset: entry.resOffset, sanlockName: entry.name, name, leader: { ownerId: leader.ownerId, lver: leader.lver }, slots });
  }
  return { header, hosts, resources };
}
