/**
 * `direct dump PATH[:OFFSET[:SIZE]] [-f N] [-Z -A]` (docs/ondisk.md §9.1, §9.2):
 * print the lease areas found from OFFSET on. The text comes line for line
 * from core's dumpLines; this module only opens the device and prints.
 */
import type { DumpTarget } from "../args/sanlock-strings.js";
import type { GeometryArg } from "../args/geometry-args.js";
import type { Output } from "../output.js";
import { openDevice } from "./device.js";
import { toCoreGeometry } from "./init.js";

export async function dumpCommand(target: DumpTarget, detail: number, sizes: GeometryArg | undefined, output: Output): Promise<number> {
  const geometry = await toCoreGeometry(sizes);
  const { dumpLines, DUMP_NO_GEOMETRY, DUMP_OFFSET_WARNING } = await import("@sanlock-ts/daemon/disk");
  let device;
  try {
    device = await openDevice(target.path, geometry?.sectorSize);
  } catch (error) {
    // sanlock prints the warning before it opens the device, then this line (src/direct.c direct_dump)
    if (target.offset % 1048576 !== 0) output.line(DUMP_OFFSET_WARNING);
    output.line(`Device ${target.path} not found.`);
    output.error(`sanlock-ts: direct dump: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  try {
    const lines = await dumpLines(device, {
      offset: target.offset,
      ...(target.size > 0 ? { size: target.size } : {}),
      force: detail,
      ...(geometry ? { geometry } : {}),
    });
    for (const line of lines) output.line(line);
    // sanlock's dump fails (exit 1) only when it cannot find the sizes
    return lines.includes(DUMP_NO_GEOMETRY) ? 1 : 0;
  } finally {
    await device.close();
  }
}
