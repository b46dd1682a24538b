/**
 * Temporary lease files and directories for tests, and the one Teardown type every helper takes
 * (the part of a tap Test they need). Lease files live under LEASE_ROOT: O_DIRECT needs a real
 * file system (ext4, xfs), not the tmpfs of /tmp.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The part of a tap Test the helpers need: everything they start or create is undone in teardown. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Lease files need a file system with O_DIRECT (ext4/xfs), not tmpfs. */
export const LEASE_ROOT = process.env["SANLOCK_TS_TEST_DIR"] ?? "/var/tmp";

/** A fresh directory under LEASE_ROOT, removed in teardown. */
export function tempLeaseDir(t: Teardown, prefix: string): string {
  const dir = mkdtempSync(join(LEASE_ROOT, prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A sparse file of `size` bytes (default 8 MiB) in `dir`. */
export function sparseFile(dir: string, name: string, size = 8 << 20): string {
  const path = join(dir, name);
  writeFileSync(path, "");
  truncateSync(path, size);
  return path;
}
