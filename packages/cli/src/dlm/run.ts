/**
 * `sanlock-ts dlm ...` (docs/dlm.md §8, after dlm_tool): format and dump a DLM volume directly on
 * the disk; join, leave, ls, lockdump, lock through the daemon's DLM socket. Every command takes
 * `--json`. Each run is one DLM process of the daemon: a lockspace joined by `join` stays joined
 * after the command exits (the daemon keeps it until the last release: `leave`); a lock taken by
 * `lock` lasts while the command runs (`--hold`).
 */
import { parseArgs } from "node:util";
import { EXIT_FAILURE, EXIT_OK, type Output } from "../output.js";

const USAGE = `sanlock-ts dlm <command> ...
  format PATH[:OFF] -s NAME [-Z 512|4096] [-A 1M|2M|4M|8M] [--max-resources N] [--num-hosts N]
         [--lvblen N] [--exflags nodir,timewarn] [--cluster C] [--poll-ms N] [-o IO_TIMEOUT]
  join NAME [-i HOST_ID] [-e 0|1] [--disk PATH[:OFF]]
  leave NAME [--no-force]
  ls
  lockdump NAME
  lockdebug NAME
  lock NAME RESOURCE MODE [--noqueue] [--persistent] [--vb HEX] [--hold SECONDS (0: until a signal)]
  dump PATH[:OFF]
  every command: --json`;

const MODE_NAMES = ["NL", "CR", "CW", "PR", "PW", "EX"] as const;
const modeText = (n: number): string => MODE_NAMES[n] ?? "IV";

export class DlmCliError extends Error {
  readonly code = "ERR_CLI_DLM";
}

/** PATH[:OFFSET] (docs/dlm.md §8). */
export function pathOffset(text: string): { path: string; offset: number } {
  const m = /^(.*?)(?::(\d+))?$/.exec(text);
  const path = m?.[1] ?? "";
  if (path === "") throw new DlmCliError(`a path is needed: ${text}`);
  return { path, offset: m?.[2] ? Number(m[2]) : 0 };
}

function integer(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new DlmCliError(`${what} must be a number: ${text}`);
  return Number(text);
}

const ALIGNS: Record<string, number> = { "1M": 1 << 20, "2M": 2 << 20, "4M": 4 << 20, "8M": 8 << 20 };

type Values = Record<string, string | boolean | undefined>;

const OPTIONS = {
  json: { type: "boolean" },
  s: { type: "string" },
  Z: { type: "string" },
  A: { type: "string" },
  o: { type: "string" },
  i: { type: "string" },
  e: { type: "string" },
  f: { type: "string" },
  m: { type: "string" },
  disk: { type: "string" },
  "max-resources": { type: "string" },
  "num-hosts": { type: "string" },
  lvblen: { type: "string" },
  exflags: { type: "string" },
  cluster: { type: "string" },
  "poll-ms": { type: "string" },
  "no-force": { type: "boolean" },
  noqueue: { type: "boolean" },
  persistent: { type: "boolean" },
  vb: { type: "string" },
  hold: { type: "string" },
} as const;

export async function runDlm(argv: readonly string[], output: Output): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (err) {
    output.line(`dlm: ${(err as Error).message}`);
    output.line(USAGE);
    return EXIT_FAILURE;
  }
  const [command, ...rest] = parsed.positionals;
  const json = parsed.values.json === true;
  try {
    switch (command) {
      case "format":
        return await format(rest, parsed.values, output, json);
      case "dump":
        return await dump(rest, output, json);
      case "join":
      case "leave":
      case "ls":
      case "lockdump":
      case "lockdebug":
      case "lock": {
        const { runDlmDaemonCommand } = await import("./daemon-commands.js");
        return await runDlmDaemonCommand(command, rest, parsed.values, output, json);
      }
      default:
        output.line(command === undefined ? USAGE : `dlm: unknown command ${command}\n${USAGE}`);
        return EXIT_FAILURE;
    }
  } catch (err) {
    const e = err as Error & { status?: number; statusName?: string };
    if (json) output.line(JSON.stringify({ error: e.message, ...(e.status !== undefined ? { status: e.status, code: e.statusName } : {}) }));
    else output.line(`dlm ${command}: ${e.message}`);
    return EXIT_FAILURE;
  }
}

async function openDevice(path: string, sectorSize?: number) {
  const { openDirectDevice } = await import("@sanlock-ts/daemon/device");
  return openDirectDevice(path, { ioTimeoutMs: 10_000, ...(sectorSize ? { sectorSize } : {}) });
}

/** docs/dlm.md §5.1: the sanlock lockspace, the DLM header, the host area, the rindex and its lease. */
async function format(args: string[], v: Values, output: Output, json: boolean): Promise<number> {
  if (args.length !== 1 || typeof v.s !== "string") throw new DlmCliError("format needs PATH[:OFF] and -s NAME");
  const { path, offset } = pathOffset(args[0]!);
  const [{ geometryFor }, dlm] = await Promise.all([import("@sanlock-ts/core"), import("@sanlock-ts/core/dlm")]);
  const sectorSize = integer(v.Z as string | undefined, "-Z", 512);
  const align = v.A === undefined ? 1 << 20 : ALIGNS[String(v.A)];
  if (align === undefined) throw new DlmCliError(`-A must be one of ${Object.keys(ALIGNS).join(", ")}`);
  const exflags = String(v.exflags ?? "")
    .split(",")
    .filter((x) => x !== "")
    .reduce((acc, word) => {
      if (word === "nodir") return acc | dlm.LSFL.NODIR;
      if (word === "timewarn") return acc | dlm.LSFL.TIMEWARN;
      throw new DlmCliError(`--exflags: unknown flag ${word}`);
    }, 0);
  const lockspaceId = BigInt(`0x${Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(8))).toString("hex")}`);
  const device = await openDevice(path, sectorSize);
  try {
    const header = await dlm.formatVolume(device, {
      offset,
      name: v.s,
      geometry: geometryFor(sectorSize, align),
      lockspaceId,
      exflags,
      lvbLen: integer(v.lvblen as string | undefined, "--lvblen", 32),
      numHosts: integer(v["num-hosts"] as string | undefined, "--num-hosts", dlm.DEFAULT_DLM_NUM_HOSTS),
      maxResources: integer(v["max-resources"] as string | undefined, "--max-resources", dlm.DEFAULT_DLM_MAX_RESOURCES),
      ...(typeof v.cluster === "string" ? { cluster: v.cluster } : {}),
      pollMs: integer(v["poll-ms"] as string | undefined, "--poll-ms", 1000),
      ioTimeout: integer(v.o as string | undefined, "-o", 10),
      formatTime: BigInt(Math.floor(Date.now() / 1000)),
    });
    if (json) output.line(JSON.stringify({ path, offset, ...headerJson(header) }));
    else output.line(`formatted DLM lockspace ${header.name} at ${path}:${offset} id 0x${header.lockspaceId.toString(16)}`);
    return EXIT_OK;
  } finally {
    await device.close();
  }
}

function headerJson(h: Awaited<ReturnType<typeof import("@sanlock-ts/core/dlm").readVolumeHeader>>): Record<string, unknown> {
  return {
    name: h.name,
    lockspaceId: h.lockspaceId.toString(16),
    exflags: h.exflags,
    lvbLen: h.lvbLen,
    numHosts: h.numHosts,
    maxResources: h.maxResources,
    sectorSize: h.sectorSize,
    alignSize: h.alignSize,
    cluster: h.cluster,
    pollMs: h.pollMs,
  };
}

/** docs/dlm.md §8 dump: header, host records, and per resource its leader and non-empty slots. */
async function dump(args: string[], output: Output, json: boolean): Promise<number> {
  if (args.length !== 1) throw new DlmCliError("dump needs PATH[:OFF]");
  const { path, offset } = pathOffset(args[0]!);
  const { collectDump } = await import("./dump.js");
  const device = await openDevice(path);
  try {
    const d = await collectDump(device, offset);
    if (json) {
      output.line(JSON.stringify(d, (_k, value) => (typeof value === "bigint" ? value.toString() : value)));
      return EXIT_OK;
    }
    output.line(
      `lockspace ${d.header.name} id 0x${d.header.lockspaceId.toString(16)} lvblen ${d.header.lvbLen} num_hosts ${d.header.numHosts} max_resources ${d.header.maxResources} poll_ms ${d.header.pollMs}`,
    );
    for (const h of d.hosts) output.line(`host ${h.hostId} gen ${h.generation} seq ${h.seq} waits ${h.waits.length}`);
    for (const r of d.resources) {
      output.line(
        `${String(r.offset).padStart(10, "0")} ${d.header.name} ${r.sanlockName} ${String(r.leader.ownerId).padStart(4, "0")} ${r.leader.lver} "${r.name}"`,
      );
      for (const s of r.slots) {
        const pend = s.pending.map((p) => `${modeText(p.rq)}/${modeText(p.gr)}/${p.kind}/${p.ticket}`).join(",");
        output.line(
          `  slot[${String(s.hostId).padStart(4, "0")}] gen ${s.generation} lver ${s.lver} seq ${s.writeSeq} gr ${modeText(s.grmode)} pend ${pend || "-"} lvb ${s.lvbSeq}/${s.lvbEpoch}/${s.lvbFlags}`,
        );
      }
    }
    return EXIT_OK;
  } finally {
    await device.close();
  }
}
