/**
 * `sanlock-ts direct <action>`: turns the parsed options into typed arguments
 * and runs one action. Loaded only when a direct command runs.
 *
 * Errors: sanlock-ts' own checks (bad arguments, misaligned or too small
 * areas, unreadable devices) print one line on stderr and exit 1 before any
 * write. Results sanlock reports as numbers ("init done -19") are printed the
 * same way.
 */
import type { ParsedArgs } from "../commands/command-module.js";
import { CliArgError } from "../args/errors.js";
import { parseGeometry, type GeometryArg } from "../args/geometry-args.js";
import { parseCount, parseDumpTarget, parseLockspaceArg, parseRentryArg, parseResourceArg, parseRindexArg } from "../args/sanlock-strings.js";
import { EXIT_FAILURE, type Output } from "../output.js";
import { DirectFailure } from "./result-codes.js";

/** Actions of `sanlock direct` that sanlock-ts implements. */
const ACTIONS = new Set(["init", "read_leader", "dump", "next_free", "format", "lookup", "update", "rebuild"]);

/** Actions whose first argument is a path without an option letter. */
const TAKES_TARGET = new Set(["dump", "next_free"]);

export async function runDirect(args: ParsedArgs, output: Output): Promise<number> {
  const action = String(args["action"] ?? "");
  if (!ACTIONS.has(action)) {
    output.line(`direct action "${action}" is unknown`);
    return EXIT_FAILURE;
  }
  try {
    if (args["target"] !== undefined && !TAKES_TARGET.has(action)) {
      throw new CliArgError("ERR_CLI_BAD_ARG", `unexpected argument "${String(args["target"])}" (options are -X value pairs)`);
    }
    return await runAction(action, new DirectOptions(args), output);
  } catch (error) {
    output.error(`sanlock-ts: direct ${action}: ${describe(error)}`);
    return EXIT_FAILURE;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${error.message} [${code}]` : error.message;
  }
  return String(error);
}

/** Typed access to the string options yargs collected. */
class DirectOptions {
  constructor(private readonly args: ParsedArgs) {}

  text(letter: string): string | undefined {
    const value = this.args[letter];
    return value === undefined ? undefined : String(value);
  }

  required(letter: string, what: string): string {
    const value = this.text(letter);
    if (value === undefined) throw new CliArgError("ERR_CLI_MISSING_ARG", `-${letter} ${what} is required`);
    return value;
  }

  geometry(): GeometryArg | undefined {
    return parseGeometry(this.text("Z"), this.text("A"));
  }

  /** -o: io_timeout seconds; sanlock ignores values <= 0 and keeps its default of 10. */
  ioTimeout(): number {
    const text = this.text("o");
    if (text === undefined) return 10;
    const value = parseCount(text, "io_timeout -o");
    if (value > 0xffff) throw new CliArgError("ERR_CLI_BAD_NUMBER", `io_timeout -o ${value} does not fit the 16-bit io_timeout field`);
    return value === 0 ? 10 : value;
  }

  count(letter: string, what: string): number {
    const text = this.text(letter);
    return text === undefined ? 0 : parseCount(text, what);
  }

  target(action: string): string {
    const value = this.args["target"];
    if (value === undefined) throw new CliArgError("ERR_CLI_MISSING_ARG", `${action} needs <path>[:<offset>[:<size>]]`);
    return String(value);
  }
}

async function runAction(action: string, options: DirectOptions, output: Output): Promise<number> {
  switch (action) {
    case "init": {
      const { initCommand } = await import("./init.js");
      const geometry = options.geometry();
      const ls = options.text("s");
      if (ls !== undefined) {
        return initCommand({ kind: "lockspace", lockspace: parseLockspaceArg(ls), ioTimeout: options.ioTimeout() }, geometry, output);
      }
      const res = options.text("r");
      if (res === undefined) throw new CliArgError("ERR_CLI_MISSING_ARG", "init needs -s LOCKSPACE or -r RESOURCE");
      return initCommand(
        {
          kind: "resource",
          resource: parseResourceArg(res),
          numHosts: options.count("n", "num_hosts -n"),
          clear: options.text("z") !== undefined && options.text("z") !== "0",
        },
        geometry,
        output,
      );
    }
    case "read_leader": {
      const { readLeaderCommand } = await import("./read-leader.js");
      const geometry = options.geometry();
      const ls = options.text("s");
      if (ls !== undefined) return readLeaderCommand({ kind: "delta", lockspace: parseLockspaceArg(ls) }, geometry, output);
      const res = options.text("r");
      if (res === undefined) throw new CliArgError("ERR_CLI_MISSING_ARG", "read_leader needs -s LOCKSPACE or -r RESOURCE");
      return readLeaderCommand({ kind: "paxos", resource: parseResourceArg(res) }, geometry, output);
    }
    case "dump": {
      const { dumpCommand } = await import("./dump.js");
      return dumpCommand(parseDumpTarget(options.target(action)), options.count("f", "dump detail -f"), options.geometry(), output);
    }
    case "next_free": {
      const { nextFreeCommand } = await import("./next-free.js");
      return nextFreeCommand(parseDumpTarget(options.target(action)), options.geometry(), output);
    }
    default: {
      const { rindexCommand } = await import("./rindex.js");
      const rindex = parseRindexArg(options.required("x", "RINDEX"));
      const entryText = options.text("e");
      const entry = entryText === undefined ? { name: "", offset: 0 } : parseRentryArg(entryText);
      return rindexCommand(
        action as "format" | "lookup" | "update" | "rebuild",
        { rindex, entry, remove: options.text("z") !== undefined && options.text("z") !== "0" },
        options.geometry(),
        output,
      );
    }
  }
}

export { DirectFailure };
