/**
 * The one place for test support (CONTRIBUTING.md "Which tests need what"): what the machine has
 * and what a missing piece does to a test (env.ts), temporary lease files (files.ts), bounded
 * waits (wait.ts), daemons of either kind as processes and lease holders (daemons.ts), a
 * sanlock-ts daemon in the test's process and the real clients (in-process-daemon.ts), loop
 * devices (loop-device.ts), a storage path that stalls (stall-fs/), and readers of what a
 * daemon observed or renewed (observed-records.ts, renewal-history.ts).
 */
export * from "./env.js";
export * from "./files.js";
export * from "./wait.js";
export * from "./daemons.js";
export * from "./in-process-daemon.js";
export * from "./loop-device.js";
export * from "./observed-records.js";
export * from "./renewal-history.js";
export * from "./stall-fs/index.js";
export * from "./sam-run.js";
export * from "./json-lines.js";
export * from "./dlm.js";
