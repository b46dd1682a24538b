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
 * The libuv pool re-exec first (a foreground daemon, -D, whose UV_THREADPOOL_SIZE is too small
 * starts again in place: daemon device/threadpool.ts), before the daemon's modules load: the
 * first image then costs node's own start only, not the whole module graph that runDaemonCommand
 * would load before its own (now no-op) re-exec check; about 280 ms of a 580 ms start-up
 * (bench/startup.mjs). The new image also gets the memory settings V8 and glibc read only at
 * start (DAEMON_STARTUP, daemon process-memory.ts). Without -D the process detaches a child that
 * gets the variable in its environment, so only -D re-executes here. Then memory settings (they must precede the
 * daemon's allocations) and the collector of dropped I/O buffers (daemon process-memory.ts),
 * then the daemon.
 */
export async function startDaemonProcess(daemonArgv: readonly string[], output: Output): Promise<number> {
  const { splitDaemonArgs, applyOptionValues, DEFAULT_SETTINGS } = await import("@sanlock-ts/daemon/options");
  let foreground = false;
  try {
    foreground = applyOptionValues(DEFAULT_SETTINGS, splitDaemonArgs(daemonArgv).values).foreground;
  } catch {
    // A bad line: runDaemonCommand reports it.
  }
  const { applyDaemonMemorySettings, startBufferGarbageCollector, DAEMON_STARTUP } = await import("@sanlock-ts/daemon/process-memory");
  if (foreground) {
    const { reexecWithDaemonThreadpool } = await import("@sanlock-ts/daemon/device/threadpool");
    // On failure runDaemonCommand tries again and reports why the pool keeps its size.
    await reexecWithDaemonThreadpool(process.env, DAEMON_STARTUP).catch(() => undefined);
  }
  applyDaemonMemorySettings();
  const collector = startBufferGarbageCollector();
  const { runDaemonCommand } = await import("@sanlock-ts/daemon/main");
  try {
    const stderr = output.errorIsProcessStderr ? process.stderr : { write: (text: string) => output.error(text.replace(/\n$/, "")) };
    return await runDaemonCommand(daemonArgv, process.env, stderr);
  } finally {
    collector?.stop();
  }
}
