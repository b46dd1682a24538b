// The supervisor loop (docs/sam.md §4): SAM's parent process. It spawns instance 1, 2, …
// one at a time, and on each exit decides as corosync's sam_register does after its
// parent handler: quit cleanly (the instance exited while not started), restart (RESTART
// policy, after a delay and within the restart limit), or fail (QUIT policy, mark_failed,
// restart limit). It publishes its state in the status store (CMAP) and polls the quorum.

import { constants } from "node:os";
import { resolveSocketPath } from "../socket-path.js";
import type { FailReason, SamEvent, SamOutcome } from "./events.js";
import type { HealthCommandSpec } from "./health-command.js";
import { Instance, type InstanceCommand, type InstanceExit, type SharedState } from "./instance.js";
import { quorumPollMs, QuorumWatcher, type QuorumState } from "./quorum.js";
import type { ResolvedOptions } from "./options.js";
import { releaseOrphans } from "./orphans.js";
import { RestartCounter } from "./restart-limit.js";
import { loadState, saveState, type SavedState } from "./state-file.js";
import { StatusStore, type PublishedState, type StatusEntry } from "./status-store.js";

export interface SupervisorRun {
  readonly options: ResolvedOptions;
  readonly command: InstanceCommand;
  /** The instance counts as started from its spawn (the CLI's --start auto). */
  readonly autoStart: boolean;
  /** Run by the supervisor instead of heartbeats from the instance (docs/sam.md §9.1). */
  readonly healthCommand?: HealthCommandSpec | undefined;
  /** Aborting it is a stop request (as SIGTERM to `sanlock-ts supervise`). */
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: SamEvent) => void) | undefined;
  /** Where warnings about the supervisor itself go (default: stderr). */
  readonly warn?: ((line: string) => void) | undefined;
}

/** A stop request gives the instance this long after SIGTERM (at least), then SIGKILL. */
const MIN_STOP_GRACE_MS = 10_000;
/** last_updated is written at most this often (CMAP wrote it on every message). */
const LAST_UPDATED_WRITE_MS = 1000;
const MAX_INSTANCE_ID = 0xffff_ffff;

/** SAM's exit status of a supervisor, except that a killed instance gives 128 + signal (SAM: 0). */
export function exitStatusOf(exit: { code: number | null; signal: NodeJS.Signals | null }): number {
  if (exit.code !== null) return exit.code;
  if (exit.signal !== null) return 128 + constants.signals[exit.signal];
  return 1;
}

export class Supervisor {
  private readonly options: ResolvedOptions;
  private readonly store: StatusStore | undefined;
  private readonly quorum: QuorumWatcher;
  private readonly restarts: RestartCounter;
  private readonly shared: SharedState;
  private instance: Instance | undefined;
  private instanceId = 0;
  private restartCount = 0;
  private stopRequested = false;
  private lastExit: StatusEntry["last_exit"] = null;
  private published: PublishedState = "stopped";
  private lastWriteMs = 0;
  private writeTimer: NodeJS.Timeout | undefined;
  private readonly name: string;
  private readonly socketPath: string;
  private readonly warn: (line: string) => void;

  constructor(private readonly run: SupervisorRun) {
    this.options = run.options;
    this.restarts = new RestartCounter(this.options.restartLimit);
    const warn = run.warn ?? ((line: string) => process.stderr.write(`sam: ${line}\n`));
    this.warn = warn;
    this.name = this.options.status?.name ?? `${command0(run.command)}`;
    this.store = this.options.status === null ? undefined : StatusStore.open(this.options.status.dir, process.pid, warn);
    const socketPath = resolveSocketPath(this.options.sanlock);
    this.socketPath = socketPath;
    this.quorum = new QuorumWatcher(socketPath, this.options.quorum, quorumPollMs(this.options.intervalMs), (s) => this.onQuorum(s));
    // A state file of an earlier supervisor wins over the options: it holds later stores.
    const saved: SavedState | undefined = this.options.stateFile === undefined ? undefined : loadState(this.options.stateFile, this.options.maxDataBytes);
    this.shared = {
      data: saved === undefined ? this.options.initialData : saved.data,
      warnSignal: saved?.warnSignal ?? this.options.warnSignal,
      leases: saved?.leases ?? "",
      quorate: () => this.quorum.state.quorate,
      quorumReason: () => this.quorum.state.reason ?? "",
      emit: (e) => this.emit(e),
      touched: (urgent) => this.touched(urgent),
      persist: () => this.persist(),
    };
  }

  /** Writes the shared state to the state file (docs/sam.md §8.1); the problem, or undefined. */
  private persist(): string | undefined {
    const path = this.options.stateFile;
    if (path === undefined) return undefined;
    try {
      saveState(path, this.shared);
      return undefined;
    } catch (err) {
      const problem = `cannot write the state file ${path}: ${(err as Error).message}`;
      this.warn(problem);
      return problem;
    }
  }

  /** Runs instances until the policy says stop; never two at once. */
  async supervise(): Promise<SamOutcome> {
    const onAbort = (): void => this.requestStop();
    this.run.signal?.addEventListener("abort", onAbort, { once: true });
    this.quorum.start();
    try {
      return await this.loop();
    } finally {
      this.run.signal?.removeEventListener("abort", onAbort);
      this.quorum.stop();
      clearTimeout(this.writeTimer);
    }
  }

  /** SIGTERM/SIGINT to the supervisor: end the instance, no restart. */
  requestStop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.instance?.terminate(Math.max(2 * this.options.intervalMs, MIN_STOP_GRACE_MS));
  }

  private async loop(): Promise<SamOutcome> {
    if (this.run.signal?.aborted) this.stopRequested = true;
    for (;;) {
      if (this.stopRequested) return this.finish("stopped", undefined, 0);
      this.instanceId = this.instanceId >= MAX_INSTANCE_ID ? 0 : this.instanceId + 1; // wraps as SAM's unsigned counter
      const instance = new Instance(this.instanceId, this.options, this.run.command, this.shared, this.run.autoStart, this.run.healthCommand);
      this.instance = instance;
      if (instance.pid !== undefined) this.emit({ type: "spawned", instanceId: this.instanceId, pid: instance.pid });
      this.touched(true);
      if (this.stopRequested) instance.terminate(MIN_STOP_GRACE_MS);
      const exit = await instance.exited; // reaped: only now may another instance start
      this.instance = undefined;
      const exitCode = exitStatusOf(exit);
      this.recordExit(exit, instance.pid ?? 0);
      const decision = this.decide(exit);
      if (decision.kind !== "restart") await this.releaseHeldLeases(instance.pid);
      if (decision.kind === "clean") return this.finish("clean", undefined, exitCode);
      if (decision.kind === "stopped") return this.finish("stopped", undefined, exitCode);
      if (decision.kind === "failed") return this.finish("failed", decision.reason, exit.internalError === undefined ? exitCode : 1, exit.internalError);
      this.restartCount++;
      this.emit({ type: "restarting", instanceId: this.instanceId + 1, delayMs: this.options.restartDelayMs });
      this.touched(true);
      await this.delay(this.options.restartDelayMs);
      await this.quorum.refresh(); // the next instance starts on a fresh answer, not the last poll's
    }
  }

  /** What an instance's exit means (docs/sam.md §4.4). */
  private decide(exit: InstanceExit): { kind: "clean" | "stopped" | "restart" } | { kind: "failed"; reason: FailReason } {
    if (exit.internalError !== undefined) return { kind: "failed", reason: "internal" };
    if (exit.markedFailed) return { kind: "failed", reason: "mark_failed" };
    if (this.stopRequested) return { kind: "stopped" };
    const clean = !exit.started || (exit.code !== null && this.options.successExitCodes.includes(exit.code));
    if (clean) return { kind: "clean" };
    if (this.options.policy === "quit") return { kind: "failed", reason: "policy" };
    if (!this.restarts.tryRestart(Date.now())) return { kind: "failed", reason: "restart_limit" };
    return { kind: "restart" };
  }

  /** Continuity hold: no instance will adopt the orphans any more (docs/sam.md §7). */
  private async releaseHeldLeases(pid: number | undefined): Promise<void> {
    if (this.options.continuity !== "hold" || this.shared.leases === "") return;
    const result = await releaseOrphans(this.socketPath, this.shared.leases, pid);
    if (typeof result === "string") this.warn(`could not release the orphans ${this.shared.leases}: ${result}`);
  }

  private recordExit(exit: InstanceExit, pid: number): void {
    this.emit({ type: "exited", instanceId: this.instanceId, pid, code: exit.code, signal: exit.signal, phase: exit.phase });
    const reason = exit.internalError ?? (exit.markedFailed ? "mark_failed" : exit.started ? "recovery" : "exit");
    this.lastExit = { instance_id: this.instanceId, code: exit.code, signal: exit.signal, reason };
  }

  private finish(reason: SamOutcome["reason"], failure: FailReason | undefined, exitCode: number, message?: string): SamOutcome {
    if (reason === "failed") {
      this.emit({ type: "failed", reason: failure ?? "internal", message });
      this.published = "failed";
      this.writeStatus();
    } else {
      this.store?.delete(); // SAM deletes its CMAP keys on a clean quit
    }
    this.emit({ type: "quit", exitCode });
    return { reason, failure, exitCode, instanceId: this.instanceId };
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.run.signal;
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  private onQuorum(state: QuorumState): void {
    this.emit({ type: "quorum", quorate: state.quorate, reason: state.reason });
    this.instance?.onQuorum(state.quorate);
    this.touched(true);
  }

  private emit(event: SamEvent): void {
    try {
      this.run.onEvent?.(event);
    } catch {
      // a throwing observer must not stop supervision
    }
  }

  // ------------------------------------------------------------ status store

  private touched(urgent: boolean): void {
    if (this.store === undefined) return;
    const state = this.instance?.publishedState ?? this.published;
    if (state !== this.published) urgent = true;
    this.published = state;
    const now = Date.now();
    if (urgent || now - this.lastWriteMs >= LAST_UPDATED_WRITE_MS) {
      this.writeStatus();
      return;
    }
    this.writeTimer ??= setTimeout(
      () => {
        this.writeTimer = undefined;
        this.writeStatus();
      },
      LAST_UPDATED_WRITE_MS - (now - this.lastWriteMs),
    );
  }

  private writeStatus(): void {
    if (this.store === undefined) return;
    this.lastWriteMs = Date.now();
    const quorum: Record<string, boolean> = {};
    for (const e of this.options.quorum) quorum[e.lockspace] = this.quorum.state.quorate;
    this.store.write({
      version: 1,
      name: this.name,
      supervisor_pid: process.pid,
      recovery: this.options.policy,
      poll_period: this.options.intervalMs,
      last_updated: String(this.instance?.lastUpdatedNs ?? process.hrtime.bigint()),
      state: this.published,
      instance_id: this.instanceId,
      worker_pid: this.instance?.pid ?? null,
      restarts: this.restartCount,
      quorum,
      leases: this.shared.leases,
      last_exit: this.lastExit,
    });
  }
}

function command0(command: InstanceCommand): string {
  const last = command.args.at(-1) ?? command.file;
  return (last.split("/").at(-1) ?? "instance").slice(0, 64);
}
