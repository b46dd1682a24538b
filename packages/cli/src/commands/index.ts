/**
 * The registry of top-level commands. To add one (e.g. `client`, `daemon`),
 * write commands/<name>.ts exporting a TopCommand and add one line below.
 */
import type { TopCommand } from "./command-module.js";
import { clientCommand } from "./client/command.js";
import { daemonCommand } from "./daemon.js";
import { directCommand } from "./direct.js";
import { helpCommand, versionCommand } from "./info.js";

export const TOP_COMMANDS: readonly TopCommand[] = [
  directCommand,
  daemonCommand,
  clientCommand,
  versionCommand,
  helpCommand,
];
