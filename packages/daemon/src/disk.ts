/**
 * The on-disk records and lease areas (core's ondisk and areas, docs/ondisk.md) for programs that
 * read and write lease storage directly, without a daemon process: `sanlock-ts direct`. Disk
 * access is the daemon package's concern (its devices do the aligned O_DIRECT I/O these areas
 * are written with), so the CLI reaches the formats through here. A thin entry: it loads the two
 * core modules and nothing of the daemon.
 */
export * from "@sanlock-ts/core/areas";
export * from "@sanlock-ts/core/ondisk";
