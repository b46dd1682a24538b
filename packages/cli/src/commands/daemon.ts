/**
 * `sanlock-ts daemon [options]`: run the lease manager daemon. Same options as
 * `sanlock daemon` 3.8.5 (-D takes no value, every other option one value), plus
 * `--config <path>` for sanlock.conf. The option table lives in the daemon package
 * (@sanlock-ts/daemon/options, which loads nothing heavy); the daemon itself is
 * imported only when the command runs.
 */
import { CONFIG_PATH_OPTION, DAEMON_OPTIONS } from "@sanlock-ts/daemon/options";
import type { ParsedArgs, TopCommand } from "./command-module.js";

const CONFIG_KEY = CONFIG_PATH_OPTION.replace(/^--/, "");

/** Rebuilds the `sanlock daemon` argument list from yargs' parse result. */
export function daemonArgv(args: ParsedArgs): string[] {
  const argv: string[] = [];
  for (const spec of DAEMON_OPTIONS) {
    const value = args[spec.letter];
    if (value === undefined || value === false) continue;
    if (!spec.takesValue) argv.push(`-${spec.letter}`);
    else argv.push(`-${spec.letter}`, String(value));
  }
  const config = args[CONFIG_KEY];
  if (typeof config === "string") argv.push(CONFIG_PATH_OPTION, config);
  return argv;
}

export const daemonCommand: TopCommand = {
  command: "daemon",
  describe: "start daemon",
  knownKeys: [...DAEMON_OPTIONS.map((spec) => spec.letter), CONFIG_KEY],
  builder: (yargs) => {
    let y = yargs;
    for (const spec of DAEMON_OPTIONS) {
      y = spec.takesValue
        ? y.option(spec.letter, { type: "string", requiresArg: true, describe: spec.usage })
        : y.option(spec.letter, { type: "boolean", describe: spec.usage });
    }
    return y.option(CONFIG_KEY, { type: "string", requiresArg: true, describe: "path of sanlock.conf (/etc/sanlock/sanlock.conf)" });
  },
  run: async (args, output) => {
    const { startDaemonProcess } = await import("../daemon-fast.js");
    return startDaemonProcess(daemonArgv(args), output);
  },
};
