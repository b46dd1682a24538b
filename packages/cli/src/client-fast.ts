/**
 * The client path without yargs: reads a plain `client` line (client-argv.ts)
 * and runs it. This module and what it imports go into the bundle of
 * scripts/bundle-cli.mjs, so it must import nothing the client path does not need.
 */
import type { Output } from "./output.js";
import { EXIT_FAILURE, failureText } from "./output.js";
import { parseClientArgv } from "./client-argv.js";
import { clientCommand } from "./commands/client/command.js";

/**
 * argv starts with "client". Resolves to the exit status, or to undefined when
 * the line is not plain: the caller then lets yargs read it.
 */
export async function runPlainClientLine(argv: readonly string[], output: Output): Promise<number | undefined> {
  const args = parseClientArgv(argv);
  if (args === undefined) return undefined;
  try {
    return await clientCommand.run(args, output);
  } catch (error) {
    // As yargs-runner.ts prints a command that throws.
    output.error(`sanlock-ts: ${failureText(error)}`);
    return EXIT_FAILURE;
  }
}
