// What a supervisor reports (docs/sam.md §5.3): one event per step, for the CLI's lines
// on stderr and the API's onEvent callback.

/** Why an instance was warned or killed. */
export type KillReason = "health" | "quorum" | "mark_failed" | "stop" | "internal";
/** Why the supervisor gave up: SAM's "failed" state. */
export type FailReason = "mark_failed" | "restart_limit" | "policy" | "internal";

export type SamEvent =
  | { readonly type: "spawned"; readonly instanceId: number; readonly pid: number }
  | { readonly type: "started"; readonly instanceId: number }
  | { readonly type: "waiting"; readonly instanceId: number; readonly reason: string }
  | { readonly type: "stopped"; readonly instanceId: number }
  | { readonly type: "quorum"; readonly quorate: boolean; readonly reason?: string | undefined }
  | { readonly type: "leases"; readonly instanceId: number; readonly leases: string }
  | { readonly type: "warned"; readonly instanceId: number; readonly signal: NodeJS.Signals; readonly reason: KillReason }
  | { readonly type: "killed"; readonly instanceId: number; readonly signal: NodeJS.Signals; readonly reason: KillReason }
  | {
      readonly type: "exited";
      readonly instanceId: number;
      readonly pid: number;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      /** The phase it was in: "registered" (never started or stopped) exits are clean. */
      readonly phase: string;
    }
  | { readonly type: "restarting"; readonly instanceId: number; readonly delayMs: number }
  | { readonly type: "failed"; readonly reason: FailReason; readonly message?: string | undefined }
  | { readonly type: "quit"; readonly exitCode: number };

/** How a supervisor ended. */
export interface SamOutcome {
  /** clean: an instance quit on its own; failed: SAM's "failed"; stopped: SIGTERM/SIGINT or the abort signal. */
  readonly reason: "clean" | "failed" | "stopped";
  readonly failure?: FailReason | undefined;
  /** The last instance's exit code, or 128 + signal number when it was killed (SAM gives 0 there). */
  readonly exitCode: number;
  readonly instanceId: number;
}

/** One line of text per event, as `sanlock-ts supervise` prints them. */
export function describeEvent(e: SamEvent): string {
  switch (e.type) {
    case "spawned":
      return `instance ${e.instanceId} pid ${e.pid} spawned`;
    case "started":
      return `instance ${e.instanceId} started`;
    case "waiting":
      return `instance ${e.instanceId} waiting for quorum (${e.reason})`;
    case "stopped":
      return `instance ${e.instanceId} stopped`;
    case "quorum":
      return e.quorate ? "quorum: quorate" : `quorum: lost (${e.reason ?? "unknown"})`;
    case "leases":
      return `instance ${e.instanceId} leases ${e.leases === "" ? "none" : e.leases}`;
    case "warned":
      return `instance ${e.instanceId} warned ${e.signal} (${e.reason})`;
    case "killed":
      return `instance ${e.instanceId} killed ${e.signal} (${e.reason})`;
    case "exited":
      return `instance ${e.instanceId} pid ${e.pid} exited ${e.signal === null ? `code ${e.code}` : `signal ${e.signal}`} while ${e.phase}`;
    case "restarting":
      return `restarting as instance ${e.instanceId} in ${e.delayMs} ms`;
    case "failed":
      return `failed (${e.reason})${e.message === undefined ? "" : `: ${e.message}`}`;
    case "quit":
      return `quit, exit status ${e.exitCode}`;
  }
}
