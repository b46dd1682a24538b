/**
 * sanlock's fixed limits and defaults, defined once for every package (docs/ondisk.md §1,
 * docs/algorithms.md §1.2-§1.3, docs/wire.md §3). Durations derived from io_timeout are in timeouts.ts.
 */

/** io_timeout used when a lockspace is written or joined with 0 (sanlock's DEFAULT_IO_TIMEOUT). */
export const DEFAULT_IO_TIMEOUT = 10;
/** Largest io_timeout: it is stored in an 8-bit on-disk field (docs/algorithms.md §1.2). */
export const MAX_IO_TIMEOUT = 255;
/** Hardware watchdog fire timeout, fixed in sanlock 3.8.5 (docs/algorithms.md §1.3). */
export const WATCHDOG_FIRE_TIMEOUT = 60;
/** Hosts of an area when none are given, and the most any area holds (sanlock's DEFAULT_MAX_HOSTS). */
export const DEFAULT_MAX_HOSTS = 2000;
/** Largest host_id a lockspace can be joined with: host_ids are 1..max_hosts. */
export const MAX_HOST_ID = DEFAULT_MAX_HOSTS;
/** Lockspace, resource and host names are stored in 48-byte fields (NAME_ID_SIZE, SANLK_NAME_LEN). */
export const NAME_LEN = 48;
/** Most disks one resource lease may be replicated on (SANLK_MAX_DISKS; docs/algorithms.md §4.11). */
export const MAX_DISKS = 4;
