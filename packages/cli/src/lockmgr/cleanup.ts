/**
 * `sanlock-ts lockmgr cleanup [-q] [--config FILE]`: what libvirt's virt-sanlock-cleanup does
 * (docs/lockmanager.md §3.7), without augtool and a shell: for every file in disk_lease_dir but
 * the lockspace, take its lease on a registered connection; if that works no domain uses the
 * disk, so the file is removed while the lease is held, then the lease goes with the connection.
 * A lease held anywhere (this host or another) is left alone. Prints the script's lines
 * ("Cleanup: RESOURCE PASS|FAIL") and exits 0, as the script does.
 */
import { readdir, unlink } from "node:fs/promises";
import { DEFAULT_DISK_LEASE_DIR, DISKS_LOCKSPACE, readLockConfig } from "@sanlock-ts/client/lockmanager";
import { acquire } from "@sanlock-ts/client/operations";
import { Registration } from "@sanlock-ts/client/registration";
import { resolveSocketPath } from "@sanlock-ts/client/socket-path";
import { EXIT_FAILURE, EXIT_OK, type Output } from "../output.js";

const DEFAULT_CONFIG = "/etc/libvirt/qemu-sanlock.conf";
/** A lease directory holds one file per disk; more than this is not one. */
const MAX_FILES = 100_000;
const QUICK_REPLY_MS = 60_000;

/** True when the lease was free and its file is removed. */
async function cleanOne(socketPath: string, dir: string, name: string): Promise<boolean> {
  const path = `${dir}/${name}`;
  const registration = await Registration.open(socketPath, { timeoutMs: QUICK_REPLY_MS });
  try {
    const spec = { lockspace: DISKS_LOCKSPACE, resource: name, disks: [{ path, offset: 0n }], shared: false, persistent: false };
    await acquire({ socketPath, timeoutMs: QUICK_REPLY_MS }, { registration }, [spec], 0);
    await unlink(path);
    return true;
  } catch {
    return false;
  } finally {
    await registration.close(); // the daemon releases the lease of the removed file
  }
}

export async function runCleanup(argv: readonly string[], output: Output): Promise<number> {
  let quiet = false;
  let configFile = DEFAULT_CONFIG;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-q") quiet = true;
    else if (argv[i] === "--config" && argv[i + 1] !== undefined) configFile = argv[++i] as string;
    else {
      output.error("usage: sanlock-ts lockmgr cleanup [-q] [--config FILE]");
      return EXIT_FAILURE;
    }
  }
  const config = await readLockConfig(configFile);
  const dir = config.diskLeaseDir || DEFAULT_DISK_LEASE_DIR;
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    output.error(`sanlock-ts lockmgr cleanup: ${dir}: ${(err as Error).message}`);
    return EXIT_FAILURE;
  }
  const socketPath = resolveSocketPath();
  for (const name of names.slice(0, MAX_FILES)) {
    if (name === DISKS_LOCKSPACE) continue;
    const cleaned = await cleanOne(socketPath, dir, name);
    if (!quiet) output.line(`Cleanup: ${DISKS_LOCKSPACE}:${name}:${dir}/${name}:0 ${cleaned ? "PASS" : "FAIL"}`);
  }
  return EXIT_OK;
}
