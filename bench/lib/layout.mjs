// Where the benchmark's lockspaces and resource leases live: three sparse files on ext4
// (O_DIRECT needs a real file system; /tmp may be tmpfs), 1 MiB per area (512-byte sectors).
import { mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MiB = 1024 * 1024;
export const MAIN_LOCKSPACE = "BENCH";
export const HOST_ID = 1;
export const PARALLEL_CLIENTS = 8;

/** Builds the file layout in `dir` for `held` held resources and `lockspaces` extra lockspaces. */
export function createLayout(dir, { held, lockspaces }) {
  mkdirSync(dir, { recursive: true });
  const lsPath = join(dir, "main-ls.lease");
  const resPath = join(dir, "resources.lease");
  const spacesPath = join(dir, "spaces.lease");
  const resource = (name, index) => ({ lockspace: MAIN_LOCKSPACE, name, path: resPath, offset: index * MiB });
  const exclusive = resource("ex", 0);
  const shared = resource("sh", 1);
  const parallel = Array.from({ length: PARALLEL_CLIENTS }, (_, i) => resource(`par${i}`, 2 + i));
  const heldResources = Array.from({ length: held }, (_, i) => resource(`held${i}`, 2 + PARALLEL_CLIENTS + i));
  const spaces = Array.from({ length: lockspaces }, (_, i) => ({ name: `SPACE${i}`, path: spacesPath, offset: i * MiB }));
  sparseFile(lsPath, MiB);
  sparseFile(resPath, (2 + PARALLEL_CLIENTS + held) * MiB);
  sparseFile(spacesPath, Math.max(1, lockspaces) * MiB);
  return {
    main: { name: MAIN_LOCKSPACE, path: lsPath, offset: 0 },
    exclusive,
    shared,
    parallel,
    held: heldResources,
    spaces,
    resPath,
    spacesPath,
    allResources: [exclusive, shared, ...parallel, ...heldResources],
  };
}

function sparseFile(path, size) {
  writeFileSync(path, "");
  truncateSync(path, size);
}
