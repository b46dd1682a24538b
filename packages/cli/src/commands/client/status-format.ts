/**
 * The text `sanlock client status` prints for the STATUS record stream
 * (docs/wire.md §11.1), its -o p / -o s orders, and the JSON form.
 */
import { escapePath } from "@sanlock-ts/client/resource-string";
import { ResFlag, StateType } from "@sanlock-ts/client/wire";
import type { StateRecord } from "@sanlock-ts/client/wire";

type Rec = StateRecord;

/** "list=add" etc. inside a state string. */
function listOf(record: Rec): string {
  return /(?:^| )list=(\S*)/.exec(record.str)?.[1] ?? "";
}

const LIST_SUFFIX: Readonly<Record<string, string>> = { add: " ADD", rem: " REM", orphan: " ORPHAN" };

/** The one line printed for a record, or null for HOST / RENEWAL records (not printed). */
export function statusLine(record: Rec): string | null {
  switch (record.type) {
    case StateType.DAEMON:
      return `daemon ${record.name}`;
    case StateType.CLIENT:
      return `p ${record.data32} ${record.name}`;
    case StateType.LOCKSPACE: {
      const ls = record.lockspace;
      if (!ls) return null;
      const suffix = listOf(record) === "add" ? " ADD" : listOf(record) === "rem" ? " REM" : "";
      return `s ${ls.name}:${ls.hostId}:${escapePath(ls.hostIdDisk.path)}:${ls.hostIdDisk.offset}${suffix}`;
    }
    case StateType.RESOURCE: {
      const res = record.resource;
      if (!res) return null;
      const disks = res.disks.map((d) => `:${escapePath(d.path)}:${d.offset}`).join("");
      const pid = record.data32 >>> 0;
      const mode = res.flags & ResFlag.SHARED ? `:SH p ${pid}` : `:${record.data64} p ${pid}`;
      return `r ${res.lockspaceName}:${res.name}${disks}${mode}${LIST_SUFFIX[listOf(record)] ?? ""}`;
    }
    default:
      return null;
  }
}

/** The lines of one record: its line, plus with -D its state string split at spaces, indented. */
export function recordLines(record: Rec, debug: boolean): string[] {
  const line = statusLine(record);
  if (line === null) return [];
  if (!debug) return [line];
  return [line, ...record.str.split(" ").map((token) => `    ${token}`)];
}

/** Records in the order `-o p` (by pid) or `-o s` (by lockspace) prints them; "-" then leftovers. */
export function sortRecords(records: readonly Rec[], sort: "p" | "s"): (Rec | "-")[] {
  const out: Rec[] = [];
  const used = new Set<Rec>();
  const take = (r: Rec): void => {
    if (used.has(r)) return;
    used.add(r);
    out.push(r);
  };
  const of = (type: number): Rec[] => records.filter((r) => r.type === type);
  of(StateType.DAEMON).forEach(take);
  of(StateType.CLIENT)
    .filter((r) => r.data32 === -1)
    .forEach(take);
  if (sort === "p") {
    of(StateType.LOCKSPACE).forEach(take);
    for (const client of of(StateType.CLIENT).filter((r) => !used.has(r))) {
      take(client);
      of(StateType.RESOURCE)
        .filter((r) => r.data32 === client.data32)
        .forEach(take);
    }
  } else {
    of(StateType.CLIENT).forEach(take);
    for (const ls of of(StateType.LOCKSPACE)) {
      take(ls);
      of(StateType.RESOURCE)
        .filter((r) => r.resource?.lockspaceName === ls.lockspace?.name)
        .forEach(take);
    }
  }
  const rest = records.filter((r) => !used.has(r) && statusLine(r) !== null);
  return rest.length > 0 ? [...out, "-", ...rest] : out;
}

/** bigint-safe JSON: u64 values as numbers when exact, else as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v), 2);
}

/** The JSON form of a record: type name, fields, parsed state. */
export function recordJson(record: Rec): Record<string, unknown> {
  const state: Record<string, string> = {};
  for (const token of record.str.split(" ")) {
    const eq = token.indexOf("=");
    if (eq > 0) state[token.slice(0, eq)] = token.slice(eq + 1);
  }
  const type =
    Object.entries(StateType)
      .find(([, v]) => v === record.type)?.[0]
      ?.toLowerCase() ?? String(record.type);
  const base: Record<string, unknown> = { type, name: record.name, state };
  if (record.type === StateType.CLIENT) base.pid = record.data32;
  if (record.type === StateType.HOST) Object.assign(base, { hostId: record.data32, timestamp: record.data64 });
  if (record.type === StateType.LOCKSPACE && record.lockspace) {
    const ls = record.lockspace;
    Object.assign(base, { name: ls.name, hostId: ls.hostId, path: ls.hostIdDisk.path, offset: ls.hostIdDisk.offset });
  }
  if (record.type === StateType.RESOURCE && record.resource) {
    const res = record.resource;
    Object.assign(base, {
      lockspace: res.lockspaceName,
      pid: record.data32 >>> 0,
      lver: record.data64,
      shared: (res.flags & ResFlag.SHARED) !== 0,
      disks: res.disks.map((d) => ({ path: d.path, offset: d.offset })),
    });
  }
  return base;
}
