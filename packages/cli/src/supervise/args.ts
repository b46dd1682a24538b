/**
 * The command line of `sanlock-ts supervise` (docs/sam.md §9), read without yargs: options
 * until `--`, then PROGRAM and its arguments untouched (yargs would read the program's
 * options as its own). Usage errors are CliArgError (exit 1 like every sanlock-ts command).
 */
import { joinKillpathArgs, KILLPATH_FIELD_LEN } from "@sanlock-ts/client/wire";
import { CliArgError } from "../args/errors.js";
import { parseResourceArg } from "../args/sanlock-strings.js";

export interface SuperviseArgs {
  readonly list: boolean;
  /** Release the orphans of the -r leases (left by a SIGKILLed `--continuity hold` supervisor). */
  readonly releaseOrphans: boolean;
  readonly json: boolean;
  readonly resources: readonly string[];
  readonly intervalMs: number;
  readonly policy: "quit" | "restart";
  /** -q LS[:HOST_ID]; undefined = the lockspaces of the -r leases. */
  readonly quorum: readonly { lockspace: string; hostId?: number }[] | undefined;
  readonly noQuorum: boolean;
  readonly maxRenewalAgeSeconds: number | undefined;
  readonly warnSignal: string | undefined;
  readonly killAfterMs: number | undefined;
  readonly restartDelayMs: number | undefined;
  /** undefined = default, null = none. */
  readonly restartLimit: { burst: number; intervalMs: number } | null | undefined;
  readonly continuity: "none" | "lver" | "hold";
  readonly start: "auto" | "explicit";
  readonly successExitCodes: readonly number[];
  readonly acquireRetryMs: number;
  readonly name: string | undefined;
  readonly statusDir: string | undefined;
  readonly noStatus: boolean;
  /** Run with /bin/sh -c every interval/2 instead of heartbeats on fd 3. */
  readonly healthCommand: string | undefined;
  /** --killpath 'PATH ARGS': registered by each holder (KILLPATH, the program's pid appended). */
  readonly killpath: { readonly path: string; readonly args: readonly string[] } | undefined;
  /** --state-file FILE: the stored data, warn signal and leases kept across supervisor restarts. */
  readonly stateFile: string | undefined;
  readonly program: readonly string[];
}

/** Options that take a value, and the flags. */
const VALUE_OPTIONS = new Set([
  "-r",
  "-i",
  "--policy",
  "-q",
  "--max-renewal-age",
  "--warn-signal",
  "--kill-after",
  "--restart-delay",
  "--restart-limit",
  "--continuity",
  "--start",
  "--success-exit",
  "--acquire-retry",
  "--name",
  "--status-dir",
  "--health-cmd",
  "--killpath",
  "--state-file",
]);
const FLAGS = new Set(["--list", "--json", "--no-quorum", "--no-status", "--release-orphans"]);
export const DEFAULT_ACQUIRE_RETRY_MS = 10_000;
const MAX_MS = 24 * 3600 * 1000;
const MAX_RESOURCES = 8;
const MAX_ARGS = 4096;

function bad(message: string): CliArgError {
  return new CliArgError("ERR_CLI_BAD_ARG", `supervise: ${message}`);
}

function ms(option: string, text: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) > MAX_MS) throw bad(`${option} needs milliseconds from 0 to ${MAX_MS}, got "${text}"`);
  return Number(text);
}

function restartLimit(text: string): SuperviseArgs["restartLimit"] {
  if (text === "none") return null;
  const m = /^(\d{1,6})\/(\d{1,5})$/.exec(text);
  if (m === null || Number(m[2]) === 0) throw bad(`--restart-limit needs N/SECONDS or none, got "${text}"`);
  return { burst: Number(m[1]), intervalMs: Number(m[2]) * 1000 };
}

function quorumEntry(text: string): { lockspace: string; hostId?: number } {
  const m = /^([^:]{1,48})(?::(\d{1,4}))?$/.exec(text);
  if (m === null) throw bad(`-q needs LOCKSPACE[:HOST_ID], got "${text}"`);
  return m[2] === undefined ? { lockspace: m[1] as string } : { lockspace: m[1] as string, hostId: Number(m[2]) };
}

function oneOf<T extends string>(option: string, text: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(text)) throw bad(`${option} must be ${values.join(" or ")}, got "${text}"`);
  return text as T;
}

function healthCommand(text: string | undefined, interval: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === "") throw bad("--health-cmd needs a command");
  if (interval === undefined || interval === "0") throw bad("--health-cmd needs an interval (-i MS)");
  return text;
}

/**
 * --killpath 'PATH ARGS': words split at blanks (an argument with a blank cannot be given).
 * sanlock's fixed fields bound both halves: the path and the escaped, joined arguments
 * (the daemon appends the pid itself) must each fit 127 bytes (docs/wire.md §7.16).
 */
function killpath(text: string | undefined): SuperviseArgs["killpath"] {
  if (text === undefined) return undefined;
  const [path, ...args] = text.split(/\s+/).filter((w) => w !== "");
  if (path === undefined) throw bad("--killpath needs 'PATH [ARGS]'");
  if (!path.startsWith("/")) throw bad(`--killpath needs an absolute PATH (the daemon runs it), got "${path}"`);
  const limit = KILLPATH_FIELD_LEN - 1;
  if (Buffer.byteLength(path) > limit) throw bad(`--killpath PATH is longer than ${limit} bytes`);
  if (Buffer.byteLength(joinKillpathArgs(args)) > limit) throw bad(`--killpath ARGS are longer than ${limit} bytes (escaped)`);
  return { path, args };
}

function stateFile(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text === "" || text.includes("\0")) throw bad("--state-file needs a file name");
  return text;
}

/** Reads `argv` (the words after `supervise`). */
export function parseSuperviseArgs(argv: readonly string[]): SuperviseArgs {
  if (argv.length > MAX_ARGS) throw bad(`more than ${MAX_ARGS} arguments`);
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === "--") {
      i++;
      break;
    }
    if (FLAGS.has(word)) {
      flags.add(word);
      continue;
    }
    if (!VALUE_OPTIONS.has(word)) throw bad(`unknown option "${word}" (PROGRAM comes after --)`);
    const value = argv[i + 1];
    if (value === undefined) throw bad(`${word} needs a value`);
    values.set(word, [...(values.get(word) ?? []), value]);
    i++;
  }
  const last = (option: string): string | undefined => values.get(option)?.at(-1);
  const program = argv.slice(i);
  const list = flags.has("--list");
  const releaseOrphans = flags.has("--release-orphans");
  const resources = values.get("-r") ?? [];
  if (releaseOrphans && resources.length === 0) throw bad("--release-orphans needs -r LEASE...");
  if (!list && !releaseOrphans && program.length === 0) throw bad("needs -- PROGRAM [ARGS...]");
  if (resources.length > MAX_RESOURCES) throw bad(`at most ${MAX_RESOURCES} -r leases`);
  for (const r of resources) parseResourceArg(r); // usage error now, not in every instance
  if (values.has("--killpath") && resources.length === 0) throw bad("--killpath needs -r leases (it is registered with them)");
  const quorumTexts = values.get("-q");
  const renewalAge = last("--max-renewal-age");
  return {
    list,
    releaseOrphans,
    json: flags.has("--json"),
    resources,
    intervalMs: ms("-i", last("-i") ?? "0"),
    policy: oneOf("--policy", last("--policy") ?? "restart", ["quit", "restart"] as const),
    quorum: quorumTexts?.map(quorumEntry),
    noQuorum: flags.has("--no-quorum"),
    maxRenewalAgeSeconds: renewalAge === undefined ? undefined : ms("--max-renewal-age", renewalAge),
    warnSignal: last("--warn-signal"),
    killAfterMs: last("--kill-after") === undefined ? undefined : ms("--kill-after", last("--kill-after") as string),
    restartDelayMs: last("--restart-delay") === undefined ? undefined : ms("--restart-delay", last("--restart-delay") as string),
    restartLimit: last("--restart-limit") === undefined ? undefined : restartLimit(last("--restart-limit") as string),
    continuity: oneOf("--continuity", last("--continuity") ?? "none", ["none", "lver", "hold"] as const),
    start: oneOf("--start", last("--start") ?? "auto", ["auto", "explicit"] as const),
    successExitCodes: (last("--success-exit") ?? "")
      .split(",")
      .filter((c) => c !== "")
      .map((c) => {
        if (!/^\d{1,3}$/.test(c) || Number(c) > 255) throw bad(`--success-exit needs exit codes 0-255, got "${c}"`);
        return Number(c);
      }),
    acquireRetryMs: last("--acquire-retry") === undefined ? DEFAULT_ACQUIRE_RETRY_MS : ms("--acquire-retry", last("--acquire-retry") as string),
    name: last("--name"),
    statusDir: last("--status-dir"),
    noStatus: flags.has("--no-status"),
    healthCommand: healthCommand(last("--health-cmd"), last("-i")),
    killpath: killpath(last("--killpath")),
    stateFile: stateFile(last("--state-file")),
    program,
  };
}
