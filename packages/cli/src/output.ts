/**
 * Where a command writes its text. Commands print whole lines; main.cts binds
 * this to process.stdout / process.stderr, tests may bind it to buffers.
 * sanlock prints its results (and its own errors) on stdout; errors that only
 * sanlock-ts detects go to stderr as one line.
 */
export interface Output {
  /** One line of normal output, without its newline. */
  line(text: string): void;
  /** One line of error text, without its newline. */
  error(text: string): void;
  /**
   * True when error() writes to this process's stderr: the daemon then gets process.stderr
   * itself, which it writes from the thread pool (daemon log.ts AsyncFdSink) instead of a line
   * at a time on its main thread.
   */
  readonly errorIsProcessStderr?: boolean;
}

export function processOutput(): Output {
  return {
    line: (text) => {
      process.stdout.write(`${text}\n`);
    },
    error: (text) => {
      process.stderr.write(`${text}\n`);
    },
    errorIsProcessStderr: true,
  };
}

/** Exit status of sanlock: 0 when the action's result was 0, else 1. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;

/** The text after "sanlock-ts: " for a command that failed: an Error's message, else the value itself. */
export function failureText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
