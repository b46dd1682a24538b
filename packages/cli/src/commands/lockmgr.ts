/**
 * `sanlock-ts lockmgr exec|killpath ...`: the process side of the lock manager
 * (@sanlock-ts/client/lockmanager). cli.ts hands these lines to lockmgr/run.ts without yargs
 * (everything after `--` belongs to the program); this entry names the command in the table.
 */
import type { TopCommand } from "./command-module.js";

export const lockmgrCommand: TopCommand = {
  command: "lockmgr <action> [words..]",
  describe: "lock manager processes: exec a program as the lease holder of a domain, or the failure-action helper",
  knownKeys: ["action", "words"],
  builder: (yargs) => yargs.positional("action", { type: "string" }).positional("words", { type: "string", array: true }),
  run: async (args, output) => {
    const { runLockmgr } = await import("../lockmgr/run.js");
    const words = Array.isArray(args.words) ? args.words.map(String) : [];
    return runLockmgr([String(args.action), ...words], output);
  },
};
