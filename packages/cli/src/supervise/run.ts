/**
 * `sanlock-ts supervise` (docs/sam.md §9): runs PROGRAM as a health-checked lease holder.
 * This process is the supervisor (@sanlock-ts/client/sam's Supervisor); each instance is
 * `sanlock-ts supervise --holder` (holder.ts), which registers, acquires the -r leases, and
 * then becomes PROGRAM by exec, so the program itself holds the leases (docs/sam.md §4.2).
 * `--list` prints the status entries. Loaded only for this command.
 */
import { basename } from "node:path";
import {
  describeEvent,
  listStatus,
  releaseOrphanSpecs,
  resolveOptions,
  shownState,
  statusDir,
  Supervisor,
  type ListedEntry,
  type SamEvent,
  type SamOptions,
} from "@sanlock-ts/client/sam";
import { resolveSocketPath } from "@sanlock-ts/client/socket-path";
import { CliArgError } from "../args/errors.js";
import { parseResourceArg } from "../args/sanlock-strings.js";
import { EXIT_FAILURE, type Output } from "../output.js";
import { HOLDER_ENV, HOLDER_WORD, type HolderConfig } from "./holder-config.js";
import { parseSuperviseArgs, type SuperviseArgs } from "./args.js";

/** Entry point: argv are the words after `supervise`. */
export async function runSupervise(argv: readonly string[], output: Output): Promise<number> {
  if (argv[0] === HOLDER_WORD) {
    const { runHolder } = await import("./holder.js");
    return runHolder(output);
  }
  let args: SuperviseArgs;
  try {
    args = parseSuperviseArgs(argv);
  } catch (err) {
    if (!(err instanceof CliArgError)) throw err;
    output.error(err.message);
    return EXIT_FAILURE;
  }
  if (args.list) return listEntries(args, output);
  if (args.releaseOrphans) return releaseOrphanLeases(args, output);
  return supervise(args, output);
}

function samOptions(args: SuperviseArgs): SamOptions {
  const leaseLockspaces = [...new Set(args.resources.map((r) => parseResourceArg(r).lockspaceName))];
  const quorum = args.noQuorum ? [] : (args.quorum ?? leaseLockspaces.map((lockspace) => ({ lockspace })));
  return {
    intervalMs: args.intervalMs,
    policy: args.policy,
    quorum: quorum.map((q) => (args.maxRenewalAgeSeconds === undefined ? q : { ...q, maxRenewalAgeSeconds: args.maxRenewalAgeSeconds })),
    status: args.noStatus ? false : { dir: args.statusDir, name: args.name ?? basename(args.program[0] ?? "program") },
    ...(args.warnSignal === undefined ? {} : { warnSignal: args.warnSignal as NodeJS.Signals }),
    ...(args.killAfterMs === undefined ? {} : { killAfterMs: args.killAfterMs }),
    ...(args.restartDelayMs === undefined ? {} : { restartDelayMs: args.restartDelayMs }),
    ...(args.restartLimit === undefined ? {} : { restartLimit: args.restartLimit }),
    successExitCodes: args.successExitCodes,
    continuity: args.continuity,
    ...(args.stateFile === undefined ? {} : { stateFile: args.stateFile }),
  };
}

async function supervise(args: SuperviseArgs, output: Output): Promise<number> {
  let options: ReturnType<typeof resolveOptions>;
  try {
    options = resolveOptions(samOptions(args));
  } catch (err) {
    output.error(`supervise: ${(err as Error).message}`);
    return EXIT_FAILURE;
  }
  const config: HolderConfig = {
    socketPath: resolveSocketPath(options.sanlock),
    resources: args.resources,
    program: args.program,
    maxDataBytes: options.maxDataBytes,
    acquireRetryMs: args.acquireRetryMs,
    autoStart: args.start === "auto",
    killpath: args.killpath,
  };
  const print = (event: SamEvent): void => {
    output.error(args.json ? JSON.stringify({ ...event, at: Date.now() }) : `supervise: ${describeEvent(event)}`);
  };
  let supervisor: Supervisor;
  try {
    supervisor = newSupervisor(options, config, args, print, output);
  } catch (err) {
    output.error(`supervise: ${(err as Error).message}`); // an unreadable --state-file
    return EXIT_FAILURE;
  }
  const stop = (): void => supervisor.requestStop();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  try {
    return (await supervisor.supervise()).exitCode;
  } finally {
    process.removeListener("SIGTERM", stop);
    process.removeListener("SIGINT", stop);
  }
}

function newSupervisor(
  options: ReturnType<typeof resolveOptions>,
  config: HolderConfig,
  args: SuperviseArgs,
  print: (event: SamEvent) => void,
  output: Output,
): Supervisor {
  const main = process.argv[1];
  if (main === undefined) throw new Error("supervise: the path of the sanlock-ts script is unknown");
  return new Supervisor({
    options,
    command: { file: process.execPath, args: [main, "supervise", HOLDER_WORD], env: { [HOLDER_ENV]: JSON.stringify(config) } },
    autoStart: config.autoStart,
    healthCommand: args.healthCommand === undefined ? undefined : { file: "/bin/sh", args: ["-c", args.healthCommand] },
    onEvent: print,
    warn: (line) => output.error(`supervise: ${line}`),
  });
}

/** `--release-orphans -r ...`: RELEASE with REL_ORPHAN for each lease (docs/sam.md §7). */
async function releaseOrphanLeases(args: SuperviseArgs, output: Output): Promise<number> {
  const specs = args.resources.map((text) => {
    const r = parseResourceArg(text);
    return { lockspace: r.lockspaceName, resource: r.name, disks: r.disks.map((d) => ({ path: d.path, offset: BigInt(d.offset) })) };
  });
  const result = await releaseOrphanSpecs(resolveSocketPath({}), specs);
  if (typeof result === "string") {
    output.error(`supervise: release of the orphans failed: ${result}`);
    return EXIT_FAILURE;
  }
  output.line(`released ${result} orphan${result === 1 ? "" : "s"}`);
  return 0;
}

function listEntries(args: SuperviseArgs, output: Output): number {
  const entries = listStatus(statusDir(args.statusDir));
  if (args.json) {
    output.line(JSON.stringify(entries));
    return 0;
  }
  for (const e of entries) output.line(formatEntry(e));
  return 0;
}

function formatEntry(e: ListedEntry): string {
  const state = shownState(e);
  const worker = e.worker_pid === null ? "-" : String(e.worker_pid);
  return `${e.supervisor_pid} ${e.name} ${state} instance ${e.instance_id} pid ${worker} restarts ${e.restarts} ${e.recovery} ${e.poll_period}ms leases ${e.leases === "" ? "-" : e.leases}`;
}
