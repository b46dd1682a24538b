// Continuity "hold" (docs/sam.md §7): the instance's leases are persistent, so when it dies the
// daemon keeps them as orphans for the next instance to adopt. Whenever the supervisor will not
// start another instance it must free them: RELEASE with REL_ORPHAN, one struct per resource,
// on a registered connection of its own that holds no lease (so the daemon never kills the
// supervisor for it). The target of REL_ORPHAN is the caller's connection (docs/wire.md §5.5).

import { ReleaseFlag } from "@sanlock-ts/core/wire";
import { release, type ResourceSpec } from "../operations.js";
import { Registration } from "../registration.js";
import { parseStateString } from "../resource-string.js";

/** Limit of the connect and of the release call: a stuck daemon must not keep a supervisor forever. */
const RELEASE_TIMEOUT_MS = 30_000;

/**
 * Releases the orphans named in `leases` (an INQUIRE state string); returns how many the daemon
 * released, or the error text when it could not be asked.
 */
export async function releaseOrphans(socketPath: string, leases: string): Promise<number | string> {
  if (leases === "") return 0;
  return releaseOrphanSpecs(
    socketPath,
    parseStateString(leases).map((r) => ({ lockspace: r.lockspace, resource: r.resource, disks: r.disks })),
  );
}

/** The same for leases given one by one (`supervise --release-orphans -r ...`). */
export async function releaseOrphanSpecs(socketPath: string, specs: ResourceSpec[]): Promise<number | string> {
  if (specs.length === 0) return 0;
  let registration: Registration | undefined;
  try {
    registration = await Registration.open(socketPath, { timeoutMs: RELEASE_TIMEOUT_MS });
    return await release({ socketPath, timeoutMs: RELEASE_TIMEOUT_MS }, { registration }, specs, ReleaseFlag.ORPHAN);
  } catch (err) {
    return (err as Error).message;
  } finally {
    await registration?.close();
  }
}
