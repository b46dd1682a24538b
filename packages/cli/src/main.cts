#!/usr/bin/env node
/**
 * The `sanlock-ts` executable. Start-up stays small: cli.ts loads yargs and the
 * command table only for commands other than `client`, each command imports its
 * implementation when it runs, and bundle-loader.cts loads cli.ts with the client
 * path as one bundled file when the build made one.
 *
 * CommonJS on purpose (issue 20, `client status` within 1.2 × `node -e 0`): node
 * starts a CommonJS entry point without its ES module loader, and the bundle is
 * CommonJS too, so a client line loads three files through `require` and no ES
 * module at all; that is about 7 ms of the ~100 ms a bare node takes to start.
 */
import { loadCli } from "./bundle-loader.cjs";

void loadCli().then(async ({ runCli, processOutput }) => {
  process.exitCode = await runCli(process.argv.slice(2), processOutput());
});
