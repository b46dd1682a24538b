// Sam.initialize and register (docs/sam.md §5): the entry of the SAM API. Node cannot fork,
// so corosync's "sam_register returns in a fresh child" becomes: the supervisor re-executes
// this script (same node, execArgv, argv, cwd, environment plus SANLOCK_TS_SAM_*), and in that
// instance register() returns a SamWorker at once. Code before register() runs in the
// supervisor and again in every instance: it must have no side effects.

import { basename } from "node:path";
import { ENV_FD, ENV_SUPERVISOR_PID, SAM_ENV_NAMES } from "./channel.js";
import { SamStateError } from "./errors.js";
import type { SamEvent } from "./events.js";
import { resolveOptions, type ResolvedOptions, type SamOptions } from "./options.js";
import { Supervisor } from "./supervisor.js";
import { SamWorker } from "./worker.js";

let initialized = false;

export class Sam {
  private registered = false;

  private constructor(
    readonly options: ResolvedOptions,
    /** supervisor: this process runs the instances; worker: this process is one. */
    readonly role: "supervisor" | "worker",
    private readonly onEvent: ((event: SamEvent) => void) | undefined,
  ) {}

  /**
   * sam_initialize: checks the options (SamArgumentError, libsam CS_ERR_INVALID_PARAM) and
   * decides the role from the environment. A second call in a process is SamStateError, as
   * libsam's second sam_initialize (also after finalize).
   */
  static async initialize(options: SamOptions & { onEvent?: (event: SamEvent) => void }): Promise<Sam> {
    const resolved = resolveOptions(options);
    if (initialized) throw new SamStateError("initialize", "initialized");
    initialized = true;
    const role = process.env[ENV_FD] === undefined ? "supervisor" : "worker";
    return new Sam(resolved, role, options.onEvent);
  }

  /**
   * sam_register. In the worker: the SamWorker of this instance. In the supervisor: runs
   * instances until the policy ends, then exits the process with SAM's exit status (a killed
   * last instance gives 128 + signal, where SAM gives 0); it never resolves.
   */
  async register(): Promise<SamWorker> {
    if (this.registered) throw new SamStateError("register", "registered");
    this.registered = true;
    if (this.role === "worker") {
      const supervisorPid = Number(process.env[ENV_SUPERVISOR_PID]);
      for (const name of SAM_ENV_NAMES) delete process.env[name]; // not inherited by the worker's own children
      return SamWorker.connect(this.options.maxDataBytes, this.options.sanlock, supervisorPid);
    }
    const script = process.argv[1];
    const supervisor = new Supervisor({
      options: {
        ...this.options,
        status: this.options.status === null ? null : { dir: this.options.status.dir, name: this.options.status.name ?? basename(script ?? "node") },
      },
      command: { file: process.execPath, args: [...process.execArgv, ...process.argv.slice(1)], cwd: process.cwd() },
      autoStart: false,
      onEvent: this.onEvent,
    });
    const stop = (): void => supervisor.requestStop();
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    const outcome = await supervisor.supervise();
    process.exit(outcome.exitCode);
  }
}
