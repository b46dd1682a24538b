/**
 * One instance of `sanlock-ts supervise` (docs/sam.md §9.2): reads the supervisor's hello on
 * fd 3, registers with the daemon, acquires the -r leases on that registered connection
 * (retrying refusals for --acquire-retry ms; the previous instance's lease may still be being
 * released), reports them, sends START (--start auto, waiting for quorum), and then becomes
 * PROGRAM through ExecHolder (the same exec as `client command`): PROGRAM keeps this pid, the
 * registered socket and the channel on fd 3, so the daemon frees the leases only once PROGRAM
 * has exited, and PDEATHSIG (set by the supervisor's spawn) still kills PROGRAM with its supervisor.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ENV_SUPERVISOR_PID, SamWorker } from "@sanlock-ts/client/sam";
import { killpath as sendKillpath } from "@sanlock-ts/client/operations";
import { SanlockError } from "@sanlock-ts/client/errors";
import type { Registration } from "@sanlock-ts/client/registration";
import { parseResourceArg, type ResourceArg } from "../args/sanlock-strings.js";
import type { Output } from "../output.js";
import { EXIT_ACQUIRE_FAILED, EXIT_EXEC_FAILED, EXIT_KILLPATH_FAILED, HOLDER_ENV, type HolderConfig } from "./holder-config.js";

/** Pause between two acquire attempts. */
const ACQUIRE_RETRY_PAUSE_MS = 200;
/** Limit of the KILLPATH round trip (the daemon answers at once). */
const KILLPATH_TIMEOUT_MS = 30_000;
/** PROGRAM's copy of the stored data, base64 (docs/sam.md §9.2). */
const ENV_DATA = "SANLOCK_TS_SAM_DATA";
/** Below MAX_ARG_STRLEN (128 KiB) with room for the name. */
const MAX_ENV_DATA_CHARS = 128 * 1024 - 64;
/** The channel's descriptor; PROGRAM inherits it under this number. */
const CHANNEL_FD = 3;

export async function runHolder(output: Output): Promise<number> {
  const text = process.env[HOLDER_ENV];
  if (text === undefined) {
    output.error("supervise --holder runs only as an instance of sanlock-ts supervise");
    return 1;
  }
  const config = JSON.parse(text) as HolderConfig;
  delete process.env[HOLDER_ENV];
  const worker = await SamWorker.connect(config.maxDataBytes, { socketPath: config.socketPath }, Number(process.env[ENV_SUPERVISOR_PID]));
  const say = (line: string): void => output.error(`supervise: instance ${worker.instanceId}: ${line}`);
  passStoredData(worker.data, say);
  const program = findProgram(config.program[0] as string);
  if (program === undefined) {
    say(`${config.program[0]}: command not found`);
    await worker.finalize();
    return EXIT_EXEC_FAILED;
  }
  if (config.resources.length === 0) {
    // No lease to hold: no registration either (supervision without a daemon).
    if (config.autoStart) await worker.start();
    const { execInPlace } = await import("@sanlock-ts/cli/exec-holder");
    const failure = await execInPlace(program, config.program.slice(1), [CHANNEL_FD]);
    say(`cannot execute ${program}: ${failure.message} (${failure.code})`);
    await worker.finalize();
    return EXIT_EXEC_FAILED;
  }
  const registration = await worker.openRegistration();
  if (config.killpath !== undefined && !(await registerKillpath(config, registration, say))) {
    await worker.finalize();
    await registration.close();
    return EXIT_KILLPATH_FAILED;
  }
  for (const text of config.resources) {
    const acquired = await acquireWithRetry(worker, parseResourceArg(text), config.acquireRetryMs, say);
    if (!acquired) {
      // Closing the registration frees what was taken; finalize ends the channel and the
      // watchers, so nothing keeps this process from exiting.
      await worker.finalize(); // first: its watcher would take the closed registration for a lost daemon
      await registration.close();
      return EXIT_ACQUIRE_FAILED;
    }
  }
  if (config.autoStart) await worker.start();
  process.env.SANLOCK_TS_SAM_LEASE_FD = String(registration.fd);
  const { ExecHolder } = await import("@sanlock-ts/cli/exec-holder");
  const failure = await ExecHolder.adopt(registration, config.socketPath).becomeProgram(program, config.program.slice(1), { keepFds: [CHANNEL_FD] });
  say(`cannot execute ${program}: ${failure.message} (${failure.code})`);
  await worker.finalize();
  await registration.close();
  return EXIT_EXEC_FAILED;
}

/**
 * The stored data (sam_data_restore) for PROGRAM, which never sees the hello the holder read:
 * base64 in SANLOCK_TS_SAM_DATA, unset when there is none. Linux bounds one environment string
 * (MAX_ARG_STRLEN, 128 KiB), so larger data is not passed, and the holder says so.
 */
function passStoredData(data: Uint8Array | undefined, say: (line: string) => void): void {
  delete process.env[ENV_DATA];
  if (data === undefined) return;
  const text = Buffer.from(data).toString("base64");
  if (text.length > MAX_ENV_DATA_CHARS) {
    say(`stored data of ${data.byteLength} bytes is too large for ${ENV_DATA}; not passed`);
    return;
  }
  process.env[ENV_DATA] = text;
}

/**
 * KILLPATH on the registered connection, before any lease is taken (as libvirt's plugin): when
 * the lockspace fails, the daemon runs PATH ARGS PID instead of sending SIGTERM, and SIGKILLs
 * PROGRAM only after its grace period (docs/sam.md §9.2).
 */
async function registerKillpath(config: HolderConfig, registration: Registration, say: (line: string) => void): Promise<boolean> {
  const killpath = config.killpath;
  if (killpath === undefined) return true;
  try {
    // Lengths were checked by the argument reader (args.ts).
    await sendKillpath({ socketPath: config.socketPath, timeoutMs: KILLPATH_TIMEOUT_MS }, registration, {
      path: killpath.path,
      args: [...killpath.args],
      appendPid: true,
    });
    return true;
  } catch (err) {
    say(`killpath ${killpath.path} refused: ${(err as Error).message}`);
    return false;
  }
}

/** Acquires one lease, retrying daemon refusals until `retryMs` has passed. */
async function acquireWithRetry(worker: SamWorker, r: ResourceArg, retryMs: number, say: (line: string) => void): Promise<boolean> {
  const giveUpAt = Date.now() + retryMs;
  const disks = r.disks.map((d) => ({ path: d.path, offset: d.offset }));
  for (let attempt = 1; ; attempt++) {
    try {
      await worker.acquire(r.lockspaceName, r.name, disks, { shared: r.shared });
      return true;
    } catch (err) {
      const refused = err instanceof SanlockError;
      if (!refused || Date.now() >= giveUpAt) {
        say(`acquire ${r.lockspaceName}:${r.name} failed after ${attempt} attempts: ${(err as Error).message}`);
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, ACQUIRE_RETRY_PAUSE_MS));
    }
  }
}

/** PROGRAM as execvp would find it: a name with a slash as is, else the first executable file on PATH. */
function findProgram(name: string): string | undefined {
  if (name.includes("/")) return name;
  for (const dir of (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
    const path = join(dir === "" ? "." : dir, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}
