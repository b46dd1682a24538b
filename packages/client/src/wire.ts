/**
 * The socket protocol's codec, result table and limits, as the client speaks them (core's wire
 * codec, docs/wire.md), for programs that build or read messages themselves: the CLI, tools,
 * tests. A thin entry: it loads the codec and nothing of the client.
 */
export * from "@sanlock-ts/core/wire";
/** io_timeout a lockspace gets when add_lockspace or write_lockspace is given 0 (docs/algorithms.md §1.2). */
export { DEFAULT_IO_TIMEOUT } from "@sanlock-ts/core/limits";
