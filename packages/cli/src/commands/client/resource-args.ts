/**
 * -r / -s / -Z / -A arguments turned into the client's call arguments. Parsing
 * of the strings themselves is shared with `direct` (args/sanlock-strings.ts).
 */
import type { AcquireSpec, ResourceSpec } from "@sanlock-ts/client/operations";
import { LsFlag } from "@sanlock-ts/client/wire";
import { CliArgError } from "../../args/errors.js";
import { parseResourceArg, type ResourceArg } from "../../args/sanlock-strings.js";
import type { ClientContext } from "./context.js";

export interface CliResource {
  spec: ResourceSpec;
  arg: ResourceArg;
}

/**
 * Every -r. sanlock prints "resource arg parse error <rv>" and drops a bad
 * one, then sends the rest; we print the same line but refuse to send
 * anything, so a typo never acquires or releases fewer leases than asked.
 */
export function resourceArgs(ctx: ClientContext, min: number): CliResource[] | null {
  const out: CliResource[] = [];
  for (const text of ctx.all("r")) {
    try {
      const arg = parseResourceArg(text);
      out.push({ arg, spec: { lockspace: arg.lockspaceName, resource: arg.name, disks: arg.disks.map((d) => ({ path: d.path, offset: BigInt(d.offset) })) } });
    } catch (err) {
      if (!(err instanceof CliArgError)) throw err;
      ctx.output.line("resource arg parse error -1");
      ctx.output.line("");
      ctx.output.error(`sanlock-ts: ${err.message} (${err.code}); nothing was sent`);
      return null;
    }
  }
  if (out.length < min) throw new CliArgError("ERR_CLI_MISSING_ARG", `-r RESOURCE is required${min > 1 ? ` ${min} times` : ""}`);
  return out;
}

/** ACQUIRE arguments of a -r: ":SH" → shared, ":<lver>" → that version only, plus -n / -P (docs/wire.md §7.7). */
export function acquireSpec(ctx: ClientContext, r: CliResource): AcquireSpec {
  const numHosts = ctx.opt("n") !== undefined && ctx.int("n") !== 0 ? ctx.int("n") : undefined;
  return { ...r.spec, shared: r.arg.shared, version: r.arg.lver, numHosts, persistent: ctx.int("P") !== 0 };
}

const ALIGN_FLAGS: Readonly<Record<string, number>> = { "1M": LsFlag.ALIGN1M, "2M": LsFlag.ALIGN2M, "4M": LsFlag.ALIGN4M, "8M": LsFlag.ALIGN8M };
const VALID_PAIRS = new Set(["512/1M", "4096/1M", "4096/2M", "4096/4M", "4096/8M"]);

/** -Z / -A as SECTOR/ALIGN flags; sanlock accepts -Z alone, and refuses pairs outside its table. */
export function geometryFlags(ctx: ClientContext): number {
  const sector = ctx.opt("Z");
  const align = ctx.opt("A");
  if (sector !== undefined && sector !== "512" && sector !== "4096") throw new CliArgError("ERR_CLI_BAD_SIZES", `-Z "${sector}" is not 512 or 4096`);
  if (align !== undefined && ALIGN_FLAGS[align] === undefined) throw new CliArgError("ERR_CLI_BAD_SIZES", `-A "${align}" is not 1M, 2M, 4M or 8M`);
  if (align !== undefined && !VALID_PAIRS.has(`${sector ?? "?"}/${align}`)) {
    throw new CliArgError(
      "ERR_CLI_BAD_SIZES",
      `Invalid sector_size/align_size combination (${sector ?? 0}/${align}); use one of: 512/1M, 4096/1M, 4096/2M, 4096/4M, 4096/8M`,
    );
  }
  const sectorFlag = sector === "512" ? LsFlag.SECTOR512 : sector === "4096" ? LsFlag.SECTOR4K : 0;
  return sectorFlag | (align !== undefined ? (ALIGN_FLAGS[align] ?? 0) : 0);
}

export function sectorOf(flags: number): number {
  return flags & LsFlag.SECTOR4K ? 4096 : flags & LsFlag.SECTOR512 ? 512 : 0;
}

export function alignOf(flags: number): number {
  if (flags & LsFlag.ALIGN8M) return 8388608;
  if (flags & LsFlag.ALIGN4M) return 4194304;
  if (flags & LsFlag.ALIGN2M) return 2097152;
  if (flags & LsFlag.ALIGN1M) return 1048576;
  return 0;
}
