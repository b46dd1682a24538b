// Memory settings of the daemon process (src/process-memory.ts): the settings are taken on
// this Linux/glibc system, and the collector of dropped I/O buffers runs a full collection once
// buffer memory grew past its threshold.
import t from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  DAEMON_MAX_SEMI_SPACE_MIB,
  DAEMON_STARTUP,
  GARBAGE_COLLECT_GROWTH_BYTES,
  GARBAGE_COLLECT_MIN_INTERVAL_MS,
  IDLE_SLAB_KEEP_MS,
  MALLOC_ARENA_MAX,
  applyDaemonMemorySettings,
  startBufferGarbageCollector,
} from "../src/process-memory.js";

const MIB = 1024 * 1024;
const execFileAsync = promisify(execFile);

t.test("glibc and V8 accept the settings", async (t) => {
  const applied = applyDaemonMemorySettings();
  t.same(applied.v8Flags, ["--semi-space-growth-factor=1", "--heap-growing-percent=20", "--compact-on-every-full-gc", "--max-semi-space-size=1"]);
  t.ok(applied.malloc.includes(`M_ARENA_MAX=${MALLOC_ARENA_MAX}`), "bounded arenas");
});

/**
 * Runs `body` (ES module statements with `v8` in scope, printing one number) in a fresh node
 * process, after the daemon's memory settings when `withSettings`, and returns that number.
 */
async function figureInFreshNode(withSettings: boolean, body: string, nodeFlags: readonly string[] = []): Promise<number> {
  const moduleUrl = new URL("../dist/process-memory.js", import.meta.url).href;
  const script = `
    const { applyDaemonMemorySettings } = await import(${JSON.stringify(moduleUrl)});
    const v8 = await import("node:v8");
    if (${withSettings}) applyDaemonMemorySettings();
    ${body}`;
  const { stdout } = await execFileAsync(process.execPath, [...nodeFlags, "--input-type=module", "-e", script], { timeout: 60_000 });
  return Number(stdout.trim());
}

/** New-space size of a fresh node process after a burst of short-lived objects, with or without the settings. */
function newSpaceAfterBurst(withSettings: boolean): Promise<number> {
  const body = `
    let keep = [];
    for (let i = 0; i < 3000000; i++) { keep.push({ i, pair: [i, i] }); if (keep.length > 50000) keep = []; }
    console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size);`;
  // With the settings: as the daemon's re-executed image runs, with DAEMON_STARTUP's node flags.
  return figureInFreshNode(withSettings, body, withSettings ? DAEMON_STARTUP.nodeFlags : []);
}

t.test("the young generation stays small under a high allocation rate", async (t) => {
  const plain = await newSpaceAfterBurst(false);
  const tuned = await newSpaceAfterBurst(true);
  t.ok(tuned > 0 && tuned < plain, `new space ${tuned} bytes with the settings, ${plain} without`);
  t.ok(tuned <= 2 * DAEMON_MAX_SEMI_SPACE_MIB * MIB, `at most two semi-spaces of ${DAEMON_MAX_SEMI_SPACE_MIB} MiB (${tuned} bytes)`);
});

/** Old space committed beyond what is live after a full collection that follows a burst, in a fresh node process. */
function oldSpaceSlackAfterBurst(withSettings: boolean): Promise<number> {
  const body = `
    v8.setFlagsFromString("--expose-gc");
    const gc = (await import("node:vm")).runInNewContext("gc");
    // Objects that stay, interleaved with ones dropped later, as leases among a burst's garbage.
    const kept = [], dropped = [];
    for (let i = 0; i < 400000; i++) (i % 8 === 0 ? kept : dropped).push({ i, s: "item " + i });
    gc();
    dropped.length = 0;
    gc();
    const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space");
    console.log(kept.length === 50000 ? old.space_size - old.space_used_size : -1);`;
  return figureInFreshNode(withSettings, body);
}

t.test("a full collection gives back the pages a burst left sparse", async (t) => {
  const plain = await oldSpaceSlackAfterBurst(false);
  const tuned = await oldSpaceSlackAfterBurst(true);
  // Measured here: 11-17 MiB without the settings, under 1 MiB with them.
  t.ok(plain >= 4 * MIB, `without the settings ${plain} bytes of old space beyond the live objects`);
  t.ok(tuned >= 0 && tuned < 2 * MIB, `with them ${tuned} bytes`);
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

t.test("the collector drops the shared pool's slabs idle past IDLE_SLAB_KEEP_MS and collects them", async (t) => {
  const { sharedAlignedBufferPool } = await import("../src/device/direct-device.js");
  const pool = sharedAlignedBufferPool();
  const buffers = [pool.acquire(MIB), pool.acquire(MIB)];
  for (const b of buffers) pool.release(b);
  t.equal(pool.stats().idle, 2, "kept for reuse at first");
  const collector = startBufferGarbageCollector();
  if (collector === undefined) return t.fail("gc not available");
  t.teardown(() => collector.stop());
  const deadline = Date.now() + IDLE_SLAB_KEEP_MS + GARBAGE_COLLECT_MIN_INTERVAL_MS + 10_000;
  while ((pool.stats().idle > 0 || collector.collections === 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(pool.stats().idle, 0, "dropped once idle that long");
  t.ok(collector.collections >= 1, "and collected");
});
