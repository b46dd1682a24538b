/**
 * `sanlock-ts direct <action> ...`: read and write lease areas on storage
 * without a daemon. Same actions and option letters as `sanlock direct` 3.8.5.
 */
import type { TopCommand } from "./command-module.js";

/** Every option letter `sanlock direct` reads; each takes one value. */
const DIRECT_OPTIONS: Readonly<Record<string, string>> = {
  s: "LOCKSPACE = <lockspace_name>:<host_id>:<path>:<offset>",
  r: "RESOURCE = <lockspace_name>:<resource_name>:<path>:<offset>[:<lver>]",
  x: "RINDEX = <lockspace_name>:<path>:<offset>",
  e: "rindex entry <resource_name>[:<offset>]",
  Z: "sector size 512|4096",
  A: "alignment 1M|2M|4M|8M",
  o: "io timeout in seconds",
  n: "num_hosts of a resource lease",
  z: "1: clear (init -r) or remove (update)",
  f: "dump detail: 1 adds requests and bitmaps, 2 also dblocks",
  a: "use async i/o 0|1 (accepted for compatibility, ignored)",
};

export const directCommand: TopCommand = {
  command: "direct <action> [target]",
  describe: "access storage directly (no coordination with daemon)",
  knownKeys: ["action", "target", ...Object.keys(DIRECT_OPTIONS)],
  builder: (yargs) => {
    let y = yargs.positional("action", { type: "string" }).positional("target", { type: "string", describe: "dump / next_free: <path>[:<offset>[:<size>]]" });
    for (const [letter, describe] of Object.entries(DIRECT_OPTIONS)) {
      y = y.option(letter, { type: "string", requiresArg: true, describe });
    }
    return y;
  },
  run: async (args, output) => {
    const { runDirect } = await import("../direct/run.js");
    return runDirect(args, output);
  },
};
