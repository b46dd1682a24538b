/**
 * `direct next_free PATH[:OFFSET] -Z s -A a` (docs/ondisk.md §9.4): the first area
 * from OFFSET on (in alignment strides) that holds no delta, paxos or rindex
 * magic. As sanlock 3.8.5 does, the printed number is relative to OFFSET.
 * Without -Z/-A the sizes are detected at OFFSET (sanlock's result is then
 * unreliable; ours fails when nothing is found there).
 */
import type { DumpTarget } from "../args/sanlock-strings.js";
import type { GeometryArg } from "../args/geometry-args.js";
import type { Output } from "../output.js";
import { withDevice } from "./device.js";
import { toCoreGeometry } from "./init.js";

export async function nextFreeCommand(target: DumpTarget, sizes: GeometryArg | undefined, output: Output): Promise<number> {
  const given = await toCoreGeometry(sizes);
  const { resolveGeometry } = await import("@sanlock-ts/daemon/disk");
  const { nextFree } = await import("@sanlock-ts/daemon/disk");
  const relative = await withDevice(target.path, given?.sectorSize, async (device) =>
    nextFree(device, target.offset, await resolveGeometry(device, target.offset, given)),
  );
  output.line(String(relative));
  return 0;
}
