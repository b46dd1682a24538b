/**
 * Options of startEmbeddedDaemon and the daemon settings they give. Defaults are the standalone
 * daemon's (options.ts DEFAULT_SETTINGS) except where an application is not a system service:
 * the run dir is a fresh private directory, the socket belongs to this process's user, and the
 * process never switches user (SANLOCK_PRIVILEGED=0 semantics).
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { DEFAULT_SETTINGS, HOST_NAME_MAX, MAX_KILL_GRACE_SECONDS, MAX_WORKER_THREADS_LIMIT, MIN_WORKER_THREADS, type DaemonSettings } from "../options.js";
import type { Watchdog } from "../watchdog/watchdog.js";
import { EmbeddedDaemonError, EmbeddedErrorCode } from "./errors.js";

/** The sanlock.conf settings an embedded daemon takes (sanlock.conf names in options.ts). */
export type EmbeddedSettings = Pick<
  DaemonSettings,
  | "killGraceSeconds"
  | "renewalHistorySize"
  | "maxWorkerThreads"
  | "quietFail"
  | "debugRenew"
  | "setBitmapSeconds"
  | "shRetries"
  | "writeInitIoTimeout"
  | "useAio"
  | "debugClients"
  | "socketUser"
  | "socketGroup"
>;

/** A SanlockClient class (from @sanlock-ts/client), or anything built from a socket path like it. */
export type ClientConstructor<C> = new (options: { socketPath: string }) => C;

export interface EmbeddedDaemonOptions<C> {
  /** The client class the handle's `client` is made of: `SanlockClient` from @sanlock-ts/client. */
  readonly client: ClientConstructor<C>;
  /** Directory of sanlock.sock and sanlock.pid; default a fresh private one under the temp dir, removed at close. */
  readonly runDir?: string;
  /**
   * "private" (default): the run dir must be accessible to this user only (mode 0700), so only
   * this process (and root) can reach the socket. "shared": sanlock's modes (run dir 0775,
   * socket 0660 owned by socketUser/socketGroup), for other processes on the host: the real
   * `sanlock client`, python3-sanlock, `sanlock-ts client`.
   */
  readonly socket?: "private" | "shared";
  /** Our host name in delta leases (-e); default "<uuid>.<nodename>" as sanlock. */
  readonly hostName?: string;
  /** "device" (default): /dev/watchdog, as -w 1; "none": no watchdog (tests only, as -w 0); or a backend. */
  readonly watchdog?: "none" | "device" | Watchdog;
  /** A sanlock.conf to read (its format, docs in config.ts); `settings` override it. */
  readonly configFile?: string;
  readonly settings?: Partial<EmbeddedSettings>;
  /** Receives every daemon log line (sanlock's -D output); default: kept in memory only (LOG_DUMP). */
  readonly log?: (line: string) => void;
}

export interface ResolvedEmbeddedOptions {
  readonly settings: DaemonSettings;
  readonly runDir: string;
  /** True when the run dir was made here and is removed at close. */
  readonly ownsRunDir: boolean;
  readonly configWarnings: readonly string[];
}

function badOption(message: string): EmbeddedDaemonError {
  return new EmbeddedDaemonError(EmbeddedErrorCode.BAD_OPTION, message);
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw badOption(`${name} ${value} is not an integer in ${min}..${max}`);
}

/** The group name of `gid` from /etc/group, if it has one (Node has no getgrgid). */
function groupName(gid: number): string | undefined {
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && id !== undefined && Number(id) === gid) return name;
    }
  } catch {
    // No /etc/group: the socket group falls back to sanlock's default (run-dir.ts).
  }
  return undefined;
}

async function settingsFromFile(path: string | undefined): Promise<{ settings: DaemonSettings; warnings: readonly string[] }> {
  if (path === undefined) return { settings: DEFAULT_SETTINGS, warnings: [] };
  const { readConfigFile, settingsFromConfig } = await import("../config.js");
  const parsed = readConfigFile(path);
  return { settings: settingsFromConfig(parsed.config), warnings: parsed.warnings.map((w) => `${path} ${w}`) };
}

function checkSettings(settings: DaemonSettings): void {
  checkInteger("settings.killGraceSeconds", settings.killGraceSeconds, 0, MAX_KILL_GRACE_SECONDS);
  checkInteger("settings.maxWorkerThreads", settings.maxWorkerThreads, MIN_WORKER_THREADS, MAX_WORKER_THREADS_LIMIT);
  checkInteger("settings.renewalHistorySize", settings.renewalHistorySize, 0, 1_000_000);
  checkInteger("settings.setBitmapSeconds", settings.setBitmapSeconds, 0, 3600);
  if (settings.ourHostName !== undefined && (settings.ourHostName.length === 0 || settings.ourHostName.length > HOST_NAME_MAX)) {
    throw badOption(`hostName must be 1..${HOST_NAME_MAX} characters`);
  }
}

/** A run dir for a private socket: made 0700 when missing; one that lets other users in is refused. */
function ensurePrivate(runDir: string): void {
  let mode: number;
  try {
    mode = statSync(runDir).mode;
  } catch {
    mkdirSync(runDir, { mode: 0o700 });
    return;
  }
  if ((mode & 0o077) !== 0) {
    throw new EmbeddedDaemonError(
      EmbeddedErrorCode.RUN_DIR_NOT_PRIVATE,
      `run dir ${runDir} has mode ${(mode & 0o777).toString(8)}; a private socket needs 0700 (or socket: "shared")`,
    );
  }
}

export async function resolveEmbeddedOptions<C>(options: EmbeddedDaemonOptions<C>): Promise<ResolvedEmbeddedOptions> {
  if (typeof options.client !== "function") throw badOption("client must be a client class (SanlockClient)");
  const socket = options.socket ?? "private";
  if (socket !== "private" && socket !== "shared") throw badOption(`socket must be "private" or "shared", not ${String(socket)}`);
  const fromFile = await settingsFromFile(options.configFile);
  const user = userInfo();
  const watchdog = options.watchdog ?? "device";
  const settings: DaemonSettings = {
    ...fromFile.settings,
    socketUser: user.username,
    socketGroup: groupName(user.gid),
    ...options.settings,
    // The log sink is the embedded daemon's stderr (startDaemon writes every line there in foreground).
    foreground: true,
    useWatchdog: watchdog !== "none",
    ourHostName: options.hostName ?? fromFile.settings.ourHostName,
  };
  checkSettings(settings);
  const ownsRunDir = options.runDir === undefined;
  const runDir = options.runDir ?? mkdtempSync(join(tmpdir(), "sanlock-ts-"));
  if (socket === "private") ensurePrivate(runDir);
  return { settings, runDir, ownsRunDir, configWarnings: fromFile.warnings };
}
