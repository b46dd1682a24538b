/**
 * Test helper: sparse backing files and loop block devices with a chosen
 * logical sector size, removed again in the test's teardown (also when the
 * test fails).
 *
 * Usage (tap):
 *   import { createLoopDevice, loopDeviceSkipReason } from "../../../test/support/index.js";
 *   t.test("on a 4K device", { skip: loopDeviceSkipReason() }, async (t) => {
 *     const loop = await createLoopDevice(t, { sizeBytes: 16 << 20, sectorSize: 4096 });
 *     // loop.path is e.g. "/dev/loop3"; loop.backingFile the sparse file behind it
 *   });
 *
 * Files live in a directory on a filesystem with O_DIRECT (ext4/xfs):
 * $SANLOCK_TS_TEST_DIR, else /var/tmp (often tmpfs-free, unlike /tmp).
 * Needs root and losetup (util-linux); `loopDeviceSkipReason()` says why not.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { environmentSkip, type FailTarget } from "./env.js";
import type { Teardown } from "./files.js";

const run = promisify(execFile);

/** The part of a tap Test this helper needs. */

export interface SparseFile {
  /** Absolute path of the file. */
  path: string;
  sizeBytes: number;
}

export interface LoopDevice {
  /** The block device, e.g. /dev/loopN. */
  path: string;
  /** The sparse file behind it. */
  backingFile: string;
  /** Logical sector size given to losetup (BLKSSZGET reports it). */
  sectorSize: number;
  sizeBytes: number;
  /** Detach now (idempotent); teardown calls it too. */
  detach(): Promise<void>;
}

/** Largest file or device this helper makes, so a typo cannot fill the disk. */
export const MAX_TEST_DEVICE_BYTES = 1024 * 1024 * 1024;

/** Directory for test files; must support O_DIRECT. */
export function testDataDir(): string {
  return process.env.SANLOCK_TS_TEST_DIR ?? "/var/tmp";
}

/**
 * Why loop devices cannot be used here, or false if they can (pass as tap's `skip`). Under
 * REQUIRE_INTEROP=1 a reason is also a failure, reported on `t` (default: tap's root).
 */
export function loopDeviceSkipReason(t?: FailTarget): string | false {
  return environmentSkip(loopDeviceGap(), t);
}

function loopDeviceGap(): string | false {
  if (process.getuid?.() !== 0) return "loop devices need root";
  if (!existsSync("/dev/loop-control")) return "no /dev/loop-control";
  if (spawnSync("losetup", ["--version"]).status !== 0) return "losetup (util-linux) is not installed";
  return false;
}

/**
 * A sparse file of `sizeBytes` (optionally starting with `contents`) in a fresh
 * directory under testDataDir(); the directory is removed in teardown.
 */
export async function createSparseFile(t: Teardown, options: { sizeBytes: number; name?: string; contents?: Uint8Array }): Promise<SparseFile> {
  checkSize(options.sizeBytes);
  const dir = await mkdtemp(join(testDataDir(), "sanlock-ts-test-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, options.name ?? "disk.img");
  await writeFile(path, options.contents ?? new Uint8Array(0));
  await truncate(path, options.sizeBytes);
  return { path, sizeBytes: options.sizeBytes };
}

/**
 * Attach a fresh sparse file as a loop device with `sectorSize`-byte logical
 * sectors (default 512). Detached and deleted in teardown.
 */
export async function createLoopDevice(t: Teardown, options: { sizeBytes: number; sectorSize?: number }): Promise<LoopDevice> {
  const sectorSize = options.sectorSize ?? 512;
  if (![512, 1024, 2048, 4096].includes(sectorSize)) throw new RangeError(`loop sector size ${sectorSize} not supported`);
  if (options.sizeBytes % sectorSize !== 0) throw new RangeError(`size ${options.sizeBytes} is not a multiple of ${sectorSize}`);
  const file = await createSparseFile(t, { sizeBytes: options.sizeBytes });
  const { stdout } = await run("losetup", ["--find", "--show", "--sector-size", String(sectorSize), file.path]);
  const path = stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(path)) throw new Error(`losetup printed ${JSON.stringify(stdout)}, not a loop device`);
  let detached = false;
  const detach = async (): Promise<void> => {
    if (detached) return;
    detached = true;
    await detachLoop(path);
  };
  // Order against the file's removal does not matter: unlinking an attached
  // file only removes its name; the loop driver holds it open until detach.
  t.teardown(detach);
  return { path, backingFile: file.path, sectorSize, sizeBytes: options.sizeBytes, detach };
}

/** losetup -d, retried briefly: udev may still hold the device just after use. */
async function detachLoop(path: string): Promise<void> {
  const attempts = 10;
  for (let attempt = 1; ; attempt++) {
    try {
      await run("losetup", ["--detach", path]);
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes > MAX_TEST_DEVICE_BYTES) {
    throw new RangeError(`test device size ${sizeBytes} outside 1..${MAX_TEST_DEVICE_BYTES}`);
  }
}
