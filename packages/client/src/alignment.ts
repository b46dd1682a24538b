// get_alignment(path) of the Python binding: the default lease alignment for
// a device, from its logical sector size, without asking the daemon
// (docs/wire.md §6 note, §7.12: 512-byte sectors → 1 MiB, 4096 → 8 MiB).
// Regular files count as 512-byte devices, as sanlock treats them.

import { readFile, stat } from "node:fs/promises";
import { ClientError, ClientErrorCode, SanlockError } from "./errors.js";
import { Cmd, Errno } from "@sanlock-ts/core/wire";

const ALIGN_BY_SECTOR: ReadonlyMap<number, number> = new Map([
  [512, 1048576],
  [4096, 8388608],
]);

/** Logical sector size of a block device from sysfs (a partition's is its disk's). */
async function blockDeviceSectorSize(rdev: number): Promise<number> {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
  const base = `/sys/dev/block/${major}:${minor}`;
  for (const file of [`${base}/queue/logical_block_size`, `${base}/../queue/logical_block_size`]) {
    try {
      return Number.parseInt((await readFile(file, "utf8")).trim(), 10);
    } catch {
      // not this one; a partition has no queue/ of its own
    }
  }
  throw new ClientError(ClientErrorCode.BAD_ARGUMENT, `cannot read the logical sector size of device ${major}:${minor}`);
}

export async function getAlignment(path: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new SanlockError(Cmd.ALIGN, -Errno.ENODEV); // what sanlock reports when it cannot open the path
  }
  const sector = info.isBlockDevice() ? await blockDeviceSectorSize(info.rdev) : 512;
  const alignment = ALIGN_BY_SECTOR.get(sector);
  if (alignment === undefined) throw new SanlockError(Cmd.ALIGN, -Errno.EINVAL); // other sector sizes (docs/wire.md §7.12)
  return alignment;
}
