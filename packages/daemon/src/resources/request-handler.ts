/**
 * REQUEST, both sides (docs/algorithms.md §6.1, §6.2; docs/wire.md §7.11, §7.13).
 *
 * Requester: write the request record into the lease, then set the owner's bit in our
 * delta-lease bitmap so its daemon looks at the record. Owner: when a renewal finds our bit
 * set in another host's record (or on EXAMINE), read the request record of each lease we
 * hold exclusively in that lockspace and apply its force mode to the holders:
 * FORCE → SIGKILL, GRACEFUL → the holder's killpath if it set one (run, no pid), else SIGTERM; the
 * holder's RESTRICT bits from acquire time swap one signal, as sanlock's do_request does:
 * FORCE sends SIGTERM if SIGKILL was restricted, GRACEFUL sends SIGKILL if SIGTERM was.
 */
import { RestrictFlag } from "@sanlock-ts/core/wire";
import { ForceMode, examineRequest, requestResource } from "@sanlock-ts/core";
import type { LeaseLockspace } from "./lease-lockspace.js";
import { DAEMON_CLOCK } from "../daemon-clock.js";
import { openDirectDevice } from "../device/index.js";
import type { ResourceManager } from "./resource-manager.js";
import type { HeldResource } from "./tokens.js";
import { checkLeasePlacement } from "./lease-placement.js";
import { lockspaceGeometry } from "./lease-geometry.js";

export interface RequestHandlerDeps {
  readonly resources: ResourceManager;
  log(level: "error" | "warn" | "info" | "debug", message: string): void;
  /**
   * Starts a holder's killpath program for a GRACEFUL request (the kill executor's runKillpath);
   * false when it could not start now. Without it, GRACEFUL sends SIGTERM even to a holder with a
   * killpath.
   */
  runKillpath?(path: string, args: string): boolean;
}

export interface RequestInput {
  readonly resource: string;
  readonly path: string;
  readonly offset: bigint;
  readonly forceMode: number;
  /** 0n → current lver + 1 (the daemon does not look at RES_LVER here, docs/wire.md §7.11). */
  readonly lver: bigint;
}

export class RequestHandler {
  constructor(private readonly deps: RequestHandlerDeps) {}

  /** Requester side (docs/algorithms.md §6.1); throws with the sanlock result on failure. */
  static async request(ls: LeaseLockspace, input: RequestInput): Promise<void> {
    const device = await openDirectDevice(input.path, { ioTimeoutMs: (4 * ls.spec.ioTimeout + 10) * 1000 });
    try {
      await checkLeasePlacement(device, input.offset);
      // docs/wire.md §7.11: lver 0 means "current + 1" (core), and with force 0 clears the record.
      const { lver, forceMode } = input;
      const outcome = await requestResource({
        lockspace: ls.name,
        location: { resource: input.resource, device, offset: Number(input.offset), ...lockspaceGeometry(ls) },
        hostId: ls.spec.hostId,
        ioTimeout: ls.spec.ioTimeout,
        clock: DAEMON_CLOCK,
        forceMode,
        lver,
      });
      if (outcome.notifyHostId !== undefined) ls.notifyHost(outcome.notifyHostId);
    } finally {
      await device.close().catch(() => undefined);
    }
  }

  /** Owner side: examine every exclusively held lease of the lockspace (docs/algorithms.md §6.2 step 2). */
  examineLockspace(ls: LeaseLockspace, onlyName?: string): void {
    for (const resource of this.deps.resources.tokens.inLockspace(ls.name)) {
      if (resource.state !== "held" || (onlyName !== undefined && resource.name !== onlyName)) continue;
      void this.examineOne(resource);
    }
  }

  private async examineOne(resource: HeldResource): Promise<void> {
    let force: number | undefined;
    try {
      force = await examineRequest(resource.lease);
    } catch (error) {
      this.deps.log("error", `examine ${resource.lockspace}:${resource.name}: ${(error as Error).message}`);
      return;
    }
    if (force === undefined) return;
    this.deps.log("warn", `request on ${resource.lockspace}:${resource.name} force_mode ${force}`);
    for (const token of resource.tokens) {
      const conn = token.conn;
      if (conn === undefined || conn.pid <= 0) continue;
      // GRACEFUL runs the holder's killpath in place of a signal, with its args and never the pid
      // (sanlock's do_request sends the helper no pid), and once per request examined.
      if (force === ForceMode.GRACEFUL && conn.killpath !== undefined && this.deps.runKillpath !== undefined) {
        this.deps.log("warn", `request ${resource.lockspace}:${resource.name} pid ${conn.pid}: running killpath ${conn.killpath.path}`);
        if (this.deps.runKillpath(conn.killpath.path, conn.killpath.args)) continue;
        this.deps.log("error", `request ${resource.lockspace}:${resource.name} pid ${conn.pid}: killpath could not start, sending SIGTERM`);
      }
      const signal: NodeJS.Signals =
        force === ForceMode.FORCE
          ? token.restricted & RestrictFlag.SIGKILL
            ? "SIGTERM"
            : "SIGKILL"
          : token.restricted & RestrictFlag.SIGTERM && conn.killpath === undefined
            ? "SIGKILL"
            : "SIGTERM";
      try {
        process.kill(conn.pid, signal);
      } catch {
        // already gone
      }
    }
  }
}
