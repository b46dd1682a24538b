// Where the daemon's socket is (docs/wire.md §2.1): <run_dir>/sanlock.sock,
// run_dir from SANLOCK_RUN_DIR, else /run/sanlock.

import { ClientArgumentError } from "./errors.js";

export const DEFAULT_RUN_DIR = "/run/sanlock";
export const SOCKET_NAME = "sanlock.sock";
/** sanlock formats sun_path with room for 106 characters and truncates beyond (docs/wire.md §2.1); we refuse instead. */
export const MAX_SOCKET_PATH = 106;

export function defaultRunDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const dir = env.SANLOCK_RUN_DIR;
  return dir !== undefined && dir !== "" ? dir : DEFAULT_RUN_DIR;
}

export function resolveSocketPath(options: { runDir?: string | undefined; socketPath?: string | undefined } = {}): string {
  const path = options.socketPath ?? `${options.runDir ?? defaultRunDir()}/${SOCKET_NAME}`;
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ClientArgumentError("socketPath", `${path} is longer than ${MAX_SOCKET_PATH} bytes`);
  }
  return path;
}
