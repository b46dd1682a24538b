// One instance as its supervisor sees it (docs/sam.md §4): spawned in its own process group
// under PDEATHSIG, talked to over the channel, warned and killed by the rules of corosync's
// sam_parent_handler, and reaped. The supervisor loop (supervisor.ts) spawns the next one only
// after this one's `exited` resolved: never two instances at once.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import type { Duplex } from "node:stream";
import {
  CHANNEL_FD,
  ENV_FD,
  ENV_INSTANCE,
  ENV_INTERVAL,
  ENV_SUPERVISOR_PID,
  LineChannel,
  NONE,
  PROTOCOL_VERSION,
  Request,
  decodeData,
  encodeData,
  lineLimit,
  splitLine,
} from "./channel.js";
import type { KillReason, SamEvent } from "./events.js";
import { HealthCommand, type HealthCommandSpec } from "./health-command.js";
import { checkSignal, type ResolvedOptions } from "./options.js";

/** What to run as an instance (the script again, or the CLI's lease holder). */
export interface InstanceCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** registered = spawned, or stopped (SAM's REGISTERED, published "stopped"). */
export type Phase = "registered" | "waiting-quorum" | "running" | "warned" | "killing";

export interface InstanceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The phase when it exited. */
  readonly phase: Phase;
  /** Whether it counts as started (a recovery on exit), see `Instance.started`. */
  readonly started: boolean;
  readonly markedFailed: boolean;
  /** Spawn or channel failure (not the instance's doing). */
  readonly internalError: string | undefined;
}

/** The supervisor's state an instance reads and changes (data, warn signal, leases, quorum). */
export interface SharedState {
  data: Uint8Array | undefined;
  warnSignal: NodeJS.Signals;
  leases: string;
  quorate(): boolean;
  quorumReason(): string;
  emit(event: SamEvent): void;
  /** A change the status file must show now (state) or soon (last_updated). */
  touched(urgent: boolean): void;
  /** Saves data, warn signal and leases to the state file, if any; the error text, or undefined. */
  persist(): string | undefined;
}

/** SIGKILL is repeated this often while the instance has not been reaped (D state). */
const KILL_REPEAT_MS = 1000;
const SETPRIV_PATHS = ["/usr/bin/setpriv", "/bin/setpriv"];

function setprivPath(): string | undefined {
  return SETPRIV_PATHS.find((p) => existsSync(p));
}

export class Instance {
  readonly child: ChildProcess;
  readonly exited: Promise<InstanceExit>;
  phase: Phase = "registered";
  /** SAM's term_send: a warning was sent in this instance; the next miss is SIGKILL. */
  private warnedOnce = false;
  private markedFailed = false;
  /** Counts as started for its exit: from START to STOP, or from spawn with autoStart. */
  private started: boolean;
  private internalError: string | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private killAt: NodeJS.Timeout | undefined;
  private killRepeat: NodeJS.Timeout | undefined;
  private readonly channel: LineChannel;
  private readonly health: HealthCommand | undefined;
  /** CLOCK_MONOTONIC ns of the last line from the instance (CMAP last_updated). */
  lastUpdatedNs = process.hrtime.bigint();

  constructor(
    readonly id: number,
    private readonly options: ResolvedOptions,
    command: InstanceCommand,
    private readonly shared: SharedState,
    autoStart: boolean,
    healthCommand?: HealthCommandSpec,
  ) {
    this.started = autoStart;
    this.child = spawnInstance(id, options, command);
    this.health =
      healthCommand === undefined
        ? undefined
        : new HealthCommand(
            healthCommand,
            options.intervalMs,
            { [ENV_INSTANCE]: String(id), SANLOCK_TS_SAM_PID: String(this.child.pid ?? "") },
            () => this.onLine(Request.HB),
            (problem) => process.stderr.write(`sam: instance ${id}: health command failed (${problem}); no more heartbeats\n`),
          );
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.clearTimers();
        this.channel.close("instance exited");
        resolve({ code, signal, phase: this.phase, started: this.started, markedFailed: this.markedFailed, internalError: this.internalError });
      });
      this.child.once("error", (err) => {
        // Spawn failed (no exit event follows when the process never existed).
        if (this.child.pid !== undefined) return;
        this.internalError = `spawn failed: ${err.message}`;
        this.clearTimers();
        resolve({ code: null, signal: null, phase: this.phase, started: false, markedFailed: false, internalError: this.internalError });
      });
    });
    const stream = this.child.stdio[CHANNEL_FD] as Duplex | null | undefined;
    if (stream === null || stream === undefined) throw new Error("instance spawned without its channel");
    this.channel = new LineChannel(
      stream,
      lineLimit(options.maxDataBytes),
      (line) => this.onLine(line),
      () => undefined,
    );
    this.sendHello();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The published CMAP state of this instance. */
  get publishedState(): "stopped" | "running" | "waiting for quorum" {
    if (this.phase === "registered") return "stopped";
    if (this.phase === "waiting-quorum") return "waiting for quorum";
    return "running";
  }

  private sendHello(): void {
    const o = this.options;
    this.channel.send(`SAM ${PROTOCOL_VERSION} ${this.id} ${o.intervalMs} ${o.policy} ${o.continuity} ${this.shared.warnSignal}`);
    this.channel.send(`DATA ${encodeData(this.shared.data)}`);
    this.channel.send(`LEASES ${this.shared.leases === "" ? NONE : this.shared.leases}`);
  }

  // ------------------------------------------------------------ lines from the instance

  private onLine(line: string): void {
    this.lastUpdatedNs = process.hrtime.bigint();
    this.shared.touched(false);
    if (this.phase === "running" || this.phase === "warned") {
      // Any line is a sign of life (SAM); a warned instance is running again, but its
      // warning stays counted (term_send): its next miss is SIGKILL.
      this.phase = "running";
      this.armDeadline();
    }
    const [word, rest] = splitLine(line);
    this.handlerOf(word)(rest);
  }

  /** What each request does; an unknown word gets ERR BAD_ARGUMENT (docs/sam.md §3.2). */
  private handlerOf(word: string): (rest: string) => void {
    switch (word) {
      case Request.HB:
        return () => undefined; // the sign of life above is all it does
      case Request.FAILED:
        return () => this.markFailed();
      case Request.START:
        return () => this.onStart();
      case Request.STOP:
      case Request.FINALIZE:
        return () => this.onStop();
      case Request.STORE:
        return (rest) => this.onStore(rest);
      case Request.WARN:
        return (rest) => this.onWarnSignal(rest);
      case Request.LEASES:
        return (rest) => this.onLeases(rest);
      default:
        return () => this.reply("ERR BAD_ARGUMENT");
    }
  }

  private onLeases(text: string): void {
    this.shared.leases = text === NONE ? "" : text;
    // The leases are held whatever the file says: kept in memory for the next instance even
    // when the state file cannot be written (the supervisor warns).
    this.shared.persist();
    this.shared.emit({ type: "leases", instanceId: this.id, leases: this.shared.leases });
    this.shared.touched(true);
    this.reply("OK");
  }

  private reply(line: string): void {
    this.channel.send(line);
  }

  private onStart(): void {
    if (this.phase !== "registered") {
      this.reply("ERR STATE");
      return;
    }
    this.started = true;
    if (!this.shared.quorate()) {
      this.phase = "waiting-quorum";
      this.shared.emit({ type: "waiting", instanceId: this.id, reason: this.shared.quorumReason() });
      this.shared.touched(true);
      return; // the reply waits for quorum (SAM's sam_parent_wait_for_quorum)
    }
    this.enterRunning();
  }

  private enterRunning(): void {
    this.phase = "running";
    this.armDeadline();
    this.health?.start();
    this.reply("OK");
    this.shared.emit({ type: "started", instanceId: this.id });
    this.shared.touched(true);
  }

  private onStop(): void {
    if (this.phase === "killing") {
      this.reply("ERR STATE");
      return;
    }
    if (this.phase === "waiting-quorum") this.reply("ERR ABORTED"); // the pending START's answer
    if (this.phase !== "registered") {
      this.phase = "registered";
      this.started = false;
      this.health?.stop();
      this.clearDeadline();
      clearTimeout(this.killAt);
      this.shared.emit({ type: "stopped", instanceId: this.id });
      this.shared.touched(true);
    }
    this.reply("OK");
  }

  private onStore(text: string): void {
    const data = decodeData(text);
    if (data === null) {
      this.reply("ERR BAD_ARGUMENT");
      return;
    }
    if (data !== undefined && data.byteLength > this.options.maxDataBytes) {
      this.reply("ERR TOO_BIG");
      return;
    }
    const previous = this.shared.data;
    this.shared.data = data;
    if (this.shared.persist() !== undefined) {
      this.shared.data = previous; // memory and state file keep agreeing
      this.reply("ERR SAVE");
      return;
    }
    this.reply("OK");
  }

  private onWarnSignal(text: string): void {
    let signal: NodeJS.Signals;
    try {
      signal = checkSignal("signal", text);
    } catch {
      this.reply("ERR BAD_ARGUMENT");
      return;
    }
    const previous = this.shared.warnSignal;
    this.shared.warnSignal = signal;
    if (this.shared.persist() !== undefined) {
      this.shared.warnSignal = previous;
      this.reply("ERR SAVE");
      return;
    }
    this.reply("OK");
  }

  // ------------------------------------------------------------ quorum

  /** The supervisor's quorum changed. */
  onQuorum(quorate: boolean): void {
    this.channel.send(`QUORUM ${quorate ? 1 : 0}`);
    if (quorate) {
      clearTimeout(this.killAt);
      this.killAt = undefined;
      if (this.phase === "waiting-quorum") this.enterRunning();
      return;
    }
    if (this.phase !== "running" && this.phase !== "warned") return;
    this.warnOrKill("quorum");
    if ((this.phase as Phase) === "killing") return;
    // Still inquorate one interval (or killAfterMs) after the warning → SIGKILL, whatever the
    // instance sends meanwhile (SAM waits for "the next event": made deterministic here).
    const wait = this.options.intervalMs > 0 ? this.options.intervalMs : this.options.killAfterMs;
    clearTimeout(this.killAt);
    this.killAt = setTimeout(() => {
      if (!this.shared.quorate()) this.kill("quorum");
    }, wait);
  }

  // ------------------------------------------------------------ warning and killing

  private armDeadline(): void {
    this.clearDeadline();
    if (this.options.intervalMs === 0) return;
    const timer = setTimeout(() => {
      // Decided one event-loop turn later (setImmediate runs after the poll phase): when the
      // loop ran late, the timer phase comes before the poll phase that reports what already
      // happened in time, a line from the instance or its exit after our warning. Deciding in
      // the timer sent SIGKILL to an instance that had already died of the warning (a loaded
      // CI run of sam-supervisor.test.ts). A line or exit handled meanwhile replaces or clears
      // this.deadline, and the stale decision is dropped.
      setImmediate(() => {
        if (this.deadline === timer) this.onDeadline();
      });
    }, this.options.intervalMs);
    this.deadline = timer;
  }

  private clearDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private onDeadline(): void {
    if (this.phase !== "running" && this.phase !== "warned") return;
    this.warnOrKill("health");
    if (this.phase === "warned") this.armDeadline();
  }

  /** SAM's first miss: the warn signal; a second one (term_send set), or SIGKILL as warn signal: SIGKILL. */
  private warnOrKill(reason: KillReason): void {
    const signal = this.shared.warnSignal;
    if (this.warnedOnce || signal === "SIGKILL") {
      this.kill(reason);
      return;
    }
    this.warnedOnce = true;
    this.phase = "warned";
    this.signalGroup(signal);
    this.shared.emit({ type: "warned", instanceId: this.id, signal, reason });
  }

  /** sam_mark_failed: SIGKILL at once, no warning, and no restart afterwards. */
  markFailed(): void {
    this.markedFailed = true;
    this.kill("mark_failed");
  }

  /** SIGKILL to the group, repeated every second until the instance is reaped. */
  kill(reason: KillReason): void {
    if (this.phase === "killing") return;
    this.phase = "killing";
    this.health?.stop();
    this.clearDeadline();
    clearTimeout(this.killAt);
    this.signalGroup("SIGKILL");
    this.shared.emit({ type: "killed", instanceId: this.id, signal: "SIGKILL", reason });
    this.killRepeat = setInterval(() => this.signalGroup("SIGKILL"), KILL_REPEAT_MS);
  }

  /** A stop request of the supervisor: SIGTERM now, SIGKILL after `graceMs`. */
  terminate(graceMs: number): void {
    if (this.phase === "killing") return;
    this.signalGroup("SIGTERM");
    this.clearDeadline();
    clearTimeout(this.killAt);
    this.killAt = setTimeout(() => this.kill("stop"), graceMs);
  }

  /** Marks an internal error and kills the instance. */
  fail(problem: string): void {
    this.internalError ??= problem;
    this.kill("internal");
  }

  /**
   * Signals the instance's process group (its pid: spawned as a group leader). The instance
   * is not reaped yet when this runs (the exit handler clears every timer), so its pid, and
   * with it the group id, cannot have been reused by another process.
   */
  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal); // the group is gone but the leader not yet reaped
      } catch {
        // already gone
      }
    }
  }

  private clearTimers(): void {
    this.health?.stop();
    this.clearDeadline();
    clearTimeout(this.killAt);
    clearInterval(this.killRepeat);
  }
}

/**
 * Spawns the instance as the leader of a new process group (detached: setsid), its channel on
 * fd 3, under `setpriv --pdeathsig KILL` when setpriv exists, so that the instance dies with
 * the supervisor even if the supervisor is SIGKILLed (docs/sam.md §4.2). PDEATHSIG survives
 * the exec of setpriv into the instance's program (not set-user-ID).
 */
function spawnInstance(id: number, o: ResolvedOptions, command: InstanceCommand): ChildProcess {
  const env = {
    ...process.env,
    ...command.env,
    [ENV_FD]: String(CHANNEL_FD),
    [ENV_INSTANCE]: String(id),
    [ENV_INTERVAL]: String(o.intervalMs),
    [ENV_SUPERVISOR_PID]: String(process.pid),
  };
  const setpriv = setprivPath();
  const [file, args] = setpriv === undefined ? [command.file, command.args] : [setpriv, ["--pdeathsig", "KILL", "--", command.file, ...command.args]];
  return spawn(file, args, {
    env,
    cwd: command.cwd,
    detached: true,
    stdio: ["inherit", "inherit", "inherit", "pipe"],
  });
}
