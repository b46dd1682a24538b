// The state file (docs/sam.md §8.1, option `stateFile`, CLI `--state-file`): what SAM keeps in
// the parent's memory across restarts — the stored data, the warn signal and, for lease
// continuity, the last INQUIRE state string — also kept on disk, so that it survives the
// supervisor itself (a SIGKILLed supervisor, a host reboot, a systemd restart). corosync has no
// counterpart: SAM's data dies with its parent. Written whole through a temporary file, fsync
// and rename before the instance gets its OK, so a reply means "on disk".

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { constants } from "node:os";
import { SamArgumentError } from "./errors.js";

export interface SavedState {
  readonly data: Uint8Array | undefined;
  readonly warnSignal: NodeJS.Signals;
  /** INQUIRE state string of the last instance ("" = none). */
  readonly leases: string;
}

interface StateFileJson {
  version: 1;
  data: string | null;
  warn_signal: string;
  leases: string;
}

/** A larger file is not a state file this library wrote (64 MiB data as base64, plus room). */
const MAX_STATE_BYTES = 96 << 20;

/**
 * The state saved in `path`; undefined when the file does not exist (the first run). A file that
 * cannot be read or is not a state file is SamArgumentError: starting without the data the
 * service relies on would be silent loss.
 */
export function loadState(path: string, maxDataBytes: number): SavedState | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SamArgumentError("stateFile", `cannot read ${path}: ${(err as Error).message}`);
  }
  if (text.length > MAX_STATE_BYTES) throw new SamArgumentError("stateFile", `${path} is too large for a state file`);
  let json: StateFileJson;
  try {
    json = JSON.parse(text) as StateFileJson;
  } catch {
    throw new SamArgumentError("stateFile", `${path} is not JSON`);
  }
  if (json?.version !== 1 || (json.data !== null && typeof json.data !== "string") || typeof json.leases !== "string")
    throw new SamArgumentError("stateFile", `${path} is not a SAM state file (version 1)`);
  if (!Object.hasOwn(constants.signals, json.warn_signal)) throw new SamArgumentError("stateFile", `${path}: unknown warn_signal ${String(json.warn_signal)}`);
  const data = json.data === null ? undefined : new Uint8Array(Buffer.from(json.data, "base64"));
  if (data !== undefined && data.byteLength > maxDataBytes) throw new SamArgumentError("stateFile", `${path}: data larger than maxDataBytes ${maxDataBytes}`);
  return { data, warnSignal: json.warn_signal as NodeJS.Signals, leases: json.leases };
}

/** Writes `state` to `path` (temporary file, fsync, rename). Throws the file system's error. */
export function saveState(path: string, state: SavedState): void {
  const json: StateFileJson = {
    version: 1,
    data: state.data === undefined ? null : Buffer.from(state.data).toString("base64"),
    warn_signal: state.warnSignal,
    leases: state.leases,
  };
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(json)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
