/**
 * Reads a `sanlock-ts client ...` command line without yargs, so that the client
 * path (the one scripts run many times) starts fast. It accepts only the plain
 * syntax of sanlock 3.8.5 (docs/wire.md §11): an action word, `-X value` pairs for the
 * letters in CLIENT_OPTIONS, the flags in CLIENT_FLAGS, and words after the action
 * (the arguments of `client command`). It produces exactly the ParsedArgs yargs
 * produces for the same line (packages/cli/test/startup-parser.test.ts compares them).
 *
 * Anything else (unknown or glued options, "--", a value starting with "-", a flag
 * followed by "true"/"false", no action) returns undefined: the caller then lets
 * yargs read the line, so errors and odd forms keep yargs' exact behaviour.
 */
import type { ParsedArgs } from "./commands/command-module.js";
import { CLIENT_FLAGS, CLIENT_OPTIONS } from "./commands/client/command.js";

/** The top-level command this module reads. */
export const CLIENT_COMMAND_NAME = "client";
/** The program name yargs puts in `$0` (yargs-runner.ts: scriptName). */
export const SCRIPT_NAME = "sanlock-ts";
/** More words than any sanlock command line has; longer lines go to yargs. */
export const MAX_CLIENT_ARGV = 4096;

/** Words yargs reads as the value of a preceding boolean flag. */
const BOOLEAN_WORDS = new Set(["true", "false"]);

/** The option or flag name of a token, or undefined if the token is no option. */
function optionName(token: string): string | undefined {
  if (!token.startsWith("-")) return undefined;
  return token.startsWith("--") ? token.slice(2) : token.slice(1);
}

/**
 * argv is the whole line after the program name, starting with "client".
 * Returns undefined when the line is not plain (see above).
 */
export function parseClientArgv(argv: readonly string[]): ParsedArgs | undefined {
  if (argv[0] !== CLIENT_COMMAND_NAME || argv.length > MAX_CLIENT_ARGV) return undefined;
  const options: Record<string, string | string[] | boolean> = {};
  const words: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const token = argv[i] as string;
    const name = optionName(token);
    if (name === undefined) {
      words.push(token);
      continue;
    }
    if (Object.hasOwn(CLIENT_FLAGS, name)) {
      // "-D", "--D", "-json", "--json": yargs reads one or two dashes alike.
      // yargs takes a following "true"/"false" as the flag's value; leave that form to it.
      if (BOOLEAN_WORDS.has(argv[i + 1] ?? "")) return undefined;
      options[name] = true;
      continue;
    }
    if (token.length !== 2 || !Object.hasOwn(CLIENT_OPTIONS, name)) return undefined;
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("-")) return undefined;
    i++;
    const previous = options[name];
    // duplicate-arguments-array: a repeated option collects its values in order.
    options[name] = typeof previous === "string" ? [previous, value] : Array.isArray(previous) ? [...previous, value] : value;
  }
  const [action, ...args] = words;
  if (action === undefined) return undefined;
  return { _: [CLIENT_COMMAND_NAME], ...options, args, $0: SCRIPT_NAME, action };
}
