// Test support for the lease algorithm tests: virtual-time driver and golden vectors.
// (Not a test file itself; imported by delta*/paxos*/host* tests.)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MemoryDevice, type VirtualClock, buildResourceArea, geometryFor } from "../src/index.js";

const VECTORS = fileURLToPath(new URL("../../../test/vectors/", import.meta.url));

export function loadVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(VECTORS + name));
}

/** Host name used by the daemon in vectors scenario S. */
export const SCENARIO_S_HOST = "7c93aafd-9939-4bb5-ba75-5a583a43b897.vm";

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Run `work` to completion on virtual time: whenever every task is blocked in a
 * clock sleep, jump to the next wake-up. Bounded by `maxSteps`.
 */
export async function drive<T>(clock: VirtualClock, work: Promise<T>, maxSteps = 200_000): Promise<T> {
  let settled = false;
  work.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let step = 0; step < maxSteps && !settled; step++) {
    await flush();
    if (settled) break;
    if (clock.pendingSleeps() > 0) clock.advanceToNextWakeup();
  }
  if (!settled) throw new Error(`drive: work did not finish within ${maxSteps} steps`);
  return work;
}

/** A 512/1M lockspace at offset 0 made of the init record from the vectors, repeated for 2000 hosts. */
export function lockspaceDevice(sizeBytes = 8 * 1048576, initVector = "ls-512-1M-init.bin"): MemoryDevice {
  const record = loadVector(initVector).subarray(0, 512);
  const dev = new MemoryDevice({ sectorSize: 512, size: sizeBytes });
  for (let h = 0; h < 2000; h++) dev.contents.set(record, h * 512);
  return dev;
}

/** A freshly initialised 512/1M resource area (leader + request record) at `offset`. */
export function placeResource(dev: MemoryDevice, offset: number, name: string, lockspace = "LS"): void {
  dev.contents.set(buildResourceArea({ spaceName: lockspace, resourceName: name }, geometryFor(512, 1048576)), offset);
}

export function sectors(dev: MemoryDevice, offset: number, length: number): Uint8Array {
  return dev.contents.slice(offset, offset + length);
}

/**
 * Clock for byte-exact replays of vector timelines: now() is whatever the test
 * sets; sleeps end after one macrotask (so in-memory I/O always beats its
 * timeout) and completed sleeps are summed in `slept`.
 */
export class ScriptedClock {
  current: number;
  slept = 0;
  constructor(start: number) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  async sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    await flush();
    if (signal?.aborted) throw signal.reason;
    this.slept += seconds;
  }
}
