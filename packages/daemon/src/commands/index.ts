/** The default command table: every command 1..40 has a handler. */
import { CommandRegistry } from "../dispatch.js";
import { registerConfigCommands } from "./config.js";
import { registerInfoCommands } from "./info.js";
import { registerSessionCommands } from "./session.js";
import { registerShutdownCommands } from "./shutdown.js";

export function defaultCommandRegistry(): CommandRegistry {
  const registry = new CommandRegistry();
  registerSessionCommands(registry);
  registerInfoCommands(registry);
  registerConfigCommands(registry);
  registerShutdownCommands(registry);
  return registry;
}
