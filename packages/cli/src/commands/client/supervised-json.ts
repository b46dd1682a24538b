/**
 * The supervisors of `sanlock-ts supervise` and of the SAM API in `client status --json`
 * (docs/sam.md §8): one record `{ "type": "supervised", ... }` per status entry, appended to
 * the daemon's records. Read from the status files, not from the daemon: the STATUS stream stays
 * sanlock 3.8.5's. Loaded only for `--json`; it reads the status store module alone (the SAM
 * API's worker would pull the full client into the CLI's fast path).
 */
import { join } from "node:path";

export async function supervisedRecords(env: Readonly<Record<string, string | undefined>> = process.env): Promise<Record<string, unknown>[]> {
  const { listStatus, shownState, statusDir } = await import("@sanlock-ts/client/sam/status-store");
  // The supervisor's own fallback when the run dir is not writable (status-store.ts).
  const xdg = env.XDG_RUNTIME_DIR;
  const dirs = [statusDir(undefined, env), ...(xdg === undefined || xdg === "" ? [] : [join(xdg, "sanlock-ts-sam")])];
  const seen = new Set<number>();
  const records: Record<string, unknown>[] = [];
  for (const dir of dirs) {
    for (const entry of listStatus(dir)) {
      if (seen.has(entry.supervisor_pid)) continue;
      seen.add(entry.supervisor_pid);
      records.push({ type: "supervised", ...entry, state: shownState(entry) });
    }
  }
  return records;
}
