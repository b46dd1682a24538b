// SAM_RECOVERY_POLICY_CMAP on sanlock-ts (docs/sam.md §8): instead of corosync's CMAP keys
// resources.process.<pid>.*, one JSON file per supervisor, <dir>/<supervisor pid>.json,
// written whole through a temporary file and rename (a reader never sees half a file). The
// CMAP key names stay: recovery, poll_period, last_updated, state.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultRunDir } from "../socket-path.js";

/** CMAP's state values (corosync sam.c; man cmap_keys). */
export type PublishedState = "stopped" | "running" | "waiting for quorum" | "failed";

export interface StatusEntry {
  readonly version: 1;
  readonly name: string;
  readonly supervisor_pid: number;
  readonly recovery: "quit" | "restart";
  /** The interval in ms (CMAP poll_period). */
  readonly poll_period: number;
  /** CLOCK_MONOTONIC ns of the last sign of life, as a decimal string (CMAP last_updated). */
  readonly last_updated: string;
  readonly state: PublishedState;
  readonly instance_id: number;
  readonly worker_pid: number | null;
  readonly restarts: number;
  readonly quorum: Readonly<Record<string, boolean>>;
  /** The last LEASES state string of the instance ("" = none). */
  readonly leases: string;
  readonly last_exit: { instance_id: number; code: number | null; signal: string | null; reason: string } | null;
}

/** What `supervise --list` shows: an entry, and whether its supervisor is still alive. */
export interface ListedEntry extends StatusEntry {
  readonly stale: boolean;
}

/** The state to show: a failed entry stays failed (its supervisor exits by design); any other whose supervisor is gone is "stale". */
export function shownState(entry: ListedEntry): PublishedState | "stale" {
  return entry.stale && entry.state !== "failed" ? "stale" : entry.state;
}

/** At most this many files are read by list() (a bound on a directory someone filled). */
const MAX_LISTED = 1000;
const MAX_ENTRY_BYTES = 1 << 20;

/** The status directory: `dir`, else $SANLOCK_RUN_DIR/sam (default /run/sanlock/sam). */
export function statusDir(dir?: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return dir ?? join(defaultRunDir(env), "sam");
}

export class StatusStore {
  readonly path: string;
  private deleted = false;

  private constructor(
    readonly dir: string,
    supervisorPid: number,
  ) {
    this.path = join(dir, `${supervisorPid}.json`);
  }

  /**
   * The store of this supervisor, its directory made if missing; the fallback
   * $XDG_RUNTIME_DIR/sanlock-ts-sam when the run dir is not writable; undefined (and
   * `warn` told why) when neither is.
   */
  static open(dir: string | undefined, supervisorPid: number, warn: (line: string) => void): StatusStore | undefined {
    const candidates = [statusDir(dir)];
    const xdg = process.env.XDG_RUNTIME_DIR;
    if (dir === undefined && xdg !== undefined && xdg !== "") candidates.push(join(xdg, "sanlock-ts-sam"));
    for (const candidate of candidates) {
      try {
        mkdirSync(candidate, { recursive: true, mode: 0o755 });
        return new StatusStore(candidate, supervisorPid);
      } catch {
        // try the next one
      }
    }
    warn(`status store disabled: cannot create ${candidates.join(" or ")}`);
    return undefined;
  }

  write(entry: StatusEntry): void {
    if (this.deleted) return;
    const temp = `${this.path}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(entry)}\n`, { mode: 0o644 });
      renameSync(temp, this.path);
    } catch {
      // A full or read-only file system must not stop supervision; the next write tries again.
    }
  }

  /** Removes the file (a clean quit, as SAM deletes its CMAP keys); later writes do nothing. */
  delete(): void {
    this.deleted = true;
    rmSync(this.path, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Every entry in `dir`, sorted by supervisor pid; stale = its supervisor is gone. */
export function listStatus(dir: string): ListedEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const entries: ListedEntry[] = [];
  for (const name of names.slice(0, MAX_LISTED)) {
    try {
      const text = readFileSync(join(dir, name), "utf8");
      if (text.length > MAX_ENTRY_BYTES) continue;
      const entry = JSON.parse(text) as StatusEntry;
      if (entry.version !== 1 || typeof entry.supervisor_pid !== "number") continue;
      entries.push({ ...entry, stale: !processAlive(entry.supervisor_pid) });
    } catch {
      // removed or being replaced while read: skip it
    }
  }
  return entries.sort((a, b) => a.supervisor_pid - b.supervisor_pid);
}
