/**
 * `direct init -s LOCKSPACE | -r RESOURCE [-Z -A] [-o io_timeout] [-n num_hosts] [-z 1]`
 * (docs/ondisk.md §5.2, §6.2): write a fresh lockspace or resource lease area.
 * Prints "init done <rc>" like sanlock. Before writing, the area must start on
 * an alignment boundary and lie inside the existing file or device (checked by
 * core's checkAreaPlacement); nothing is written otherwise.
 */
import type { Geometry } from "@sanlock-ts/daemon/disk";
import type { GeometryArg } from "../args/geometry-args.js";
import type { LockspaceArg, ResourceArg } from "../args/sanlock-strings.js";
import { CliArgError } from "../args/errors.js";
import type { Output } from "../output.js";
import { withDevice } from "./device.js";
import { RC } from "./result-codes.js";

export type InitTarget =
  | { readonly kind: "lockspace"; readonly lockspace: LockspaceArg; readonly ioTimeout: number }
  | { readonly kind: "resource"; readonly resource: ResourceArg; readonly numHosts: number; readonly clear: boolean };

export async function toCoreGeometry(geometry: GeometryArg | undefined): Promise<Geometry | undefined> {
  if (geometry === undefined) return undefined;
  const { geometryFor } = await import("@sanlock-ts/daemon/disk");
  return geometryFor(geometry.sectorSize, geometry.alignSize);
}

export async function initCommand(target: InitTarget, sizes: GeometryArg | undefined, output: Output): Promise<number> {
  const geometry = await toCoreGeometry(sizes);
  if (target.kind === "lockspace") {
    const ls = target.lockspace;
    if (ls.path === "") throw new CliArgError("ERR_CLI_PATH_MISSING", `lockspace "${ls.name}" has no path (expected NAME:HOST_ID:PATH:OFFSET)`);
    const { initLockspaceArea } = await import("@sanlock-ts/daemon/disk");
    await withDevice(ls.path, geometry?.sectorSize, (device) =>
      initLockspaceArea(device, { offset: ls.offset, spaceName: ls.name, ioTimeout: target.ioTimeout, ...(geometry ? { geometry } : {}) }),
    );
  } else {
    const res = target.resource;
    const { initResourceArea } = await import("@sanlock-ts/daemon/disk");
    // a cleared lease records the writer's CLOCK_MONOTONIC seconds (docs/ondisk.md §6.2); hrtime is CLOCK_MONOTONIC
    const clearTimestamp = target.clear ? process.hrtime.bigint() / 1_000_000_000n : undefined;
    // Every disk of the resource gets the same area, disk by disk; the first failure ends the
    // command, as sanlock's paxos_lease_init does (docs/algorithms.md §4.11).
    for (const disk of res.disks) {
      await withDevice(disk.path, geometry?.sectorSize, (device) =>
        initResourceArea(device, {
          offset: disk.offset,
          spaceName: res.lockspaceName,
          resourceName: res.name,
          ...(target.numHosts > 0 ? { numHosts: target.numHosts } : {}),
          ...(clearTimestamp !== undefined ? { clearTimestamp } : {}),
          ...(geometry ? { geometry } : {}),
        }),
      );
    }
  }
  output.line(`init done ${RC.OK}`);
  return 0;
}
