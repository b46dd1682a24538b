/**
 * startEmbeddedDaemon: the whole sanlock-ts daemon — lockspaces with their renewal worker
 * thread, resource leases, the kill sequence, the watchdog, the socket — started inside the
 * calling process, for an appliance whose one Node process is also the host's lease manager.
 *
 * It is started by main.ts startLeaseDaemon, exactly as `sanlock-ts daemon -D`; what differs:
 * - run dir: a fresh private one by default; the socket belongs to this process's user and the
 *   process never switches user;
 * - log lines go to the caller's sink (and LOG_DUMP), not to stderr;
 * - holders that are this process (self-kill.ts): when a lockspace fails they are told at once
 *   (lease-loss.ts: an AbortSignal per lease and a "lockspace-failed" event); if they still hold
 *   a lease of it when sanlock would SIGKILL a holder (last renewal + 8·io_timeout + kill grace,
 *   docs/algorithms.md §7.3), the process ends with SIGKILL. Holders in other processes get
 *   sanlock's signals as from the standalone daemon.
 *
 * The handle's `client` is made by the client class the caller passes (SanlockClient), so the
 * daemon package does not import @sanlock-ts/client (docs/architecture.md: daemon → core only).
 */
import { rmSync, writeSync } from "node:fs";
import type { DaemonLog } from "../log.js";
import { DaemonStartError, startLeaseDaemon, type RunningDaemon } from "../main.js";
import { LockspaceSet } from "../lockspaces/lockspace-set.js";
import type { Lockspace } from "../lockspaces/lockspace.js";
import { ProcessKillExecutor } from "../recovery/kill-executor.js";
import { socketPath } from "../run-dir.js";
import { createWatchdog } from "../watchdog/select.js";
import type { Watchdog } from "../watchdog/watchdog.js";
import { WatchdogError } from "../watchdog/errors.js";
import { EmbeddedDaemonError, EmbeddedErrorCode } from "./errors.js";
import { resolveEmbeddedOptions, type EmbeddedDaemonOptions } from "./embedded-options.js";
import { LeaseLoss, type LeaseLossEvents, type LockspaceLoss } from "./lease-loss.js";
import { EmbeddedKillExecutor } from "./self-kill.js";

export interface EmbeddedDaemon<C> {
  /** A client bound to this daemon's socket. */
  readonly client: C;
  readonly socketPath: string;
  readonly runDir: string;
  /**
   * Aborted as soon as the lease's lockspace fails or is removed (reason: LeaseLostError). Take it
   * right after the acquire; stop using what the lease guards when it fires, and release.
   */
  leaseSignal(lease: { readonly lockspace: string }): AbortSignal;
  on<E extends keyof LeaseLossEvents>(event: E, listener: (...args: LeaseLossEvents[E]) => void): this;
  off<E extends keyof LeaseLossEvents>(event: E, listener: (...args: LeaseLossEvents[E]) => void): this;
  /**
   * Forced shutdown (docs/wire.md §8.3): every lockspace is left, the socket closed. Release this
   * process's leases first: a lease still held at close is a holder of a removed lockspace, and
   * the process is ended as sanlock would SIGKILL it.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Writes a line to stderr synchronously: the last words before the process ends must not wait in a stream. */
function lastWords(line: string): void {
  try {
    writeSync(2, `${line}\n`);
  } catch {
    // stderr closed: nothing more to do before the kill
  }
}

function chooseWatchdog(choice: "none" | "device" | Watchdog, log: (line: string) => void): Watchdog {
  if (typeof choice === "object") return choice;
  try {
    return createWatchdog({ useWatchdog: choice === "device", log });
  } catch (error) {
    if (error instanceof WatchdogError) throw new EmbeddedDaemonError(EmbeddedErrorCode.START_FAILED, error.message, { cause: error.code });
    throw error;
  }
}

class EmbeddedDaemonHandle<C> extends LeaseLoss implements EmbeddedDaemon<C> {
  readonly client: C;
  readonly socketPath: string;
  private closing: Promise<void> | undefined;

  constructor(
    readonly runDir: string,
    private readonly running: RunningDaemon,
    clientClass: new (options: { socketPath: string }) => C,
    private readonly ownsRunDir: boolean,
  ) {
    super();
    this.socketPath = socketPath(runDir);
    this.client = new clientClass({ socketPath: this.socketPath });
  }

  leaseSignal(lease: { readonly lockspace: string }): AbortSignal {
    const engine = this.running.server.lockspaces;
    const ls = engine instanceof LockspaceSet ? engine.active(lease.lockspace) : undefined;
    return ls === undefined ? LeaseLoss.lostSignal(lease.lockspace) : this.signalOf(ls);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.running.server.requestShutdown(true);
    await this.running.exited;
    if (this.ownsRunDir) rmSync(this.runDir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Starts the daemon in this process; resolves once its socket accepts requests. */
export async function startEmbeddedDaemon<C>(options: EmbeddedDaemonOptions<C>): Promise<EmbeddedDaemon<C>> {
  const resolved = await resolveEmbeddedOptions(options);
  const sink = options.log ?? (() => undefined);
  const late: { handle?: LeaseLoss; log?: DaemonLog } = {};
  const killExecutor = new EmbeddedKillExecutor(new ProcessKillExecutor({ log: (line) => late.log?.error(line) }), {
    terminate: () => undefined, // told at the failure already (lockspaceFailed); the signal stays aborted
    kill: () => {
      const line = `kill ${process.pid} SIGKILL: this process holds leases of a lost lockspace, ending it (embedded daemon)`;
      // The daemon log gives the line to the caller's sink synchronously; without a sink it goes to stderr.
      late.log?.error(line);
      if (options.log === undefined || late.log === undefined) lastWords(line);
      process.kill(process.pid, "SIGKILL");
    },
  });
  let running: RunningDaemon;
  try {
    const watchdog = chooseWatchdog(options.watchdog ?? "device", sink);
    running = await startLeaseDaemon({
      settings: resolved.settings,
      environment: { runDir: resolved.runDir, privileged: false },
      configWarnings: resolved.configWarnings,
      stderr: { write: (text) => sink(text.replace(/\n$/, "")) },
      watchdog,
      engine: {
        killExecutor,
        lockspaceFailed: (ls: Lockspace, reason: string) => late.handle?.lost(ls, reason),
      },
    });
  } catch (error) {
    if (resolved.ownsRunDir) rmSync(resolved.runDir, { recursive: true, force: true });
    if (error instanceof DaemonStartError) throw new EmbeddedDaemonError(EmbeddedErrorCode.START_FAILED, error.message, { cause: error.code });
    if (error instanceof EmbeddedDaemonError) throw error;
    throw new EmbeddedDaemonError(EmbeddedErrorCode.START_FAILED, (error as Error).message);
  }
  const handle = new EmbeddedDaemonHandle(resolved.runDir, running, options.client, resolved.ownsRunDir);
  late.handle = handle;
  late.log = running.server.log;
  return handle;
}

export type { LockspaceLoss };
