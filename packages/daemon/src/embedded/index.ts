/** `@sanlock-ts/daemon/embedded`: the daemon inside an application (embedded-daemon.ts). */
export { startEmbeddedDaemon, type EmbeddedDaemon } from "./embedded-daemon.js";
export type { EmbeddedDaemonOptions, EmbeddedSettings, ClientConstructor } from "./embedded-options.js";
export { LeaseLostError, type LockspaceLoss } from "./lease-loss.js";
export { EmbeddedDaemonError, EmbeddedErrorCode } from "./errors.js";
