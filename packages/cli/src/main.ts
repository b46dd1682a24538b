#!/usr/bin/env node
/**
 * The `sanlock-ts` executable. Start-up stays small: cli.ts loads yargs and the
 * command table only for commands other than `client`, each command imports its
 * implementation when it runs, and bundle-loader.ts loads cli.ts with the client
 * path as one bundled file when the build made one.
 */
import { loadCli } from "./bundle-loader.js";

const { runCli, processOutput } = await loadCli();
process.exitCode = await runCli(process.argv.slice(2), processOutput());
