// Initialises the simulated disk the way `sanlock direct init` would, before any host starts:
// one lockspace area and one resource lease area per resource (core's areas/ builders).

import { buildLockspaceAreaFirstWrite, freeDeltaLeader } from "../areas/lockspace-area.js";
import { buildResourceArea } from "../areas/resource-area.js";
import { encodeDeltaSector } from "../ondisk/delta-sector.js";
import { geometryFor, type Geometry } from "../ondisk/geometry.js";
import { SIM_LOCKSPACE, type SimLayout } from "./layout.js";
import type { SharedDisk } from "./shared-disk.js";

/**
 * io_timeout written into free records at init: the "previous owner's" value for a first join
 * (docs/algorithms.md §1.2), which paces its short delay (2·No, docs/algorithms.md §2.2 step 7). It must not exceed the joining hosts'
 * own io_timeout by much: a join whose short delay exceeds 8·N_own completes with last_success
 * already 8·N_own old, i.e. due for recovery at once (sanlock's default 10 with N_own = 2).
 */
export const INIT_IO_TIMEOUT = 2;

export function simGeometry(layout: SimLayout): Geometry {
  return geometryFor(layout.sectorSize, layout.alignSize);
}

export function makeDiskInitialiser(numHosts: number): (disk: SharedDisk, layout: SimLayout) => void {
  return (disk, layout) => {
    const geometry = simGeometry(layout);
    disk.load(layout.lockspaceOffset, buildLockspaceAreaFirstWrite(SIM_LOCKSPACE, geometry, INIT_IO_TIMEOUT));
    disk.load(layout.lockspaceOffset, encodeDeltaSector(freeDeltaLeader(SIM_LOCKSPACE, geometry, INIT_IO_TIMEOUT), geometry.sectorSize));
    for (const resource of layout.resources) {
      // Every disk of a replicated resource gets the same area, as direct init writes each disk.
      const area = buildResourceArea({ spaceName: SIM_LOCKSPACE, resourceName: resource.name, numHosts }, geometry);
      for (const offset of [resource.offset, ...resource.replicas]) disk.load(offset, area);
    }
  };
}
