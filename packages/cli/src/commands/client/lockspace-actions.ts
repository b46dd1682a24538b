/**
 * Lockspace and on-disk actions: add_lockspace, inq_lockspace, rem_lockspace,
 * init (write), read, align, examine (docs/wire.md §7.2–§7.3, §7.12–§7.20, §11).
 */
import * as ops from "@sanlock-ts/client/operations";
import { formatResourceString } from "@sanlock-ts/client/resource-string";
import { ResFlag } from "@sanlock-ts/client/wire";
import { parseLockspaceArg, type LockspaceArg } from "../../args/sanlock-strings.js";
import type { ClientAction } from "./context.js";
import { libsanlockResultOf, rvOf, type ClientContext } from "./context.js";
import { alignOf, geometryFlags, resourceArgs, sectorOf } from "./resource-args.js";

// sanlock's default io_timeout; add_lockspace sends another value only when -o differs (docs/wire.md §7.2).
import { DEFAULT_IO_TIMEOUT } from "@sanlock-ts/client/wire";

function lockspaceArg(ctx: ClientContext): LockspaceArg {
  return parseLockspaceArg(ctx.require("s", "LOCKSPACE"));
}

function lsTarget(a: LockspaceArg): { lockspace: string; hostId: bigint; path: string; offset: bigint } {
  return { lockspace: a.name, hostId: BigInt(a.hostId), path: a.path, offset: BigInt(a.offset) };
}

/** -o as sanlock reads it outside status: a positive value replaces 10. */
function ioTimeout(ctx: ClientContext): number {
  const value = ctx.opt("o") === undefined ? 0 : ctx.int("o");
  return value > 0 ? value : DEFAULT_IO_TIMEOUT;
}

/** Prints "<what>" and "<what> done <rv>" around a call, with the explanation of a failure on stderr. */
async function announced(ctx: ClientContext, what: string, call: () => Promise<unknown>): Promise<number> {
  ctx.output.line(what);
  const rv = await rvOf(call);
  ctx.output.line(`${what} done ${rv}`);
  ctx.explain(what, rv);
  return rv;
}

async function addLockspace(ctx: ClientContext): Promise<number> {
  const ls = lsTarget(lockspaceArg(ctx));
  const timeout = ioTimeout(ctx);
  const what = timeout !== DEFAULT_IO_TIMEOUT ? "add_lockspace_timeout" : "add_lockspace";
  if (timeout !== DEFAULT_IO_TIMEOUT) ctx.output.line(`${what} ${timeout}`);
  else ctx.output.line(what);
  const rv = await rvOf(() => ops.addLockspace(ctx.waiting, { ...ls, ioTimeout: timeout !== DEFAULT_IO_TIMEOUT ? timeout : 0, wait: true }));
  ctx.output.line(`${what} done ${rv}`);
  ctx.explain(what, rv);
  return rv;
}

async function inqLockspace(ctx: ClientContext): Promise<number> {
  const ls = lsTarget(lockspaceArg(ctx));
  ctx.output.line("inq_lockspace");
  let rv: number;
  try {
    rv = await ops.inqLockspaceResult(ctx.quick, { ...ls, wait: false });
  } catch (err) {
    rv = libsanlockResultOf(err);
  }
  ctx.output.line(`inq_lockspace done ${rv}`);
  ctx.explain("inq_lockspace", rv);
  return rv;
}

async function remLockspace(ctx: ClientContext): Promise<number> {
  const ls = lsTarget(lockspaceArg(ctx));
  return announced(ctx, "rem_lockspace", () => ops.remLockspace(ctx.waiting, { ...ls, wait: true, unused: false }));
}

/** init / write: -s formats a lockspace (io_timeout 10 unless -o), -r a resource lease (docs/wire.md §7.17, §7.18). */
async function init(ctx: ClientContext): Promise<number> {
  const flags = geometryFlags(ctx);
  const s = ctx.opt("s");
  if (s !== undefined && parseLockspaceArg(s).path !== "") {
    const a = parseLockspaceArg(s);
    return announced(ctx, "init", () =>
      ops.writeLockspace(ctx.quick, { lockspace: a.name, path: a.path, offset: BigInt(a.offset), maxHosts: ctx.int("m"), ioTimeout: ioTimeout(ctx), flags }),
    );
  }
  const resources = resourceArgs(ctx, 1);
  if (resources === null) return -1;
  const r = resources[0] as (typeof resources)[number];
  // -z clears the lease; unlike sanlock (any -z clears), "-z 0" means do not clear.
  const clear = ctx.opt("z") !== undefined && ctx.int("z") !== 0;
  return announced(ctx, "init", () => ops.writeResource(ctx.quick, { ...r.spec, maxHosts: ctx.int("m"), numHosts: ctx.int("n"), clear, flags }));
}

/** read -s / read -r [-h 1]: what is on disk, printed as sanlock does (docs/wire.md §11.7). */
async function read(ctx: ClientContext): Promise<number> {
  const flags = geometryFlags(ctx);
  const s = ctx.opt("s");
  try {
    if (s !== undefined && parseLockspaceArg(s).path !== "") {
      const a = parseLockspaceArg(s);
      const r = await ops.readLockspace(ctx.quick, { ...lsTarget(a), flags });
      ctx.output.line(`s ${r.lockspace}:${r.hostId}:${r.path}:${r.offset}`);
      if (ctx.debug) {
        ctx.output.line(`io_timeout ${r.ioTimeout}`);
        ctx.output.line(`sector_size ${sectorOf(r.flags)}`);
        ctx.output.line(`align_size ${alignOf(r.flags)}`);
      }
      return 0;
    }
    const resources = resourceArgs(ctx, 1);
    if (resources === null) return -1;
    const res = resources[0] as (typeof resources)[number];
    const withHosts = ctx.int("h") !== 0;
    const got: { lockspace: string; resource: string; version: bigint; flags: number; hosts: ops.HostInfo[] } = withHosts
      ? { lockspace: res.spec.lockspace, resource: res.spec.resource, ...(await ops.readResourceOwners(ctx.quick, { ...res.spec, flags })) }
      : { ...(await ops.readResource(ctx.quick, { ...res.spec, flags })), hosts: [] };
    const names = { lockspace: got.lockspace, resource: got.resource };
    ctx.output.line(`r ${formatResourceString({ ...names, disks: res.spec.disks, shared: (got.flags & ResFlag.SHARED) !== 0, version: got.version })}`);
    if (ctx.debug) {
      ctx.output.line(`sector_size ${sectorOf(got.flags)}`);
      ctx.output.line(`align_size ${alignOf(got.flags)}`);
    }
    for (const h of got.hosts)
      ctx.output.line(h.timestamp ? `h ${h.hostId} gen ${h.generation} timestamp ${h.timestamp}` : `h ${h.hostId} gen ${h.generation}`);
    return 0;
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.output.line(`read error ${rv}`);
    ctx.explain("read", rv);
    return rv;
  }
}

/** align -s LS:0:PATH:0: the daemon's alignment for the path; exit 1 because the value is not 0 (docs/wire.md §7.12). */
async function align(ctx: ClientContext): Promise<number> {
  const a = lockspaceArg(ctx);
  ctx.output.line("align");
  let rv: number;
  try {
    rv = await ops.align(ctx.quick, a.path);
  } catch (err) {
    rv = libsanlockResultOf(err);
  }
  ctx.output.line(`align done ${rv}`);
  ctx.explain("align", rv);
  return rv;
}

/** examine -s LS:HID:PATH:OFF (lockspace) or -r RES (one lease): look for requests (docs/wire.md §7.13). */
async function examine(ctx: ClientContext): Promise<number> {
  const s = ctx.opt("s");
  if (s !== undefined && parseLockspaceArg(s).path !== "") {
    const a = lsTarget(parseLockspaceArg(s));
    return announced(ctx, "examine", () => ops.examineLockspace(ctx.quick, a));
  }
  const resources = resourceArgs(ctx, 1);
  if (resources === null) return -1;
  const r = resources[0] as (typeof resources)[number];
  return announced(ctx, "examine", () => ops.examineResource(ctx.quick, r.spec));
}

export const LOCKSPACE_ACTIONS: Readonly<Record<string, ClientAction>> = {
  add_lockspace: addLockspace,
  inq_lockspace: inqLockspace,
  rem_lockspace: remLockspace,
  init,
  read,
  align,
  examine,
};
