export * from "./errors.js";
export * from "./aligned-buffer-pool.js";
export * from "./in-flight-limiter.js";
export * from "./threadpool.js";
export * from "./device-io.js";
export * from "./direct-device.js";
