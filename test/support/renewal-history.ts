/** A daemon's RENEWAL history (docs/wire.md §7.30), as the renewal tests read it. */
import { SanlockClient, ops } from "../../packages/client/src/index.js";

export interface RenewalRow {
  readonly timestamp: number;
  readonly readMs: number;
  readonly writeMs: number;
  readonly nextTimeouts: number;
  readonly nextErrors: number;
}

/** The RENEWAL history of `lockspace` from the daemon at `runDir`, oldest first; a record missing a field fails. */
export async function renewalHistory(runDir: string, lockspace: string, timeoutMs: number): Promise<RenewalRow[]> {
  const client = new SanlockClient({ runDir });
  const { records } = await ops.renewal({ socketPath: client.socketPath, timeoutMs }, lockspace);
  return records.map((r) => {
    const s = ops.parseStateText(r.str);
    const field = (k: string): number => {
      const v = Number(s[k]);
      if (!Number.isFinite(v)) throw new Error(`RENEWAL record without ${k}: ${r.str}`);
      return v;
    };
    return {
      timestamp: field("timestamp"),
      readMs: field("read_ms"),
      writeMs: field("write_ms"),
      nextTimeouts: field("next_timeouts"),
      nextErrors: field("next_errors"),
    };
  });
}
