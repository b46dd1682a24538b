/**
 * The registry of top-level commands. To add one (e.g. `client`, `daemon`),
 * write commands/<name>.ts exporting a TopCommand, add one line below, and add
 * its word to TOP_COMMAND_NAMES in cli.ts (which routes without loading this table).
 */
import type { TopCommand } from "./command-module.js";
import { clientCommand } from "./client/command.js";
import { daemonCommand } from "./daemon.js";
import { directCommand } from "./direct.js";
import { helpCommand, versionCommand } from "./info.js";
import { superviseCommand } from "./supervise.js";
import { lockmgrCommand } from "./lockmgr.js";
import { dlmCommand } from "./dlm.js";

export const TOP_COMMANDS: readonly TopCommand[] = [
  directCommand,
  daemonCommand,
  clientCommand,
  superviseCommand,
  versionCommand,
  helpCommand,
  lockmgrCommand,
  dlmCommand,
];
