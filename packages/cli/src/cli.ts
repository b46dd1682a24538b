/**
 * Command-line front end: picks the top-level command and runs it. Returns the
 * exit status instead of exiting, so it can run in-process in tests.
 *
 * A first word that is no command is taken as a client action (`sanlock status`
 * = `sanlock client status`, docs/wire.md §11).
 *
 * Start-up cost: the client path (client-fast.ts) never loads yargs nor the
 * table of the other commands; yargs-runner.ts is imported only for the other
 * commands and for client lines the fast reader (client-argv.ts) leaves to
 * yargs. scripts/bundle-cli.mjs packs this module with the client path into
 * one file and leaves those dynamic imports as separate modules.
 */
import type { TopCommand } from "./commands/command-module.js";
import { EXIT_FAILURE, EXIT_OK, type Output } from "./output.js";

// main.cts takes the process' Output from here, so that a bundled cli.ts carries it.
export { processOutput } from "./output.js";

/** The command whose plain lines skip yargs (client-argv.ts reads them). */
const CLIENT_COMMAND_NAME = "client";
/** The command whose plain lines skip yargs too (daemon-fast.ts). */
const DAEMON_COMMAND_NAME = "daemon";
/** Lines that never go through yargs: after `--` come a program's own arguments (lockmgr/run.ts). */
const LOCKMGR_COMMAND_NAME = "lockmgr";
const HELP_WORDS = new Set(["help", "--help", "-h"]);
/** The command that reads its own lines (options, then `--` PROGRAM ARGS): supervise/run.ts. */
const SUPERVISE_COMMAND_NAME = "supervise";
/** DLM commands read their own lines too (node:util parseArgs): dlm/run.ts. */
const DLM_COMMAND_NAME = "dlm";
/** Top-level commands that take an action word after them. */
const NEEDS_ACTION = new Set(["direct", "client"]);

function commandName(command: TopCommand): string {
  return command.command.split(" ")[0] ?? "";
}

/**
 * The words of the commands in TOP_COMMANDS (commands/index.ts), known here
 * without importing that table (it loads every command's declarations);
 * packages/cli/test/startup.test.ts checks that the two lists agree.
 */
export const TOP_COMMAND_NAMES: readonly string[] = [
  "direct",
  DAEMON_COMMAND_NAME,
  CLIENT_COMMAND_NAME,
  SUPERVISE_COMMAND_NAME,
  "version",
  "help",
  LOCKMGR_COMMAND_NAME,
  DLM_COMMAND_NAME,
];

async function printUsageText(output: Output): Promise<void> {
  const [{ USAGE_TEXT }, { printUsage }] = await Promise.all([import("./usage.js"), import("./commands/info.js")]);
  printUsage(USAGE_TEXT, output);
}

/**
 * `commands` replaces the built-in command table (tests); then every line is
 * read by yargs. With the built-in table, plain client lines skip yargs.
 */
export async function runCli(argv: readonly string[], output: Output, commands?: readonly TopCommand[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || HELP_WORDS.has(first)) {
    await printUsageText(output);
    return EXIT_OK;
  }
  const names = new Set(commands === undefined ? TOP_COMMAND_NAMES : commands.map(commandName));
  if (NEEDS_ACTION.has(first) && argv.length < 2) {
    await printUsageText(output);
    return EXIT_FAILURE;
  }
  if (!names.has(first)) {
    if (!names.has(CLIENT_COMMAND_NAME)) {
      output.line(`client action "${first}" is unknown`);
      return EXIT_FAILURE;
    }
    return runCli([CLIENT_COMMAND_NAME, ...argv], output, commands);
  }
  if (commands === undefined && first === DAEMON_COMMAND_NAME) {
    const { runPlainDaemonLine } = await import("./daemon-fast.js");
    const code = await runPlainDaemonLine(argv, output);
    if (code !== undefined) return code;
  }
  if (commands === undefined && first === SUPERVISE_COMMAND_NAME) {
    const { runSupervise } = await import("./supervise/run.js");
    return runSupervise(argv.slice(1), output);
  }
  if (commands === undefined && first === DLM_COMMAND_NAME) {
    const { runDlm } = await import("./dlm/run.js");
    return runDlm(argv.slice(1), output);
  }
  if (commands === undefined && first === LOCKMGR_COMMAND_NAME) {
    const { runLockmgr } = await import("./lockmgr/run.js");
    return runLockmgr(argv.slice(1), output);
  }
  if (commands === undefined && first === CLIENT_COMMAND_NAME) {
    const { runPlainClientLine } = await import("./client-fast.js");
    const code = await runPlainClientLine(argv, output);
    if (code !== undefined) return code;
  }
  return runYargs(argv, output, commands);
}

async function runYargs(argv: readonly string[], output: Output, commands: readonly TopCommand[] | undefined): Promise<number> {
  const { runWithYargs } = await import("./yargs-runner.js");
  const table = commands ?? (await import("./commands/index.js")).TOP_COMMANDS;
  return runWithYargs(argv, output, table);
}
