// Automatic disk leases (docs/lockmanager.md §3): each writable disk path gets a lease named after
// the MD5 of the path's bytes, in a 1 MiB file of that name in disk_lease_dir, in the lockspace
// __LIBVIRT__DISKS__ whose area is the file of that name in the same directory.

import { createHash } from "node:crypto";

export const DISKS_LOCKSPACE = "__LIBVIRT__DISKS__";

/** The lease name of a disk: MD5 of the path exactly as written (UTF-8, no NUL), 32 lowercase hex digits. */
export function diskLeaseName(diskPath: string): string {
  return createHash("md5").update(Buffer.from(diskPath, "utf8")).digest("hex");
}

/** Where the lockspace area of __LIBVIRT__DISKS__ lives. */
export function lockspaceFilePath(diskLeaseDir: string): string {
  return `${diskLeaseDir}/${DISKS_LOCKSPACE}`;
}

/** Where the lease of a disk lives (offset 0). */
export function diskLeaseFilePath(diskLeaseDir: string, diskPath: string): string {
  return `${diskLeaseDir}/${diskLeaseName(diskPath)}`;
}
