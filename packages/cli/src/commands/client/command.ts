/**
 * `sanlock-ts client <action> [options]`: send requests to a running daemon,
 * with the actions, option letters, output text and exit codes of
 * `sanlock client` 3.8.5 (spec docs/wire.md §11). This module only declares the
 * options; the action code is imported when it runs (start-up stays cheap).
 */
import type { Argv } from "yargs";
import type { TopCommand } from "../command-module.js";

/** Every option letter `sanlock client` reads; all take one value except -D. */
export const CLIENT_OPTIONS: Readonly<Record<string, string>> = {
  s: "LOCKSPACE = <lockspace_name>:<host_id>:<path>:<offset>",
  r: "RESOURCE = <lockspace_name>:<resource_name>:<path>:<offset>[:<lver>|:SH] (repeatable)",
  x: "RINDEX = <lockspace_name>:<path>:<offset>",
  e: "event number (set_event) or rindex entry <resource_name>[:<offset>]",
  o: "status: sort p|s; add_lockspace/init: io timeout seconds",
  p: "pid of the lease owner",
  f: "force: shutdown 0|1, request force_mode 0|1|2",
  w: "shutdown: wait for the daemon to exit 0|1",
  h: "gets/read: also list hosts 0|1",
  i: "set_event: host_id",
  g: "set_event: host generation",
  d: "set_event: event data",
  u: "set_config: lockspace used 0|1",
  O: "orphan 0|1 (acquire, release, set_config)",
  P: "persistent lease 0|1",
  n: "num_hosts",
  m: "max_hosts",
  a: "release: all leases of the pid 0|1",
  z: "init: clear the resource; update: remove the entry",
  Z: "sector size 512|4096",
  A: "alignment 1M|2M|4M|8M",
  c: "command: <path> <args> run while the leases are held",
  // Daemon options sanlock also accepts (and ignores) after a client action.
  Q: "ignored (daemon option)",
  R: "ignored (daemon option)",
  H: "ignored (daemon option)",
  L: "ignored (daemon option)",
  S: "ignored (daemon option)",
  F: "ignored",
  t: "ignored (daemon option)",
  l: "ignored (daemon option)",
  b: "ignored (daemon option)",
  U: "ignored (daemon option)",
  G: "ignored (daemon option)",
};

/** The options of `sanlock-ts client` that take no value (given alone, they are true). */
export const CLIENT_FLAGS: Readonly<Record<string, string>> = {
  D: "debug: more detail",
  json: "print tables (status, gets, host_status, renewal, inquire, metrics) as JSON",
  prometheus: "metrics: print in the Prometheus text format",
};

/**
 * How yargs reads the client command line. client-argv.ts reads the same syntax
 * without yargs (start-up cost); packages/cli/test/startup-parser.test.ts holds the two to agreement.
 */
const PARSER_CONFIG = {
  "short-option-groups": false,
  "camel-case-expansion": false,
  "parse-numbers": false,
  "parse-positional-numbers": false,
  "dot-notation": false,
  "boolean-negation": false,
  // -r may be given several times (acquire, release, command); other repeats keep the last value.
  "duplicate-arguments-array": true,
  "halt-at-non-option": false,
} as const;

export const clientCommand: TopCommand = {
  command: "client <action> [args..]",
  describe: "send request to daemon (default type if none given)",
  knownKeys: ["action", "args", ...Object.keys(CLIENT_FLAGS), ...Object.keys(CLIENT_OPTIONS)],
  builder: (yargs: Argv) => {
    let y = yargs
      .parserConfiguration(PARSER_CONFIG)
      .positional("action", { type: "string" })
      .positional("args", { type: "string", array: true, describe: "command: arguments after -c <path>" });
    for (const [name, describe] of Object.entries(CLIENT_FLAGS)) {
      y = y.option(name, { type: "boolean", describe });
    }
    for (const [letter, describe] of Object.entries(CLIENT_OPTIONS)) {
      y = y.option(letter, { type: "string", requiresArg: true, describe });
    }
    return y;
  },
  run: async (args, output) => {
    const { runClient } = await import("./run.js");
    return runClient(args, output);
  },
};
