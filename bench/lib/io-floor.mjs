// The disk's floor: the exclusive acquire+release I/O sequence issued directly by python
// (bench/io_floor.py), with no daemon, once alone and once from 8 threads.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PYTHON } from "./python-worker.mjs";
import { median, p99 } from "./stats.mjs";

const IO_FLOOR = fileURLToPath(new URL("../io_floor.py", import.meta.url));
export const FLOOR_THREADS = 8;
const FLOOR_TIMEOUT_MS = 180_000;

/**
 * { cycleMsMedian, acquireMsMedian, cyclesPerSecond, cycleMs } measured on a scratch file in `dir`
 * (removed after); cycleMs holds every single-thread cycle time.
 */
export function measureIoFloor(dir, cycles) {
  const scratch = join(dir, "io-floor.bin");
  try {
    const run = spawnSync(PYTHON, [IO_FLOOR, scratch, String(cycles), String(FLOOR_THREADS)], { encoding: "utf8", timeout: FLOOR_TIMEOUT_MS });
    if (run.status !== 0) throw new Error(`io_floor.py failed (${run.status ?? run.signal}): ${run.stderr.trim().slice(-300)}`);
    const out = JSON.parse(run.stdout);
    return { cycleMsMedian: out.cycle_ms_median, acquireMsMedian: out.acquire_ms_median, cyclesPerSecond: out.cycles_per_second, cycleMs: out.cycle_ms };
  } finally {
    rmSync(scratch, { force: true });
  }
}

/**
 * The floors of several rounds as one: the median of each figure, with its range ({ min, max })
 * beside it, and the p99 of every round's cycles pooled (cycleMsP99, when the rounds have them:
 * the daemons' p99 rows pool their rounds alike); null without any round.
 */
export function summarizeFloors(floors) {
  if (floors.length === 0) return null;
  const pick = (field) => floors.map((f) => f[field]);
  const summary = { rounds: floors.length };
  for (const field of ["cycleMsMedian", "acquireMsMedian", "cyclesPerSecond"]) {
    const values = pick(field);
    summary[field] = median(values);
    summary[`${field}Range`] = { min: Math.min(...values), max: Math.max(...values) };
  }
  const cycles = floors.flatMap((f) => f.cycleMs ?? []);
  if (cycles.length > 0) summary.cycleMsP99 = p99(cycles);
  return summary;
}
