/**
 * Command-line options of `sanlock daemon` (sanlock 3.8.5 usage text, `sanlock daemon -h`)
 * and the two environment variables the daemon reads (docs/wire.md §2.1, §2.2).
 *
 * Every option is a separate "-X value" pair; only -D takes no value. sanlock reads values
 * with atoi() and silently turns garbage into 0; we reject a value that is not a decimal
 * integer (or out of the range sanlock accepts) with an error naming the option, because a
 * daemon that silently runs with watchdog 0 or grace 0 is a safety problem.
 *
 * Precedence, as in sanlock's main(): built-in defaults < sanlock.conf < command line.
 */

import { SanlockTsError } from "@sanlock-ts/core";

/** Default run directory (docs/wire.md §2.1). */
export const DEFAULT_RUN_DIR = "/run/sanlock";
/** Default location of the configuration file (sanlock(8) FILES). */
export const DEFAULT_CONFIG_PATH = "/etc/sanlock/sanlock.conf";
/** sanlock clamps -t to at least this many worker threads (DEFAULT_MIN_WORKER_THREADS). */
export const MIN_WORKER_THREADS = 2;
/** A host name is stored in a 48-byte field (NAME_ID_SIZE). */
export const HOST_NAME_MAX = 48;
/** Upper bound on -t: our own limit so a typo cannot ask for thousands of threads. */
export const MAX_WORKER_THREADS_LIMIT = 128;
/** -g accepts 0..60 seconds (sanlock main.c). */
export const MAX_KILL_GRACE_SECONDS = 60;

export interface DaemonSettings {
  /** -D: stay in the foreground and log everything to stderr. */
  readonly foreground: boolean;
  /** -Q: quiet error messages for common lock contention. */
  readonly quietFail: boolean;
  /** -R: log debug info about renewals. */
  readonly debugRenew: boolean;
  /** -H: renewal history size per lockspace (0 disables it). */
  readonly renewalHistorySize: number;
  /** -L: log file priority threshold (syslog numbers, -1 = none). */
  readonly logfilePriority: number;
  /** -S: syslog priority threshold (-1 = none). */
  readonly syslogPriority: number;
  /** -U: owner of the socket (user name or numeric uid); undefined = sanlock's default. */
  readonly socketUser: string | undefined;
  /** -G: group of the socket (group name or numeric gid). */
  readonly socketGroup: string | undefined;
  /** -t: maximum worker threads (at least 2). */
  readonly maxWorkerThreads: number;
  /** -g: seconds of graceful recovery (killpath / SIGTERM) before SIGKILL, 0..60. */
  readonly killGraceSeconds: number;
  /** -w: use the watchdog (wdmd). */
  readonly useWatchdog: boolean;
  /** -h: use realtime (RR) scheduling. */
  readonly highPriority: boolean;
  /** -l: mlockall level, 0 none, 1 current, 2 current and future. */
  readonly mlockLevel: 0 | 1 | 2;
  /** -b: seconds a host id bit stays set in the delta lease bitmap; 0 = 6 × io_timeout. */
  readonly setBitmapSeconds: number;
  /** -e: our host name in delta leases; undefined = "<uuid>.<nodename>". */
  readonly ourHostName: string | undefined;
  /** sanlock.conf only: retries of a shared acquire. */
  readonly shRetries: number;
  /** sanlock.conf only: io timeout used when formatting leases. */
  readonly writeInitIoTimeout: number;
  /** sanlock.conf only: use asynchronous I/O. */
  readonly useAio: boolean;
  /** sanlock.conf only: log per-client debug lines. */
  readonly debugClients: boolean;
}

export const DEFAULT_SETTINGS: DaemonSettings = {
  foreground: false,
  quietFail: true,
  debugRenew: false,
  renewalHistorySize: 180,
  logfilePriority: 4,
  syslogPriority: 3,
  socketUser: undefined,
  socketGroup: undefined,
  maxWorkerThreads: 8,
  killGraceSeconds: 40,
  useWatchdog: true,
  highPriority: false,
  mlockLevel: 1,
  setBitmapSeconds: 0,
  ourHostName: undefined,
  shRetries: 8,
  writeInitIoTimeout: 60,
  useAio: true,
  debugClients: false,
};

export class DaemonOptionError extends SanlockTsError {
  override readonly name = "DaemonOptionError";
}

/** Command-line values, keyed by option letter; -D maps to "1". */
export type OptionValues = Readonly<Record<string, string>>;

export interface OptionSpec {
  readonly letter: string;
  readonly usage: string;
  readonly takesValue: boolean;
  readonly apply: (value: string, into: Mutable<DaemonSettings>) => void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Parses a decimal integer; names the option in the error. */
export function parseIntegerValue(name: string, value: string, min: number, max: number): number {
  if (!/^-?\d{1,10}$/.test(value.trim())) {
    throw new DaemonOptionError("ERR_DAEMON_BAD_OPTION_VALUE", `${name}: "${value}" is not an integer`);
  }
  const parsed = Number.parseInt(value, 10);
  if (parsed < min || parsed > max) {
    throw new DaemonOptionError("ERR_DAEMON_BAD_OPTION_VALUE", `${name}: ${parsed} is outside ${min}..${max}`);
  }
  return parsed;
}

function parseFlag(name: string, value: string): boolean {
  return parseIntegerValue(name, value, 0, 1) === 1;
}

function parseHostName(name: string, value: string): string {
  if (value.length === 0 || new TextEncoder().encode(value).length > HOST_NAME_MAX) {
    throw new DaemonOptionError("ERR_DAEMON_BAD_OPTION_VALUE", `${name}: host name must be 1..${HOST_NAME_MAX} bytes`);
  }
  return value;
}

function parseOwnerName(name: string, value: string): string {
  if (value.length === 0 || value.length > 256 || /[\s:]/.test(value)) {
    throw new DaemonOptionError("ERR_DAEMON_BAD_OPTION_VALUE", `${name}: "${value}" is not a user or group name`);
  }
  return value;
}

/** The daemon options of sanlock 3.8.5, in its usage order. */
export const DAEMON_OPTIONS: readonly OptionSpec[] = [
  {
    letter: "D",
    usage: "no fork and print all logging to stderr",
    takesValue: false,
    apply: (_v, s) => {
      s.foreground = true;
    },
  },
  {
    letter: "Q",
    usage: "0|1 quiet error messages for common lock contention (1)",
    takesValue: true,
    apply: (v, s) => {
      s.quietFail = parseFlag("-Q", v);
    },
  },
  {
    letter: "R",
    usage: "0|1 renewal debugging, log debug info about renewals (0)",
    takesValue: true,
    apply: (v, s) => {
      s.debugRenew = parseFlag("-R", v);
    },
  },
  {
    letter: "H",
    usage: "<num> renewal history size (180)",
    takesValue: true,
    apply: (v, s) => {
      s.renewalHistorySize = parseIntegerValue("-H", v, 0, 100_000);
    },
  },
  {
    letter: "L",
    usage: "<pri> write logging at priority level and up to logfile (4 LOG_WARNING) (use -1 for none)",
    takesValue: true,
    apply: (v, s) => {
      s.logfilePriority = parseIntegerValue("-L", v, -1, 7);
    },
  },
  {
    letter: "S",
    usage: "<pri> write logging at priority level and up to syslog (3 LOG_ERR) (use -1 for none)",
    takesValue: true,
    apply: (v, s) => {
      s.syslogPriority = parseIntegerValue("-S", v, -1, 7);
    },
  },
  {
    letter: "U",
    usage: "<uid> user id",
    takesValue: true,
    apply: (v, s) => {
      s.socketUser = parseOwnerName("-U", v);
    },
  },
  {
    letter: "G",
    usage: "<gid> group id",
    takesValue: true,
    apply: (v, s) => {
      s.socketGroup = parseOwnerName("-G", v);
    },
  },
  {
    letter: "t",
    usage: "<num> max worker threads (8)",
    takesValue: true,
    apply: (v, s) => {
      // sanlock raises values below the minimum to the minimum instead of failing.
      s.maxWorkerThreads = Math.max(MIN_WORKER_THREADS, parseIntegerValue("-t", v, 0, MAX_WORKER_THREADS_LIMIT));
    },
  },
  {
    letter: "g",
    usage: "<sec> seconds for graceful recovery (40)",
    takesValue: true,
    apply: (v, s) => {
      s.killGraceSeconds = parseIntegerValue("-g", v, 0, MAX_KILL_GRACE_SECONDS);
    },
  },
  {
    letter: "w",
    usage: "0|1 use watchdog through wdmd (1)",
    takesValue: true,
    apply: (v, s) => {
      s.useWatchdog = parseFlag("-w", v);
    },
  },
  {
    letter: "h",
    usage: "0|1 use high priority (RR) scheduling (0)",
    takesValue: true,
    apply: (v, s) => {
      s.highPriority = parseFlag("-h", v);
    },
  },
  {
    letter: "l",
    usage: "<num> use mlockall (0 none, 1 current, 2 current and future) (1)",
    takesValue: true,
    apply: (v, s) => {
      s.mlockLevel = parseIntegerValue("-l", v, 0, 2) as 0 | 1 | 2;
    },
  },
  {
    letter: "b",
    usage: "<sec> seconds a host id bit will remain set in delta lease bitmap (default: 6 * io_timeout)",
    takesValue: true,
    apply: (v, s) => {
      s.setBitmapSeconds = parseIntegerValue("-b", v, 0, 86_400);
    },
  },
  {
    letter: "e",
    usage: "<str> local host name used in delta leases (default: generate new uuid)",
    takesValue: true,
    apply: (v, s) => {
      s.ourHostName = parseHostName("-e", v);
    },
  },
];

const OPTION_BY_LETTER = new Map(DAEMON_OPTIONS.map((spec) => [spec.letter, spec]));

/** Long option of ours (not in sanlock): where to read sanlock.conf from. */
export const CONFIG_PATH_OPTION = "--config";

export interface DaemonCommandLine {
  readonly values: OptionValues;
  readonly configPath: string;
}

/** Splits `sanlock daemon` arguments into option values (no interpretation yet). */
export function splitDaemonArgs(argv: readonly string[]): DaemonCommandLine {
  const values: Record<string, string> = {};
  let configPath = DEFAULT_CONFIG_PATH;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === CONFIG_PATH_OPTION) {
      configPath = requireValue(argv, i, arg);
      i++;
      continue;
    }
    const spec = arg.length === 2 && arg[0] === "-" ? OPTION_BY_LETTER.get(arg.slice(1)) : undefined;
    if (spec === undefined) {
      throw new DaemonOptionError("ERR_DAEMON_UNKNOWN_OPTION", `unknown daemon option "${arg}"`);
    }
    if (!spec.takesValue) {
      values[spec.letter] = "1";
      continue;
    }
    values[spec.letter] = requireValue(argv, i, arg);
    i++;
  }
  return { values, configPath };
}

function requireValue(argv: readonly string[], index: number, option: string): string {
  const value = argv[index + 1];
  if (value === undefined) {
    throw new DaemonOptionError("ERR_DAEMON_MISSING_OPTION_VALUE", `option '${option.replace(/^-+/, "")}' requires arg`);
  }
  return value;
}

/** Applies command-line option values over `base` (defaults merged with sanlock.conf). */
export function applyOptionValues(base: DaemonSettings, values: OptionValues): DaemonSettings {
  const settings: Mutable<DaemonSettings> = { ...base };
  for (const [letter, value] of Object.entries(values)) {
    const spec = OPTION_BY_LETTER.get(letter);
    if (spec === undefined) {
      throw new DaemonOptionError("ERR_DAEMON_UNKNOWN_OPTION", `unknown daemon option "-${letter}"`);
    }
    spec.apply(value, settings);
  }
  return settings;
}

export interface DaemonEnvironment {
  /** SANLOCK_RUN_DIR, else /run/sanlock. */
  readonly runDir: string;
  /** SANLOCK_PRIVILEGED: unset or exactly "1" → privileged; anything else → unprivileged (docs/wire.md §2.2). */
  readonly privileged: boolean;
}

export function readDaemonEnvironment(env: Readonly<Record<string, string | undefined>>): DaemonEnvironment {
  const runDir = env["SANLOCK_RUN_DIR"];
  const privileged = env["SANLOCK_PRIVILEGED"];
  return {
    runDir: runDir === undefined || runDir === "" ? DEFAULT_RUN_DIR : runDir,
    privileged: privileged === undefined || privileged === "1",
  };
}
