// The least disk I/O each measured operation needs, derived from the algorithm
// (docs/algorithms.md), for a 512-byte-sector file with 1 MiB alignment,
// a free, uncontended lease and the default num_hosts = max_hosts = 2000.

export const SECTOR = 512;
export const ALIGN = 1024 * 1024;
export const MAX_HOSTS = 2000;

/** docs/algorithms.md §4.1: ballot reads cover sectors 0..P-1, P = num_hosts + 2 rounded up to a power of two. */
export function ballotReadBytes(numHosts = MAX_HOSTS, sectorSize = SECTOR) {
  let sectors = 1;
  while (sectors < numHosts + 2) sectors *= 2;
  return sectors * sectorSize;
}

const io = (reads, readBytes, writes, writeBytes, why) => ({ reads, readBytes, writes, writeBytes, why });

/** Minimum per operation: { reads, readBytes, writes, writeBytes, why }. */
export function minimumIo() {
  const p = ballotReadBytes();
  // docs/algorithms.md §4.3 steps 1, 4, 9 (the first read is reused as the leader check), docs/algorithms.md §4.6 phases 1 and 2, §4.7.
  const exAcquire = io(
    3,
    ALIGN + 2 * p,
    3,
    3 * SECTOR,
    "§4.3/4.6/4.7: read lease area, write dblock, read P sectors, write dblock, read P sectors, write leader",
  );
  // docs/algorithms.md §4.8 steps 3 and 4: released dblock, leader read (one sector), leader write.
  const exRelease = io(1, SECTOR, 2, 2 * SECTOR, "§4.8: write released dblock, read leader, write freed leader");
  // docs/algorithms.md §5.2: the exclusive acquire, then the shared mode block write and the leader release (docs/algorithms.md §4.8 step 4).
  const shAcquire = io(
    exAcquire.reads + 1,
    exAcquire.readBytes + SECTOR,
    exAcquire.writes + 2,
    exAcquire.writeBytes + 2 * SECTOR,
    "§5.2: exclusive acquire + write dblock with MBLOCK_SHARED + read and write leader",
  );
  // docs/algorithms.md §5.3: one sector write, leader untouched.
  const shRelease = io(0, 0, 1, SECTOR, "§5.3: write released dblock with zero mode block");
  return { exAcquire, exRelease, shAcquire, shRelease };
}

/**
 * docs/algorithms.md §2.3: one renewal = read the whole lockspace area + write our sector; renewals are
 * 2N + 0.5..1.5 s apart. The lower end (the densest cadence the spec allows, and the one both
 * daemons show) gives 60 / (2N + 0.5) renewals per minute per lockspace.
 */
export function renewalIoPerMinute(lockspaces, ioTimeout) {
  const renewalsPerMinute = 60 / renewalPeriodSeconds(ioTimeout);
  return { ios: lockspaces * renewalsPerMinute * 2, readBytes: lockspaces * renewalsPerMinute * ALIGN };
}

/** docs/algorithms.md §2.3: the shortest time between two renewals of one lockspace, 2N + 0.5 s. */
export function renewalPeriodSeconds(ioTimeout) {
  return 2 * ioTimeout + 0.5;
}
