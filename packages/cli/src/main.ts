#!/usr/bin/env node
/**
 * The `sanlock-ts` executable. Start-up stays small: this file loads only the
 * command table; each command imports its implementation when it runs.
 */
import { runCli } from "./cli.js";
import { processOutput } from "./output.js";

process.exitCode = await runCli(process.argv.slice(2), processOutput());
