/**
 * Carrying out kill decisions (the role of sanlock's root helper process,
 * src/helper.c): send a signal to a pid, or start a killpath program.
 */
import { spawn } from "node:child_process";
import type { KillSignal } from "./kill-policy.js";
import { killpathArgv } from "./killpath-argv.js";

export interface KillExecutor {
  /** Send `signal` to `pid`. A process that is already gone is not an error. */
  signal(pid: number, signal: KillSignal): void;
  /**
   * Start the killpath program without waiting for it. Returns false when it
   * could not be started now (the caller tries again at a later tick).
   */
  runKillpath(path: string, args: string, pid: number | undefined): boolean;
}

/** Bound on killpath programs running at once (sanlock's helper pipe is bounded too). */
export const MAX_RUNNING_KILLPATHS = 64;

export interface ProcessKillExecutorOptions {
  readonly log?: (line: string) => void;
}

/** Only real, single processes: never 0, negative (process groups), init, or ourselves. */
export function isKillablePid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 1 && pid !== process.pid;
}

export class ProcessKillExecutor implements KillExecutor {
  private running = 0;

  constructor(private readonly options: ProcessKillExecutorOptions = {}) {}

  /** Killpath programs started and not yet exited. */
  get runningKillpaths(): number {
    return this.running;
  }

  signal(pid: number, signal: KillSignal): void {
    if (!isKillablePid(pid)) {
      this.log(`refusing to send ${signal} to pid ${pid}`);
      return;
    }
    try {
      process.kill(pid, signal);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== "ESRCH") this.log(`kill ${pid} ${signal} failed: ${code ?? String(err)}`);
    }
  }

  runKillpath(path: string, args: string, pid: number | undefined): boolean {
    if (this.running >= MAX_RUNNING_KILLPATHS) {
      this.log(`killpath ${path} deferred: ${this.running} killpath programs still running`);
      return false;
    }
    const argv = killpathArgv(path, args, pid);
    const [command, ...rest] = argv;
    if (command === undefined) return false;
    const child = spawn(command, rest, { stdio: "ignore", detached: true });
    this.running++;
    let counted = true;
    const finished = (): void => {
      if (!counted) return;
      counted = false;
      this.running--;
    };
    child.once("error", (err) => {
      this.log(`killpath ${command} failed to start: ${(err as { code?: string }).code ?? err.message}`);
      finished();
    });
    child.once("exit", finished);
    // The program runs on its own; the daemon does not wait for it (sanlock's helper reaps it).
    child.unref();
    return true;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
