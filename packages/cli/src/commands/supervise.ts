/**
 * `sanlock-ts supervise [options] -- PROGRAM [ARGS...]`: run PROGRAM as a health-checked
 * lease holder (docs/sam.md §9). cli.ts sends plain command lines straight to
 * supervise/run.ts, which reads them itself (options until `--`, then PROGRAM untouched); this
 * entry serves the yargs path (help, a command table given by a test) and passes every word on.
 */
import type { Argv } from "yargs";
import type { TopCommand } from "./command-module.js";

/** The help text's option summary. */
export const SUPERVISE_USAGE =
  "supervise [-r LS:RES:PATH:OFFSET[:lver|:SH]]... [-i MS] [--policy quit|restart] [-q LS[:HOST_ID]]... [--no-quorum] " +
  "[--max-renewal-age S] [--warn-signal SIG] [--kill-after MS] [--restart-delay MS] [--restart-limit N/SECONDS|none] " +
  "[--continuity none|lver|hold] [--start auto|explicit] [--success-exit CODE,...] [--acquire-retry MS] [--name NAME] " +
  "[--status-dir DIR|--no-status] [--health-cmd 'CMD ARGS'] [--killpath 'PATH ARGS'] [--state-file FILE] [--json] -- PROGRAM [ARGS...]; supervise --list [--json]; supervise --release-orphans -r LEASE...";

/** The words yargs split off: the options before `--`, then `--` and PROGRAM. */
export function superviseWords(args: Readonly<Record<string, unknown>>): string[] {
  const words = Array.isArray(args.words) ? args.words.map(String) : [];
  const program = Array.isArray(args["--"]) ? args["--"].map(String) : [];
  return program.length === 0 ? words : [...words, "--", ...program];
}

export const superviseCommand: TopCommand = {
  command: "supervise [words..]",
  describe: "run a program as a health-checked lease holder (corosync SAM)",
  knownKeys: ["words", "--"],
  builder: (yargs: Argv) =>
    yargs
      .parserConfiguration({ "unknown-options-as-args": true, "populate--": true })
      .positional("words", { type: "string", array: true, describe: SUPERVISE_USAGE }),
  run: async (args, output) => {
    const { runSupervise } = await import("../supervise/run.js");
    return runSupervise(superviseWords(args), output);
  },
};
