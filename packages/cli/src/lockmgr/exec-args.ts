/**
 * The command line of `sanlock-ts lockmgr exec` (docs/lockmanager.md §2.9): the domain as
 * supervisorCommand() writes it, then `--` and the program. Read without yargs: everything after
 * `--` belongs to the program, option-like words included.
 */
import { SanlockTsError } from "@sanlock-ts/client/errors";
import type { DomainDescription, DomainDisk, DomainLease, LockFailureAction } from "@sanlock-ts/client/lockmanager";
import { isLockFailureAction } from "@sanlock-ts/client/lockmanager";

export interface ExecLine {
  readonly dom: DomainDescription;
  readonly configFile: string | undefined;
  readonly paused: boolean;
  readonly killpathHelper: string | undefined;
  readonly program: string;
  readonly programArgs: readonly string[];
}

/** More disks and leases than a domain may have (8 resources) plus read-only disks. */
const MAX_DEVICES = 64;
const VALUE_OPTIONS = new Set(["--name", "--uuid", "--uri", "--config", "--action", "--lease", "--disk", "--killpath-helper"]);

/** A bad `lockmgr exec` line (ERR_CLI_LOCKMGR_EXEC_LINE). */
export class ExecLineError extends SanlockTsError {
  override readonly name = "ExecLineError";
  constructor(message: string) {
    super("ERR_CLI_LOCKMGR_EXEC_LINE", message);
  }
}

function parseJson<T>(option: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ExecLineError(`${option}: not JSON: ${text.slice(0, 80)}`);
  }
}

function leaseOf(text: string): DomainLease {
  const l = parseJson<Record<string, unknown>>("--lease", text);
  if (typeof l.key !== "string" || typeof l.path !== "string") throw new ExecLineError("--lease needs key and path");
  const offset = typeof l.offset === "string" || typeof l.offset === "number" ? BigInt(l.offset) : 0n;
  return { key: l.key, path: l.path, offset, lockspace: typeof l.lockspace === "string" ? l.lockspace : "" };
}

function diskOf(text: string): DomainDisk {
  const d = parseJson<Record<string, unknown>>("--disk", text);
  if (typeof d.type !== "string") throw new ExecLineError("--disk needs a type");
  return {
    type: d.type as DomainDisk["type"],
    ...(typeof d.path === "string" ? { path: d.path } : {}),
    readonly: d.readonly === true,
    shared: d.shared === true,
  };
}

/** `argv` starts after "exec". */
export function parseExecLine(argv: readonly string[]): ExecLine {
  const values = new Map<string, string>();
  const leases: DomainLease[] = [];
  const disks: DomainDisk[] = [];
  let paused = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === "--") break;
    if (word === "--paused") {
      paused = true;
      continue;
    }
    if (!VALUE_OPTIONS.has(word)) throw new ExecLineError(`unknown option ${word}`);
    const value = argv[++i];
    if (value === undefined) throw new ExecLineError(`${word} needs a value`);
    if (word === "--lease") leases.push(leaseOf(value));
    else if (word === "--disk") disks.push(diskOf(value));
    else values.set(word, value);
    if (leases.length + disks.length > MAX_DEVICES) throw new ExecLineError(`more than ${MAX_DEVICES} disks and leases`);
  }
  const [program, ...programArgs] = argv.slice(i + 1);
  if (i >= argv.length || program === undefined) throw new ExecLineError("missing -- PROGRAM [ARGS]");
  const name = values.get("--name");
  const uuid = values.get("--uuid");
  if (name === undefined || uuid === undefined) throw new ExecLineError("--name and --uuid are required");
  const action = values.get("--action") ?? "default";
  if (!isLockFailureAction(action)) throw new ExecLineError(`unknown failure action ${action}`);
  const uri = values.get("--uri");
  return {
    dom: {
      params: { name, uuid, pid: process.pid, ...(uri !== undefined ? { uri } : {}) },
      leases,
      disks,
      onLockFailure: action as LockFailureAction,
    },
    configFile: values.get("--config"),
    paused,
    killpathHelper: values.get("--killpath-helper"),
    program,
    programArgs,
  };
}
