// The instance side of the SAM API (docs/sam.md §5): what corosync's child process calls
// after sam_register returned — start, stop, heartbeats, the event-driven health check, the
// warn signal, the data store, mark_failed, finalize — over the channel to the supervisor,
// plus lease acquisition on the instance's own registered connection with continuity.
//
// The instance dies with its supervisor and with its daemon connection (docs/sam.md §4.2):
// channel EOF (supervisor gone) or EOF of the registered connection (daemon gone) → SIGKILL
// of its own process group, so no orphan keeps writing to shared storage.

import { Socket } from "node:net";
import { SanlockError } from "../errors.js";
import { SanlockClient } from "../client.js";
import type { Lease } from "../lease.js";
import type { Registration } from "../registration.js";
import { inquireRaw } from "../operations.js";
import { parseStateString, type ParsedResource } from "../resource-string.js";
import type { DiskInput } from "../validate.js";
import { CHANNEL_FD, LineChannel, NONE, Request, UNANSWERED, decodeData, encodeData, lineLimit, splitLine } from "./channel.js";
import { SamAbortedError, SamArgumentError, SamChannelError, SamDataTooBigError, SamLeaseChangedError, SamStateError } from "./errors.js";
import { SanlkResult } from "@sanlock-ts/core/results";
import { checkSignal, type Continuity, type RecoveryPolicy } from "./options.js";

export type WorkerState = "registered" | "started" | "finalized";

/** The hello lines (docs/sam.md §3.1). */
export interface Hello {
  readonly instanceId: number;
  readonly intervalMs: number;
  readonly policy: RecoveryPolicy;
  readonly continuity: Continuity;
  readonly warnSignal: NodeJS.Signals;
  readonly data: Uint8Array | undefined;
  readonly leases: string;
}

/** How often the worker checks that its registered connection is still open. */
const REGISTRATION_CHECK_MS = 250;
/** How often the worker checks its parent (PDEATHSIG may be set too late: docs/sam.md §4.2). */
const PARENT_CHECK_MS = 500;

type HealthCheck = (signal: AbortSignal) => boolean | Promise<boolean>;

interface PendingReply {
  resolve(line: string): void;
}

/** Reads the three hello lines from a fresh channel. */
export function readHello(lines: string[]): Hello {
  const [hello, data, leases] = lines;
  const h = /^SAM 1 (\d+) (\d+) (quit|restart) (none|lver|hold) (SIG[A-Z0-9]+)$/.exec(hello ?? "");
  const d = /^DATA (\S+)$/.exec(data ?? "");
  const l = /^LEASES (.+)$/.exec(leases ?? "");
  if (h === null || d === null || l === null) throw new SamChannelError(`bad hello ${JSON.stringify(lines).slice(0, 200)}`);
  const bytes = decodeData(d[1] as string);
  if (bytes === null) throw new SamChannelError("bad DATA in hello");
  return {
    instanceId: Number(h[1]),
    intervalMs: Number(h[2]),
    policy: h[3] as RecoveryPolicy,
    continuity: h[4] as Continuity,
    warnSignal: checkSignal("warnSignal", h[5]),
    data: bytes,
    leases: l[1] === NONE ? "" : (l[1] as string),
  };
}

export class SamWorker implements AsyncDisposable {
  private stateValue: WorkerState = "registered";
  private storedData: Uint8Array | undefined;
  private warnSignal: NodeJS.Signals;
  private warnHandler: (() => void) | undefined;
  private quorateValue = true;
  private readonly replies: PendingReply[] = [];
  private healthCheck: HealthCheck | null = null;
  /** SAM's status 3: the health check failed; no more heartbeats in this instance. */
  private healthFailed = false;
  private healthTimers: NodeJS.Timeout[] = [];
  private registration: Registration | undefined;
  private client: SanlockClient | undefined;
  private readonly lostController = new AbortController();
  private readonly watchers: NodeJS.Timeout[] = [];
  readonly instanceId: number;
  readonly previousLeases: readonly ParsedResource[];

  private constructor(
    private readonly channel: LineChannel,
    private readonly hello: Hello,
    private readonly maxDataBytes: number,
    private readonly sanlock: { runDir?: string; socketPath?: string },
  ) {
    this.instanceId = hello.instanceId;
    this.storedData = hello.data;
    this.warnSignal = hello.warnSignal;
    this.previousLeases = hello.leases === "" ? [] : parseStateString(hello.leases);
  }

  /**
   * Opens the channel on fd 3, reads the hello, and starts watching the supervisor.
   * `onLine` feeds later lines to the worker once it exists.
   */
  static async connect(maxDataBytes: number, sanlock: { runDir?: string; socketPath?: string }, supervisorPid: number): Promise<SamWorker> {
    const socket = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
    const early: string[] = [];
    let worker: SamWorker | undefined;
    let helloDone: (() => void) | undefined;
    let closedEarly: ((reason: string) => void) | undefined;
    const channel = new LineChannel(
      socket,
      lineLimit(maxDataBytes),
      (line) => {
        if (worker !== undefined) worker.onLine(line);
        else {
          early.push(line);
          if (early.length === 3) helloDone?.();
        }
      },
      (reason) => {
        if (worker !== undefined) worker.onChannelClosed(reason);
        else closedEarly?.(reason);
      },
    );
    await new Promise<void>((resolve, reject) => {
      helloDone = resolve;
      closedEarly = (reason) => reject(new SamChannelError(`closed before the hello: ${reason}`));
    });
    worker = new SamWorker(channel, readHello(early.slice(0, 3)), maxDataBytes, sanlock);
    for (const line of early.slice(3)) worker.onLine(line);
    worker.watchParent(supervisorPid);
    return worker;
  }

  get state(): WorkerState {
    return this.stateValue;
  }

  /** sam_data_restore / sam_data_getsize: a copy of the stored data (undefined = none). */
  get data(): Uint8Array | undefined {
    return this.storedData === undefined ? undefined : new Uint8Array(this.storedData);
  }

  /** The supervisor's last quorum report (true without QUORUM lockspaces). */
  get quorate(): boolean {
    return this.quorateValue;
  }

  get intervalMs(): number {
    return this.hello.intervalMs;
  }

  /** Aborted just before the instance kills itself because its supervisor or daemon is gone. */
  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  // ------------------------------------------------------------ SAM calls

  /** sam_start: the supervisor starts the deadline; waits while the host is not quorate. */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.requireState("start", ["registered"]);
    const reply = this.request(Request.START, options.signal);
    const answer = await reply;
    if (answer !== "OK") throw answerError("start", answer);
    this.stateValue = "started";
    this.scheduleHealthCheck();
  }

  /** sam_stop: no deadline until the next start. */
  async stop(): Promise<void> {
    this.requireState("stop", ["started"]);
    this.stateValue = "registered";
    this.cancelHealthCheck();
    const answer = await this.request(Request.STOP);
    if (answer !== "OK") throw answerError("stop", answer);
  }

  /** sam_hc_send: one heartbeat, written at once (no reply). */
  heartbeat(): void {
    this.requireState("heartbeat", ["started"]);
    this.send(Request.HB);
  }

  /**
   * sam_hc_callback_register: event-driven health checking. While started the library sends a
   * heartbeat every interval/4 while healthy and calls `fn` every interval; false, a throw or
   * no answer within the interval stops the heartbeats for the rest of this instance, and the
   * supervisor's deadline does the rest. `null` returns to heartbeat() mode.
   */
  setHealthCheck(fn: HealthCheck | null): void {
    this.requireState("setHealthCheck", ["registered"]);
    if (this.hello.intervalMs === 0) throw new SamArgumentError("intervalMs", "event-driven health checking needs an interval");
    if (fn === null && this.healthCheck === null) throw new SamArgumentError("fn", "null is only allowed after a callback was set");
    if (fn !== null && typeof fn !== "function") throw new SamArgumentError("fn", "must be a function or null");
    this.healthCheck = fn;
  }

  /** sam_warn_signal_set: the signal sent at a missed deadline, kept for later instances. */
  async setWarnSignal(signal: NodeJS.Signals): Promise<void> {
    this.requireState("setWarnSignal", ["registered", "started"]);
    const checked = checkSignal("signal", signal);
    const answer = await this.request(`${Request.WARN} ${checked}`);
    if (answer !== "OK") throw answerError("setWarnSignal", answer);
    const handler = this.warnHandler;
    if (handler !== undefined) this.moveWarnHandler(this.warnSignal, checked, handler);
    this.warnSignal = checked;
  }

  /**
   * Installs `handler` for the current warn signal (and the ones set later). Without it the
   * warn signal's default action ends the process at the warning.
   */
  onWarn(handler: () => void): void {
    this.requireState("onWarn", ["registered", "started"]);
    const old = this.warnHandler;
    if (old !== undefined) process.removeListener(this.warnSignal, old);
    this.warnHandler = handler;
    if (this.warnSignal !== "SIGKILL") process.on(this.warnSignal, handler);
  }

  /** sam_data_store: data the next instances get; null deletes it. */
  async store(data: Uint8Array | null): Promise<void> {
    this.requireState("store", ["registered", "started"]);
    if (data !== null && !(data instanceof Uint8Array)) throw new SamArgumentError("data", "must be a Uint8Array or null");
    if (data !== null && data.byteLength > this.maxDataBytes) throw new SamDataTooBigError(data.byteLength, this.maxDataBytes);
    const answer = await this.request(`${Request.STORE} ${encodeData(data ?? undefined)}`);
    if (answer !== "OK") throw answerError("store", answer);
    this.storedData = data === null ? undefined : new Uint8Array(data);
  }

  /** sam_mark_failed: the supervisor SIGKILLs this instance at once and does not restart it. */
  async markFailed(): Promise<never> {
    this.requireState("markFailed", ["registered", "started"]);
    this.send(Request.FAILED);
    return new Promise<never>(() => undefined); // SIGKILL follows
  }

  /** sam_finalize: stops if started; no SAM call works afterwards; the channel is closed. */
  async finalize(): Promise<void> {
    this.requireState("finalize", ["registered", "started"]);
    this.cancelHealthCheck();
    if (this.stateValue === "started") await this.request(Request.FINALIZE);
    this.stateValue = "finalized";
    for (const w of this.watchers) clearInterval(w);
    this.channel.close("finalized");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.stateValue !== "finalized") await this.finalize();
  }

  // ------------------------------------------------------------ leases

  /**
   * Acquires a lease on this instance's own registered connection (opened at the first
   * call). With continuity "lver" and a lease of the same name held by the previous
   * instance, the acquire requires that lease version: a lease another host took in between
   * is refused with SamLeaseChangedError; `fresh: true` skips the check.
   */
  async acquire(
    lockspace: string,
    resource: string,
    disks: DiskInput[],
    options: { shared?: boolean; lvb?: boolean; fresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<Lease> {
    this.requireState("acquire", ["registered", "started"]);
    const { client, registration } = await this.registered();
    const previous = this.previousLeases.find((p) => p.lockspace === lockspace && p.resource === resource);
    const continuity = this.hello.continuity;
    // lver and hold: the lease version the previous instance left (RES_LVER); a shared lease has none.
    const checkVersion = continuity !== "none" && !options.fresh && !options.shared && previous !== undefined && previous.version > 0n;
    const hold = continuity === "hold";
    let lease: Lease;
    try {
      lease = await client.acquire(lockspace, resource, disks, {
        registration,
        shared: options.shared,
        lvb: options.lvb,
        version: checkVersion ? previous.version : undefined,
        // hold: persistent, so the daemon keeps it as an orphan when this instance dies, and
        // ACQUIRE_ORPHAN, so the next instance adopts that orphan without disk I/O.
        persistent: hold,
        orphan: hold && previous !== undefined,
        signal: options.signal,
      });
    } catch (err) {
      if (err instanceof SanlockError && err.result === SanlkResult.ACQUIRE_LVER) throw new SamLeaseChangedError(lockspace, resource, err);
      throw err;
    }
    await this.reportLeases();
    return lease;
  }

  /** Tells the supervisor which leases this instance holds (INQUIRE), for the next instance. */
  async reportLeases(): Promise<void> {
    const { client, registration } = await this.registered();
    const raw = await inquireRaw({ socketPath: client.socketPath, timeoutMs: 30_000 }, { registration });
    const answer = await this.request(`${Request.LEASES} ${raw.state === "" ? NONE : raw.state}`);
    if (answer !== "OK") throw answerError("reportLeases", answer);
  }

  /**
   * The instance's registered connection (opened at the first call): leases acquired here
   * belong to this process and, when it execs a program keeping the socket, to that program
   * (the CLI's lease holder does so).
   */
  async openRegistration(): Promise<Registration> {
    this.requireState("openRegistration", ["registered", "started"]);
    return (await this.registered()).registration;
  }

  private async registered(): Promise<{ client: SanlockClient; registration: Registration }> {
    this.client ??= new SanlockClient(this.sanlock);
    if (this.registration === undefined) {
      this.registration = await this.client.register();
      const registration = this.registration;
      // EOF of the registered connection = the daemon is gone: die rather than run on without leases.
      this.watchers.push(
        setInterval(() => {
          if (!registration.isOpen) this.die("the daemon closed the registered connection");
        }, REGISTRATION_CHECK_MS),
      );
    }
    return { client: this.client, registration: this.registration };
  }

  // ------------------------------------------------------------ channel

  private requireState(call: string, allowed: readonly WorkerState[]): void {
    if (!allowed.includes(this.stateValue)) throw new SamStateError(call, this.stateValue);
  }

  private send(line: string): void {
    if (!this.channel.send(line)) throw new SamChannelError("the supervisor is gone");
  }

  private request(line: string, signal?: AbortSignal): Promise<string> {
    if (signal?.aborted) return Promise.reject(new SamAbortedError(splitLine(line)[0]));
    this.send(line);
    assertAnswered(line);
    return new Promise<string>((resolve, reject) => {
      const entry: PendingReply = { resolve };
      this.replies.push(entry);
      if (signal === undefined) return;
      // Abort of a waiting START: STOP makes the supervisor answer it "ERR ABORTED".
      signal.addEventListener(
        "abort",
        () => {
          if (!this.replies.includes(entry)) return;
          this.channel.send(Request.STOP);
          this.replies.splice(this.replies.indexOf(entry) + 1, 0, { resolve: () => undefined });
          reject(new SamAbortedError("start", signal.reason));
        },
        { once: true },
      );
    });
  }

  private onLine(line: string): void {
    const [word, rest] = splitLine(line);
    if (word === "QUORUM") {
      this.quorateValue = rest === "1";
      return;
    }
    this.replies.shift()?.resolve(line);
  }

  private onChannelClosed(reason: string): void {
    for (const r of this.replies.splice(0)) r.resolve(`ERR CHANNEL ${reason}`);
    if (this.stateValue !== "finalized") this.die(`the supervisor channel closed (${reason})`);
  }

  private watchParent(supervisorPid: number): void {
    if (!(supervisorPid > 0)) return;
    if (process.ppid !== supervisorPid) this.die("the supervisor exited before this instance started");
    const timer = setInterval(() => {
      if (process.ppid !== supervisorPid) this.die("the supervisor is gone");
    }, PARENT_CHECK_MS);
    timer.unref();
    this.watchers.push(timer);
  }

  /** docs/sam.md §4.2 rule 4: no instance runs on without its supervisor or daemon. */
  private die(reason: string): void {
    this.lostController.abort(new SamChannelError(reason));
    process.stderr.write(`sam: instance ${this.instanceId}: ${reason}; killing itself\n`);
    try {
      process.kill(-process.pid, "SIGKILL");
    } catch {
      // not a group leader (started by hand): the process alone
    }
    process.kill(process.pid, "SIGKILL");
  }

  // ------------------------------------------------------------ event-driven health checking

  private scheduleHealthCheck(): void {
    const fn = this.healthCheck;
    if (fn === null || this.healthFailed) return;
    const interval = this.hello.intervalMs;
    const beat = (): void => {
      if (!this.healthFailed && this.stateValue === "started") this.channel.send(Request.HB);
    };
    this.healthTimers.push(setInterval(beat, Math.max(1, Math.floor(interval / 4))));
    this.healthTimers.push(setInterval(() => void this.runHealthCheck(fn, interval), interval));
  }

  private async runHealthCheck(fn: HealthCheck, interval: number): Promise<void> {
    if (this.healthFailed) return;
    const timeout = AbortSignal.timeout(interval);
    let healthy: boolean;
    try {
      healthy = await Promise.race([
        Promise.resolve(fn(timeout)),
        new Promise<boolean>((resolve) => timeout.addEventListener("abort", () => resolve(false), { once: true })),
      ]);
    } catch {
      healthy = false;
    }
    if (!healthy && !this.healthFailed) {
      this.healthFailed = true; // SAM status 3: heartbeats end for this instance
      this.cancelHealthCheck();
    }
  }

  private cancelHealthCheck(): void {
    for (const t of this.healthTimers.splice(0)) clearInterval(t);
  }

  private moveWarnHandler(from: NodeJS.Signals, to: NodeJS.Signals, handler: () => void): void {
    if (from !== "SIGKILL") process.removeListener(from, handler);
    if (to !== "SIGKILL") process.on(to, handler);
  }
}

function assertAnswered(line: string): void {
  if (UNANSWERED.has(splitLine(line)[0])) throw new Error(`${line} gets no reply`);
}

function answerError(call: string, answer: string): Error {
  if (answer === "ERR TOO_BIG") return new SamChannelError(`${call}: the supervisor refused the data as too big`);
  if (answer.startsWith("ERR ABORTED")) return new SamAbortedError(call);
  return new SamChannelError(`${call}: ${answer}`);
}
