/**
 * The lockspace's sector and alignment sizes as a geometry hint for a resource lease
 * (ResourceLocation.geometry): with it the acquire reads the lease area at once instead of a
 * 4 KiB detection read first. Core checks the hint against the leader in that read and drops it
 * when it differs (docs/ondisk.md §2.3), so a lease formatted with other sizes still works.
 */
import { GEOMETRIES, type Geometry } from "@sanlock-ts/core";

/** `{ geometry }` for spreading into a ResourceLocation, or `{}` before the join or for unknown sizes. */
export function lockspaceGeometry(ls: { readonly geometry: { readonly sectorSize: number; readonly alignSize: number } }): { geometry?: Geometry } {
  const { sectorSize, alignSize } = ls.geometry;
  const geometry = GEOMETRIES.find((g) => g.sectorSize === sectorSize && g.alignSize === alignSize);
  return geometry === undefined ? {} : { geometry };
}
