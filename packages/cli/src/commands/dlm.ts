/**
 * `sanlock-ts dlm format|join|leave|ls|lockdump|lockdebug|lock|dump ...`: DLM lockspaces and locks on shared
 * storage (docs/dlm.md §8). cli.ts hands these lines to dlm/run.ts without yargs; this entry names
 * the command in the table.
 */
import type { TopCommand } from "./command-module.js";

export const dlmCommand: TopCommand = {
  command: "dlm <action> [words..]",
  describe: "DLM lockspaces and locks on shared storage: format, join, leave, ls, lockdump, lockdebug, lock, dump",
  knownKeys: ["action", "words"],
  builder: (yargs) => yargs.positional("action", { type: "string" }).positional("words", { type: "string", array: true }),
  run: async (args, output) => {
    const { runDlm } = await import("../dlm/run.js");
    const words = Array.isArray(args.words) ? args.words.map(String) : [];
    return runDlm([String(args.action), ...words], output);
  },
};
