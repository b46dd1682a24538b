/**
 * What a `supervise` supervisor tells each of its lease-holder instances: passed as JSON in
 * the environment (not on the command line, where `ps` would show it and its length is bounded).
 */
export const HOLDER_ENV = "SANLOCK_TS_SAM_HOLDER";
/** The hidden first word that makes `sanlock-ts supervise` run as an instance. */
export const HOLDER_WORD = "--holder";

export interface HolderConfig {
  readonly socketPath: string;
  /** -r arguments as given (LS:RES:PATH:OFFSET[:lver|:SH]). */
  readonly resources: readonly string[];
  /** PROGRAM and its arguments. */
  readonly program: readonly string[];
  readonly maxDataBytes: number;
  /** Acquires refused by the daemon are retried this long, then the instance exits 75. */
  readonly acquireRetryMs: number;
  /** --start auto: the holder sends START before it becomes PROGRAM. */
  readonly autoStart: boolean;
  /** --killpath: registered before the acquire; the daemon appends PROGRAM's pid (KILLPATH_PID). */
  readonly killpath?: { readonly path: string; readonly args: readonly string[] } | undefined;
}

/** EX_TEMPFAIL: the leases could not be acquired; PROGRAM never started. */
export const EXIT_ACQUIRE_FAILED = 75;
/** The daemon refused the --killpath registration; PROGRAM never started. */
export const EXIT_KILLPATH_FAILED = 78;
/** As a shell: PROGRAM not found or not executable. */
export const EXIT_EXEC_FAILED = 127;
