// Memory settings of the daemon process (src/process-memory.ts): the settings are taken on
// this Linux/glibc system, and the collector of dropped I/O buffers runs a full collection once
// buffer memory grew past its threshold.
import t from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  GARBAGE_COLLECT_GROWTH_BYTES,
  GARBAGE_COLLECT_MIN_INTERVAL_MS,
  MALLOC_ARENA_MAX,
  applyDaemonMemorySettings,
  startBufferGarbageCollector,
} from "../src/process-memory.js";

const MIB = 1024 * 1024;
const execFileAsync = promisify(execFile);

t.test("glibc and V8 accept the settings", async (t) => {
  const applied = applyDaemonMemorySettings();
  t.same(applied.v8Flags, ["--semi-space-growth-factor=1", "--heap-growing-percent=20"]);
  t.ok(applied.malloc.includes(`M_ARENA_MAX=${MALLOC_ARENA_MAX}`), "bounded arenas");
});

/** New-space size of a fresh node process after a burst of short-lived objects, with or without the settings. */
async function newSpaceAfterBurst(withSettings: boolean): Promise<number> {
  const moduleUrl = new URL("../dist/process-memory.js", import.meta.url).href;
  const script = `
    const { applyDaemonMemorySettings } = await import(${JSON.stringify(moduleUrl)});
    const v8 = await import("node:v8");
    if (${withSettings}) applyDaemonMemorySettings();
    let keep = [];
    for (let i = 0; i < 3000000; i++) { keep.push({ i, pair: [i, i] }); if (keep.length > 50000) keep = []; }
    console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size);`;
  const { stdout } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], { timeout: 60_000 });
  return Number(stdout.trim());
}

t.test("the young generation stays at its initial size under a high allocation rate", async (t) => {
  const plain = await newSpaceAfterBurst(false);
  const tuned = await newSpaceAfterBurst(true);
  t.ok(tuned > 0 && tuned < plain, `new space ${tuned} bytes with the settings, ${plain} without`);
  t.ok(tuned <= 4 * MIB, `at most 4 MiB (${tuned} bytes)`);
});

t.test("the collector runs a full collection after buffer memory grew", async (t) => {
  const collector = startBufferGarbageCollector();
  if (collector === undefined) return t.fail("gc not available");
  t.teardown(() => collector.stop());
  // Live buffers past the threshold: growth the collector must act on.
  const held = Array.from({ length: GARBAGE_COLLECT_GROWTH_BYTES / MIB + 4 }, () => new Uint8Array(MIB).fill(1));
  const deadline = Date.now() + GARBAGE_COLLECT_MIN_INTERVAL_MS + 10_000;
  while (collector.collections === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(collector.collections >= 1, "collected");
  t.equal(held.length, GARBAGE_COLLECT_GROWTH_BYTES / MIB + 4);
});
