/**
 * `direct format|lookup|update|rebuild -x RINDEX [-e NAME[:OFFSET]] [-z 1]`
 * (docs/ondisk.md §8): resource index operations without a daemon, printing
 * "<action> done <rc>" (and for lookup "name <name> offset <offset>") like
 * sanlock. As `sanlock direct` does, no lockspace or internal lease is taken.
 */
import type { GeometryArg } from "../args/geometry-args.js";
import type { RentryArg, RindexArg } from "../args/sanlock-strings.js";
import { CliArgError } from "../args/errors.js";
import type { Output } from "../output.js";
import { withDevice } from "./device.js";
import { toCoreGeometry } from "./init.js";
import { DirectFailure, RC, failureRc } from "./result-codes.js";

export type RindexAction = "format" | "lookup" | "update" | "rebuild";

export interface RindexRequest {
  readonly rindex: RindexArg;
  readonly entry: RentryArg;
  /** update: remove the entry (-z 1) instead of setting it */
  readonly remove: boolean;
}

export async function rindexCommand(action: RindexAction, request: RindexRequest, sizes: GeometryArg | undefined, output: Output): Promise<number> {
  const { rindex } = request;
  if (rindex.path === "") throw new CliArgError("ERR_CLI_PATH_MISSING", `rindex "${rindex.lockspaceName}" has no path (expected LOCKSPACE:PATH:OFFSET)`);
  let lines: string[] = [];
  let rc: number = RC.OK;
  let problem: string | undefined;
  try {
    lines = await runRindexAction(action, request, sizes);
  } catch (error) {
    rc = failureRc(error);
    problem = error instanceof Error ? error.message : String(error);
  }
  output.line(`${action} done ${rc}`);
  for (const line of lines) output.line(line);
  if (problem !== undefined) output.error(`sanlock-ts: direct ${action}: ${problem}`);
  return rc === RC.OK ? 0 : 1;
}

async function runRindexAction(action: RindexAction, request: RindexRequest, sizes: GeometryArg | undefined): Promise<string[]> {
  const areas = await import("@sanlock-ts/daemon/disk");
  const { rindex, entry } = request;
  const loc = { offset: rindex.offset, spaceName: rindex.lockspaceName };
  switch (action) {
    case "format": {
      const geometry = await toCoreGeometry(sizes);
      await withDevice(rindex.path, geometry?.sectorSize, (device) =>
        areas.formatRindex(device, { offset: rindex.offset, spaceName: rindex.lockspaceName, ...(geometry ? { geometry } : {}) }),
      );
      return [];
    }
    case "lookup": {
      const match = await withDevice(rindex.path, undefined, (device) => areas.lookupRindex(device, loc, { name: entry.name, resOffset: entry.offset }));
      // sanlock prints "-" for an empty name (src/main.c, ACT_LOOKUP)
      const name = entry.name === "" && entry.offset === 0 ? "" : match.entry.name;
      return [`name ${name === "" ? "-" : name} offset ${match.resOffset}`];
    }
    case "update": {
      // sanlock: remove needs an offset; add needs a name and an offset; anything else is -EINVAL
      if (entry.offset === 0 || (!request.remove && entry.name === "")) {
        throw new DirectFailure(
          "ERR_CLI_BAD_ARG",
          RC.EINVAL,
          request.remove ? "update -z 1 needs -e NAME:OFFSET or -e :OFFSET" : "update needs -e NAME:OFFSET",
        );
      }
      await withDevice(rindex.path, undefined, (device) =>
        areas.updateRindex(device, loc, { resOffset: entry.offset, ...(request.remove ? { remove: true } : { name: entry.name }) }),
      );
      return [];
    }
    case "rebuild": {
      await withDevice(rindex.path, undefined, (device) => areas.rebuildRindex(device, loc));
      return [];
    }
  }
}
