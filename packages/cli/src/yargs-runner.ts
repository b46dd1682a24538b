/**
 * Reads a command line with yargs and runs the command it names. yargs costs
 * more to load than the whole client path, so cli.ts imports this module only
 * for the commands where that does not matter (direct, daemon, version, help)
 * and for client command lines client-argv.ts leaves to it.
 *
 * Option handling follows sanlock 3.8.5 (docs/wire.md §11): every option is a
 * separate "-X value" pair, values stay strings (sanlock does its own number
 * parsing per option), and an unknown option is an error.
 */
import yargs from "yargs";
import type { ParsedArgs, TopCommand } from "./commands/command-module.js";
import { SCRIPT_NAME } from "./client-argv.js";
import { EXIT_FAILURE, failureText, type Output } from "./output.js";

/** Keys yargs itself adds to every parse result. */
const YARGS_KEYS = new Set(["_", "$0"]);

/** An option or word the command does not declare, described in one line; undefined if none. */
export function unexpectedArgument(command: TopCommand, args: ParsedArgs): string | undefined {
  const known = new Set(command.knownKeys);
  for (const key of Object.keys(args)) {
    if (YARGS_KEYS.has(key) || known.has(key)) continue;
    return key.length === 1 ? `unknown option -${key}` : `unknown option -${key} (options take a separate value: -X value)`;
  }
  const extra = args._.slice(1);
  if (extra.length > 0) return `unexpected argument "${String(extra[0])}"`;
  return undefined;
}

export async function runWithYargs(argv: readonly string[], output: Output, commands: readonly TopCommand[]): Promise<number> {
  let exitCode = EXIT_FAILURE;
  let failed = false;
  let parser = yargs([...argv])
    .scriptName(SCRIPT_NAME)
    .parserConfiguration({
      "short-option-groups": false,
      "camel-case-expansion": false,
      "parse-numbers": false,
      "parse-positional-numbers": false,
      "dot-notation": false,
      "boolean-negation": false,
      "duplicate-arguments-array": false,
      "halt-at-non-option": false,
    })
    .help(false)
    .version(false)
    // no .strict(): unknown options are refused by unexpectedArgument() before a handler runs
    .exitProcess(false)
    .fail((message, error) => {
      failed = true;
      output.error(`sanlock-ts: ${error === undefined || error === null ? message : failureText(error)}`);
    });
  for (const command of commands) {
    parser = parser.command(command.command, command.describe, command.builder, async (args) => {
      const problem = unexpectedArgument(command, args as unknown as ParsedArgs);
      if (problem !== undefined) {
        failed = true;
        output.error(`sanlock-ts: ${problem}`);
        return;
      }
      exitCode = await command.run(args as unknown as ParsedArgs, output);
    });
  }
  try {
    await parser.parseAsync();
  } catch (error) {
    if (!failed) output.error(`sanlock-ts: ${failureText(error)}`);
    return EXIT_FAILURE;
  }
  return failed ? EXIT_FAILURE : exitCode;
}
