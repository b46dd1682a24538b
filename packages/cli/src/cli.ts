/**
 * Command-line front end: picks the top-level command, lets yargs read the
 * options, and runs the command. Returns the exit status instead of exiting,
 * so it can run in-process in tests.
 *
 * Option handling follows sanlock 3.8.5 (wire.md §11): every option is a
 * separate "-X value" pair, values stay strings (sanlock does its own number
 * parsing per option), an unknown option is an error, and a first word that is
 * no command is taken as a client action (`sanlock status` = `sanlock client
 * status`).
 */
import yargs from "yargs";
import type { TopCommand, ParsedArgs } from "./commands/command-module.js";
import { TOP_COMMANDS } from "./commands/index.js";
import { printUsage } from "./commands/info.js";
import { EXIT_FAILURE, EXIT_OK, type Output } from "./output.js";

const HELP_WORDS = new Set(["help", "--help", "-h"]);
/** Top-level commands that take an action word after them. */
const NEEDS_ACTION = new Set(["direct", "client"]);

function commandName(command: TopCommand): string {
  return command.command.split(" ")[0] ?? "";
}

async function printUsageText(output: Output): Promise<void> {
  const { USAGE_TEXT } = await import("./usage.js");
  printUsage(USAGE_TEXT, output);
}

export async function runCli(argv: readonly string[], output: Output, commands = TOP_COMMANDS): Promise<number> {
  const first = argv[0];
  if (first === undefined || HELP_WORDS.has(first)) {
    await printUsageText(output);
    return EXIT_OK;
  }
  const names = new Set(commands.map(commandName));
  if (NEEDS_ACTION.has(first) && argv.length < 2) {
    await printUsageText(output);
    return EXIT_FAILURE;
  }
  if (!names.has(first)) {
    if (!names.has("client")) {
      output.line(`client action "${first}" is unknown`);
      return EXIT_FAILURE;
    }
    return runCli(["client", ...argv], output, commands);
  }
  return runParsed(argv, output, commands);
}

/** Keys yargs itself adds to every parse result. */
const YARGS_KEYS = new Set(["_", "$0"]);

/** An option or word the command does not declare, described in one line; undefined if none. */
function unexpectedArgument(command: TopCommand, args: ParsedArgs): string | undefined {
  const known = new Set(command.knownKeys);
  for (const key of Object.keys(args)) {
    if (YARGS_KEYS.has(key) || known.has(key)) continue;
    return key.length === 1 ? `unknown option -${key}` : `unknown option -${key} (options take a separate value: -X value)`;
  }
  const extra = args._.slice(1);
  if (extra.length > 0) return `unexpected argument "${String(extra[0])}"`;
  return undefined;
}

async function runParsed(argv: readonly string[], output: Output, commands: readonly TopCommand[]): Promise<number> {
  let exitCode = EXIT_FAILURE;
  let failed = false;
  let parser = yargs([...argv])
    .scriptName("sanlock-ts")
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
      output.error(`sanlock-ts: ${error?.message ?? message}`);
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
    if (!failed) output.error(`sanlock-ts: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
  return failed ? EXIT_FAILURE : exitCode;
}
