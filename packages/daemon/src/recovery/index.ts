export * from "./errors.js";
export * from "./kill-policy.js";
export * from "./killpath-argv.js";
export * from "./kill-executor.js";
export * from "./lockspace-recovery.js";
export * from "./holder-killer.js";
