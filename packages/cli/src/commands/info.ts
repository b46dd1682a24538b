/**
 * `sanlock-ts version` and `sanlock-ts help`: print and exit, touching no
 * storage and no daemon (like `sanlock version` / `sanlock help`).
 */
import type { TopCommand } from "./command-module.js";
import { EXIT_OK, type Output } from "../output.js";

/** The sanlock release whose disk and wire formats sanlock-ts implements. */
export const SANLOCK_VERSION = "3.8.5";

export const versionCommand: TopCommand = {
  command: "version",
  describe: "print version",
  knownKeys: [],
  builder: (yargs) => yargs,
  run: async (_args, output) => {
    output.line(SANLOCK_VERSION);
    return EXIT_OK;
  },
};

export const helpCommand: TopCommand = {
  command: "help",
  describe: "print this usage",
  knownKeys: [],
  builder: (yargs) => yargs,
  run: async (_args, output) => {
    const { USAGE_TEXT } = await import("../usage.js");
    printUsage(USAGE_TEXT, output);
    return EXIT_OK;
  },
};

export function printUsage(text: string, output: Output): void {
  for (const line of text.replace(/\n$/, "").split("\n")) output.line(line);
}
