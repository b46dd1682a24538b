/**
 * The shape of one top-level command (direct, client, daemon, version, help).
 * A module must stay cheap to import: it declares options with yargs and loads
 * its implementation with a dynamic import() inside `run`, so that
 * `sanlock-ts client status` never loads the direct-I/O code and vice versa.
 */
import type { Argv } from "yargs";
import type { Output } from "../output.js";

export interface TopCommand {
  /** yargs command string, e.g. "direct <action> [target]". */
  readonly command: string;
  readonly describe: string;
  /**
   * Every positional and option name the builder declares. cli.ts refuses any
   * other before `run` is called (yargs' strict mode reports unknown options
   * only after the handler has started, which is too late for a command that writes).
   */
  readonly knownKeys: readonly string[];
  /** Declare positionals and options (all options are strings, see cli.ts). */
  readonly builder: (yargs: Argv) => Argv;
  /** Run with the parsed arguments; resolves to the process exit status. */
  readonly run: (args: ParsedArgs, output: Output) => Promise<number>;
}

/** yargs' parse result with every option kept as the string the user typed. */
export type ParsedArgs = Readonly<Record<string, unknown>> & { readonly _: readonly (string | number)[] };
