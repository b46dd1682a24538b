/**
 * sanlock.conf (sanlock(8) FILES; sanlock 3.8.5 main.c read_config_file).
 *
 * Format, as sanlock reads it: one "key = value" per line; a line starting with '#' or an
 * empty line is skipped; the key ends at the first space, tab or '='; the value is the first
 * whitespace-free word after the first '='. `debug_cmd` may repeat. sanlock ignores unknown
 * keys and turns a non-numeric value into 0; we keep ignoring unknown keys (reported back as
 * warnings) but reject a bad value, naming the key and line, so a typo cannot silently turn
 * the watchdog off.
 */
import { SanlockTsError } from "@sanlock-ts/core";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { DEFAULT_SETTINGS, HOST_NAME_MAX, MAX_WORKER_THREADS_LIMIT, MIN_WORKER_THREADS, type DaemonSettings } from "./options.js";

/** sanlock reads lines into a 128-byte buffer (MAX_CONF_LINE); we refuse longer lines. */
export const MAX_CONFIG_LINE = 128;
/** Our bound on the file: sanlock.conf is a few dozen lines. */
export const MAX_CONFIG_LINES = 10_000;

export class ConfigError extends SanlockTsError {
  override readonly name = "ConfigError";
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,10}$/, "not an integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const flag = integer(0, 1).transform((value) => value === 1);
const word = z.string().min(1).max(MAX_CONFIG_LINE);

/** max_sectors_kb: "ignore", "align", or an even number of KiB in 2..8192. */
const maxSectorsKb = z.union([z.literal("ignore"), z.literal("align"), integer(2, 8192).refine((kb) => kb % 2 === 0, "must be even")]);

/** debug_cmd: "+all", "-all", "+<command name>" or "-<command name>". */
const debugCmd = z.string().regex(/^[+-][a-z_]{1,32}$/, "expected +name or -name");

/** The keys sanlock 3.8.5 reads, each with the values it accepts. */
export const CONFIG_SCHEMA = z
  .object({
    quiet_fail: flag,
    debug_renew: flag,
    use_aio: flag,
    logfile_priority: integer(-1, 7),
    logfile_use_utc: flag,
    syslog_priority: integer(-1, 7),
    names_log_priority: integer(-1, 7),
    use_watchdog: flag,
    high_priority: flag,
    mlock_level: integer(0, 2),
    sh_retries: integer(0, 1000),
    uname: word,
    gname: word,
    our_host_name: z
      .string()
      .min(1)
      .refine((name) => new TextEncoder().encode(name).length <= HOST_NAME_MAX, `longer than ${HOST_NAME_MAX} bytes`),
    renewal_read_extend_sec: integer(0, 3600),
    write_init_io_timeout: integer(1, 3600),
    renewal_history_size: integer(0, 100_000),
    paxos_debug_all: flag,
    debug_io: z.string().regex(/^(submit|complete)(,(submit|complete))?$/, "expected submit, complete or submit,complete"),
    debug_clients: flag,
    debug_cmd: z.array(debugCmd),
    max_sectors_kb: maxSectorsKb,
    max_worker_threads: integer(0, MAX_WORKER_THREADS_LIMIT),
  })
  .partial()
  .strict();

export type DaemonConfig = z.infer<typeof CONFIG_SCHEMA>;

export interface ParsedConfig {
  readonly config: DaemonConfig;
  /** Lines sanlock would ignore (unknown key, no '='), as "line N: text". */
  readonly warnings: readonly string[];
}

interface RawEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

/** Splits one line like sanlock does; undefined for comments, blank lines and lines without '='. */
function splitLine(text: string): { key: string; value: string | undefined } | undefined {
  if (text.startsWith("#") || text.trim() === "") return undefined;
  const key = text.split(/[ \t=]/, 1)[0] ?? "";
  const equals = text.indexOf("=");
  const value =
    equals < 0
      ? undefined
      : text
          .slice(equals + 1)
          .trim()
          .split(/\s+/, 1)[0];
  return { key, value: value === "" ? undefined : value };
}

function collectEntries(text: string, source: string): { entries: RawEntry[]; warnings: string[] } {
  const lines = text.split("\n");
  if (lines.length > MAX_CONFIG_LINES) {
    throw new ConfigError("ERR_DAEMON_CONFIG_TOO_LONG", `${source}: more than ${MAX_CONFIG_LINES} lines`);
  }
  const entries: RawEntry[] = [];
  const warnings: string[] = [];
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.length >= MAX_CONFIG_LINE) {
      throw new ConfigError("ERR_DAEMON_CONFIG_LINE_TOO_LONG", `${source}:${line}: line longer than ${MAX_CONFIG_LINE - 1} characters`);
    }
    const split = splitLine(raw);
    if (split === undefined) return;
    if (!(split.key in CONFIG_SCHEMA.shape)) {
      warnings.push(`line ${line}: unknown key "${split.key}" ignored`);
      return;
    }
    if (split.value === undefined) {
      throw new ConfigError("ERR_DAEMON_CONFIG_BAD_VALUE", `${source}:${line}: ${split.key} has no value`);
    }
    entries.push({ key: split.key, value: split.value, line });
  });
  return { entries, warnings };
}

/** Parses and validates the text of a sanlock.conf; `source` names it in errors. */
export function parseConfigText(text: string, source: string): ParsedConfig {
  const { entries, warnings } = collectEntries(text, source);
  const raw: Record<string, string | string[]> = {};
  const lineOf = new Map<string, number>();
  for (const entry of entries) {
    if (entry.key === "debug_cmd") {
      const list = raw["debug_cmd"];
      raw["debug_cmd"] = Array.isArray(list) ? [...list, entry.value] : [entry.value];
    } else {
      raw[entry.key] = entry.value; // a later line wins, as in sanlock
    }
    lineOf.set(entry.key, entry.line);
  }
  const result = CONFIG_SCHEMA.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? "?");
    const line = lineOf.get(key);
    const where = line === undefined ? source : `${source}:${line}`;
    throw new ConfigError("ERR_DAEMON_CONFIG_BAD_VALUE", `${where}: bad value for ${key} (${JSON.stringify(raw[key])}): ${issue?.message ?? "invalid"}`);
  }
  return { config: result.data, warnings };
}

/** Applies a parsed sanlock.conf over `base` (the built-in defaults by default). */
export function settingsFromConfig(config: DaemonConfig, base: DaemonSettings = DEFAULT_SETTINGS): DaemonSettings {
  return {
    ...base,
    quietFail: config.quiet_fail ?? base.quietFail,
    debugRenew: config.debug_renew ?? base.debugRenew,
    useAio: config.use_aio ?? base.useAio,
    logfilePriority: config.logfile_priority ?? base.logfilePriority,
    syslogPriority: config.syslog_priority ?? base.syslogPriority,
    useWatchdog: config.use_watchdog ?? base.useWatchdog,
    highPriority: config.high_priority ?? base.highPriority,
    mlockLevel: (config.mlock_level ?? base.mlockLevel) as 0 | 1 | 2,
    shRetries: config.sh_retries ?? base.shRetries,
    socketUser: config.uname ?? base.socketUser,
    socketGroup: config.gname ?? base.socketGroup,
    ourHostName: config.our_host_name ?? base.ourHostName,
    writeInitIoTimeout: config.write_init_io_timeout ?? base.writeInitIoTimeout,
    renewalHistorySize: config.renewal_history_size ?? base.renewalHistorySize,
    debugClients: config.debug_clients ?? base.debugClients,
    // sanlock raises a too small value to the minimum (read_config_file).
    maxWorkerThreads: config.max_worker_threads === undefined ? base.maxWorkerThreads : Math.max(MIN_WORKER_THREADS, config.max_worker_threads),
  };
}

/** Our bound on the file size in bytes. */
export const MAX_CONFIG_BYTES = MAX_CONFIG_LINE * MAX_CONFIG_LINES;

/** Reads sanlock.conf; a missing file means "no settings", as in sanlock. */
export function readConfigFile(path: string): ParsedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { config: {}, warnings: [] };
    throw new ConfigError("ERR_DAEMON_CONFIG_READ", `${path}: cannot read: ${(error as Error).message}`);
  }
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError("ERR_DAEMON_CONFIG_TOO_LONG", `${path}: larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  return parseConfigText(text, path);
}
