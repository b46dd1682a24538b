// The lease-failure action's KILLPATH registration (docs/lockmanager.md §5.2): the helper program
// and its arguments "URI UUID ACTION", spaces and backslashes escaped, each field under 128 bytes.

import { joinKillpathArgs } from "@sanlock-ts/core/wire";
import { LockManagerError, LockManagerErrorCode } from "./errors.js";

/** libvirt's values of <on_lockfailure>, in its enum order. */
export const LOCK_FAILURE_ACTIONS = ["default", "poweroff", "restart", "pause", "ignore"] as const;
export type LockFailureAction = (typeof LOCK_FAILURE_ACTIONS)[number];
/** What the sanlock plugin can carry out (restart and ignore are refused at registration). */
export const SUPPORTED_ACTIONS: ReadonlySet<LockFailureAction> = new Set(["default", "poweroff", "pause"]);

/** Debian's path of libvirt's helper, what libvirt registers. */
export const LIBVIRT_SANLOCK_HELPER = "/usr/lib/libvirt/libvirt_sanlock_helper";
/**
 * libsanlock copies path and args with snprintf(…, 127, …), so 126 bytes survive (docs/lockmanager.md
 * §5.2, quirk Q5): longer is refused here instead of being cut.
 */
export const MAX_KILLPATH_FIELD = 126;
/** Sent in place of an empty URI (a domain of a manager that is not libvirt). */
export const NO_URI = "-";

export interface KillpathSpec {
  path: string;
  /** The argument string as sent (escaped, joined by spaces). */
  args: string;
  /** The same arguments before joining. */
  argv: readonly string[];
  /** KILLPATH_PID: the daemon appends the pid to the arguments. */
  appendPid: boolean;
}

/** How the driver registers a failure action: the helper, words before URI UUID ACTION, pid appended or not. */
export interface KillpathHelper {
  path: string;
  leadingArgs?: readonly string[];
  appendPid?: boolean;
}

export function isLockFailureAction(value: string): value is LockFailureAction {
  return (LOCK_FAILURE_ACTIONS as readonly string[]).includes(value);
}

export function checkSupportedAction(action: LockFailureAction): void {
  if (!SUPPORTED_ACTIONS.has(action)) {
    throw new LockManagerError(LockManagerErrorCode.UNSUPPORTED_ACTION, "CONFIG_UNSUPPORTED", `Failure action ${action} is not supported by sanlock`);
  }
}

/** The KILLPATH request for `action` (never "default", which registers none). */
export function killpathFor(helper: KillpathHelper, uri: string, uuid: string, action: LockFailureAction): KillpathSpec {
  checkSupportedAction(action);
  // The daemon splits the arguments at spaces and drops empty words: an empty URI would shift the others.
  const argv = [...(helper.leadingArgs ?? []), uri === "" ? NO_URI : uri, uuid, action];
  const args = joinKillpathArgs(argv);
  if (Buffer.byteLength(helper.path) > MAX_KILLPATH_FIELD) {
    throw new LockManagerError(
      LockManagerErrorCode.KILLPATH_TOO_LONG,
      "INTERNAL_ERROR",
      `Sanlock helper path is longer than ${MAX_KILLPATH_FIELD}: '${helper.path}'`,
    );
  }
  if (Buffer.byteLength(args) > MAX_KILLPATH_FIELD) {
    throw new LockManagerError(
      LockManagerErrorCode.KILLPATH_TOO_LONG,
      "INTERNAL_ERROR",
      `Sanlock helper arguments are longer than ${MAX_KILLPATH_FIELD}: '${args}'`,
    );
  }
  return { path: helper.path, args, argv, appendPid: helper.appendPid ?? false };
}
