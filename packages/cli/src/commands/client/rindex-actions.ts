/**
 * Resource index actions: format, rebuild, create, delete, lookup, update
 * (docs/wire.md §7.31). Their output has no leading "<action>" line.
 */
import * as ops from "@sanlock-ts/client/operations";
import { CliArgError } from "../../args/errors.js";
import { parseRentryArg, parseRindexArg } from "../../args/sanlock-strings.js";
import type { ClientAction } from "./context.js";
import { libsanlockResultOf, rvOf, type ClientContext } from "./context.js";
import { geometryFlags } from "./resource-args.js";
import { Errno } from "@sanlock-ts/client/wire";

function rindexOf(ctx: ClientContext, flags = 0): ops.RindexSpec {
  const x = parseRindexArg(ctx.require("x", "RINDEX"));
  if (x.path === "") throw new CliArgError("ERR_CLI_PATH_MISSING", "-x RINDEX needs a path: LOCKSPACE:PATH:OFFSET");
  return { lockspace: x.lockspaceName, path: x.path, offset: BigInt(x.offset), flags };
}

function entryOf(ctx: ClientContext, required: boolean): { name: string; offset: bigint } {
  const e = ctx.opt("e");
  if (e === undefined) {
    if (required) throw new CliArgError("ERR_CLI_MISSING_ARG", "-e <resource_name>[:<offset>] is required");
    return { name: "", offset: 0n };
  }
  const entry = parseRentryArg(e);
  return { name: entry.name, offset: BigInt(entry.offset) };
}

async function done(ctx: ClientContext, what: string, call: () => Promise<unknown>): Promise<number> {
  const rv = await rvOf(call);
  ctx.output.line(`${what} done ${rv}`);
  ctx.explain(what, rv);
  return rv;
}

const format: ClientAction = async (ctx) => {
  const x = rindexOf(ctx, geometryFlags(ctx));
  return done(ctx, "format", () => ops.formatRindex(ctx.quick, x));
};

const rebuild: ClientAction = async (ctx) => {
  const x = rindexOf(ctx);
  return done(ctx, "rebuild", () => ops.rebuildRindex(ctx.quick, x));
};

const create: ClientAction = async (ctx) => {
  const x = rindexOf(ctx);
  const entry = entryOf(ctx, true);
  try {
    const got = await ops.createResource(ctx.quick, x, entry.name, { maxHosts: 0, numHosts: 0 });
    ctx.output.line("create_resource done 0");
    ctx.output.line(`offset ${got.offset}`);
    return 0;
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.output.line(`create_resource done ${rv}`);
    ctx.explain("create_resource", rv);
    return rv;
  }
};

const remove: ClientAction = async (ctx) => {
  const x = rindexOf(ctx);
  const entry = entryOf(ctx, true);
  return done(ctx, "delete_resource", () => ops.deleteResource(ctx.quick, x, entry));
};

const lookup: ClientAction = async (ctx) => {
  const x = rindexOf(ctx);
  const entry = entryOf(ctx, false);
  try {
    const got = await ops.lookupRindex(ctx.quick, x, entry);
    ctx.output.line("lookup done 0");
    ctx.output.line(`name ${got.name === "" ? "-" : got.name} offset ${got.offset}`);
    return 0;
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.output.line(`lookup done ${rv}`);
    // "No such entry" (−ENOENT: the name is not in the index, or the index is not formatted) is
    // an answer, not a failure to explain: sanlock prints only "lookup done -2", nothing on stderr.
    if (rv !== -Errno.ENOENT) ctx.explain("lookup", rv);
    return rv;
  }
};

/** update -x RINDEX -e NAME:OFFSET [-z 1]: add the entry, or remove it with -z 1. */
const update: ClientAction = async (ctx) => {
  const x = rindexOf(ctx);
  const entry = entryOf(ctx, true);
  const remove = ctx.opt("z") !== undefined && ctx.int("z") !== 0;
  return done(ctx, "update", () => ops.updateRindex(ctx.quick, x, entry, remove));
};

export const RINDEX_ACTIONS: Readonly<Record<string, ClientAction>> = { format, rebuild, create, delete: remove, lookup, update };
