export { runCli } from "./cli.js";
export type { TopCommand, ParsedArgs } from "./commands/command-module.js";
export type { Output } from "./output.js";
export * from "./args/sanlock-strings.js";
export * from "./args/geometry-args.js";
export { CliArgError, type CliArgErrorCode } from "./args/errors.js";
