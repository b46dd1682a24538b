/**
 * `sanlock-ts daemon ...` without yargs: the daemon's own option reader
 * (@sanlock-ts/daemon/options, the sanlock 3.8.5 daemon syntax) accepts the
 * line, so yargs would only rebuild the same argument list. Skipping it keeps
 * yargs' modules (some 12 MiB of the daemon's resident memory) out of a
 * process that runs for months. A line the option reader refuses, or a help
 * request, goes to yargs, which prints the usage and the error.
 */
import type { Output } from "./output.js";

/** The exit status, or undefined when yargs must read the line. `argv[0]` is "daemon". */
export async function runPlainDaemonLine(argv: readonly string[], output: Output): Promise<number | undefined> {
  const daemonArgv = argv.slice(1);
  const { splitDaemonArgs } = await import("@sanlock-ts/daemon/options");
  try {
    splitDaemonArgs(daemonArgv);
  } catch {
    return undefined; // yargs reports it, as before
  }
  return startDaemonProcess(daemonArgv, output);
}

/**
 * Memory settings first (they must precede the daemon's allocations) and the collector of
 * dropped I/O buffers (daemon process-memory.ts), then the daemon.
 */
export async function startDaemonProcess(daemonArgv: readonly string[], output: Output): Promise<number> {
  const { applyDaemonMemorySettings, startBufferGarbageCollector } = await import("@sanlock-ts/daemon/process-memory");
  applyDaemonMemorySettings();
  const collector = startBufferGarbageCollector();
  const { runDaemonCommand } = await import("@sanlock-ts/daemon/main");
  try {
    return await runDaemonCommand(daemonArgv, process.env, { write: (text) => output.error(text.replace(/\n$/, "")) });
  } finally {
    collector?.stop();
  }
}
