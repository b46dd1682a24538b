/** Registers the lockspace, resource and disk command handlers of the lease engine. */
import type { CommandRegistry } from "../dispatch.js";
import { registerDiskHandlers } from "./disk-handlers.js";
import { registerLockspaceHandlers } from "./lockspace-handlers.js";
import { registerResourceHandlers } from "./resource-handlers.js";
import { registerRindexHandlers } from "./rindex-handlers.js";

export function registerLeaseHandlers(registry: CommandRegistry): void {
  registerLockspaceHandlers(registry);
  registerResourceHandlers(registry);
  registerDiskHandlers(registry);
  registerRindexHandlers(registry);
}

export { createLeaseEngine, engineOf } from "./engine.js";
export type { LeaseEngineOptions } from "./engine.js";
