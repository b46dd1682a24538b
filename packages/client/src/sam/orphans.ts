// Continuity "hold" (docs/sam.md §7): the instance's leases are persistent, so when it dies the
// daemon keeps them as orphans for the next instance to adopt. Whenever the supervisor will not
// start another instance it must free them: RELEASE with REL_ORPHAN, one struct per resource,
// on a registered connection of its own that holds no lease (so the daemon never kills the
// supervisor for it). The target of REL_ORPHAN is the caller's connection (docs/wire.md §5.5).

import { ReleaseFlag } from "@sanlock-ts/core/wire";
import { release, status, type ResourceSpec } from "../operations.js";
import { Registration } from "../registration.js";
import { parseStateString } from "../resource-string.js";

/** Limit of the connect and of the release call: a stuck daemon must not keep a supervisor forever. */
const RELEASE_TIMEOUT_MS = 30_000;

/** How long the daemon may take to see a dead instance's connection close (its leases become orphans then). */
const CLIENT_GONE_WAIT_MS = 10_000;
const CLIENT_GONE_POLL_MS = 50;

/**
 * Releases the orphans named in `leases` (an INQUIRE state string) that instance `pid` left;
 * returns how many the daemon released, or the error text when it could not be asked.
 *
 * The instance was reaped, but its registered connection may still be open for a moment: a
 * child of the program can hold the inherited socket a little longer, and the daemon handles the
 * close on its own schedule. Its persistent leases become orphans only then, and a REL_ORPHAN
 * sent before finds none and leaves them for the next supervisor to trip over (-EUCLEAN). So
 * this first waits, bounded, until the daemon's STATUS no longer lists `pid` as a client.
 */
export async function releaseOrphans(socketPath: string, leases: string, pid?: number): Promise<number | string> {
  if (leases === "") return 0;
  if (pid !== undefined && pid > 0) await untilClientGone(socketPath, pid);
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

/** Waits until STATUS lists no client `pid` (or CLIENT_GONE_WAIT_MS passed, or STATUS fails: then the release is tried anyway). */
async function untilClientGone(socketPath: string, pid: number): Promise<void> {
  const deadline = Date.now() + CLIENT_GONE_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      // Each STATUS gets only what is left of the wait, so the whole wait stays within CLIENT_GONE_WAIT_MS.
      const now = await status({ socketPath, timeoutMs: Math.max(1, deadline - Date.now()) }, 0);
      if (!now.clients.some((c) => c.pid === pid)) return;
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, CLIENT_GONE_POLL_MS));
  }
}
