/**
 * Resource commands for clients: ACQUIRE / RELEASE / INQUIRE / CONVERT (class D, wire.md
 * docs/wire.md §7.7-§7.9, §7.25, self or by pid through withTarget, docs/wire.md §5.5), REQUEST (docs/wire.md §7.11),
 * EXAMINE_LOCKSPACE / EXAMINE_RESOURCE (docs/wire.md §7.13), SET_LVB / GET_LVB (docs/wire.md §7.24).
 */
import { Cmd, ConvertFlag, Errno, HEADER_SIZE, ReleaseFlag } from "@sanlock-ts/core/wire";
import type { Connection } from "../connection.js";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import { withTarget } from "../commands/target.js";
import { resultOfAny } from "../results.js";
import { RequestHandler } from "../resources/request-handler.js";
import type { Token } from "../resources/tokens.js";
import { engineOf } from "./engine.js";

/** Python/libsanlock refuse INQUIRE strings longer than this (docs/wire.md §10.1: 4400 per resource, 8 leases). */
const MAX_INQUIRE_STRING = 8 * 4400;

async function acquire(ctx: CommandContext<typeof Cmd.ACQUIRE>): Promise<void> {
  await withTarget(ctx, async (target) => {
    const engine = engineOf(ctx);
    const resources = ctx.body.resources;
    // sanlock copies the options' owner_name (often empty) into the target's STATUS name.
    target.name = ctx.body.options.ownerName;
    if (resources.length === 0) {
      await ctx.reply(0);
      return;
    }
    if (engine === undefined) {
      await ctx.reply(-Errno.ENOSPC);
      return;
    }
    const result = await engine.resources.acquire(target, { resources, flags: ctx.header.cmdFlags });
    await ctx.reply(result);
  });
}

async function release(ctx: CommandContext<typeof Cmd.RELEASE>): Promise<void> {
  await withTarget(ctx, async (target) => {
    const result = await releaseResult(ctx, target);
    // sanlock's cmd_release: a live client being killed that holds no lease any more is no longer
    // killed (kill_count and kill_last cleared), so it may acquire again (commands/target.ts).
    const engine = engineOf(ctx);
    if (!target.pidDead && target.killCount > 0 && (engine === undefined || engine.resources.tokens.clientCount(target) === 0)) {
      target.killCount = 0;
      target.killLast = 0;
    }
    await ctx.reply(result);
  });
}

async function releaseResult(ctx: CommandContext<typeof Cmd.RELEASE>, target: Connection): Promise<number> {
  const engine = engineOf(ctx);
  const flags = ctx.header.cmdFlags;
  if (engine === undefined) return flags & (ReleaseFlag.ALL | ReleaseFlag.ORPHAN) ? 0 : -Errno.EPERM;
  if (flags & ReleaseFlag.ORPHAN) {
    const named = ctx.body.resources[0];
    return named === undefined ? 0 : engine.resources.releaseOrphans(named.lockspaceName, named.name);
  }
  if (flags & ReleaseFlag.ALL) return engine.resources.releaseAll(target);
  // REL_RENAME: two structs, the held resource and its new name, written into the leader as the
  // lease is freed on disk (sanlock's cmd_release / paxos_lease_release).
  if (flags & ReleaseFlag.RENAME) {
    const [held, renamed] = ctx.body.resources;
    return held === undefined ? -Errno.EINVAL : engine.resources.releaseNamed(target, [held], renamed?.name);
  }
  return engine.resources.releaseNamed(target, ctx.body.resources);
}

/** INQUIRE (docs/wire.md §7.9, §10.3): result, data2 = count, then the resource strings and a NUL. */
async function inquire(ctx: CommandContext<typeof Cmd.INQUIRE>): Promise<void> {
  await withTarget(ctx, async (target) => {
    const tokens = engineOf(ctx)?.resources.tokens.clientTokens(target) ?? [];
    if (tokens.length === 0) {
      await ctx.reply(0, { data2: 0 });
      return;
    }
    if (tokens.some((t) => t.resource.disks.some((d) => d.path.includes(" ")))) {
      // Quirk docs/wire.md §13 / §7.9: the daemon refuses a string with a space: −ELIBSCN, length 33, one stray byte.
      await ctx.reply(-Errno.ELIBSCN, { data2: tokens.length, payload: new Uint8Array(1) });
      return;
    }
    const text = tokens.map(resourceString).join(" ");
    if (text.length > MAX_INQUIRE_STRING) {
      await ctx.reply(-Errno.ENOMEM, { data2: tokens.length });
      return;
    }
    const bytes = new TextEncoder().encode(text);
    const payload = new Uint8Array(bytes.length + 1);
    payload.set(bytes, 0);
    await ctx.reply(0, { data2: tokens.length, payload });
  });
}

/** docs/wire.md §10.1 / §10.2: LS:RES:PATH:OFFSET[...]:LVER|SH, ':' in paths escaped. */
export function resourceString(token: Token): string {
  const r = token.resource;
  const disks = r.disks.map((d) => `:${escapePath(d.path)}:${d.offset}`).join("");
  const last = r.shared ? "SH" : String(r.lease.leader?.lver ?? 0n);
  return `${r.lockspace}:${r.name}${disks}:${last}`;
}

function escapePath(path: string): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\") {
      out += c + (path[i + 1] ?? "");
      i++;
    } else if (c === ":" || c === " ") {
      out += `\\${c}`;
    } else {
      out += c;
    }
  }
  return out;
}

async function convert(ctx: CommandContext<typeof Cmd.CONVERT>): Promise<void> {
  await withTarget(ctx, async (target) => {
    const engine = engineOf(ctx);
    if (engine === undefined) {
      await ctx.reply(-Errno.ENOENT);
      return;
    }
    const ownerNoWait = (ctx.header.cmdFlags & ConvertFlag.OWNER_NOWAIT) !== 0;
    await ctx.reply(await engine.resources.convert(target, ctx.body.resource, ownerNoWait));
  });
}

/** REQUEST (docs/wire.md §7.11): −ENOSPC when the lockspace is not joined. */
async function request(ctx: CommandContext<typeof Cmd.REQUEST>): Promise<void> {
  const res = ctx.body.resource;
  const ls = engineOf(ctx)?.active(res.lockspaceName);
  const first = res.disks[0];
  if (ls === undefined || ls.state !== "live") {
    await ctx.reply(-Errno.ENOSPC);
    return;
  }
  // The request record is on the first disk of a multi-disk resource, as in sanlock (docs/algorithms.md §4.11).
  if (first === undefined) {
    await ctx.reply(-Errno.ERANGE);
    return;
  }
  const forceMode = ctx.header.data;
  if (forceMode < 0 || forceMode > 2) {
    await ctx.reply(-Errno.EINVAL);
    return;
  }
  try {
    await RequestHandler.request(ls, { resource: res.name, path: first.path, offset: first.offset, forceMode, lver: res.lver });
  } catch (error) {
    await ctx.reply(resultOfAny(error));
    return;
  }
  await ctx.reply(0);
}

/** EXAMINE_*: 0; held leases of the lockspace (or the named one) are examined in the background. */
async function examineLockspace(ctx: CommandContext<typeof Cmd.EXAMINE_LOCKSPACE>): Promise<void> {
  const engine = engineOf(ctx);
  const ls = engine?.active(ctx.body.lockspace.name);
  if (engine !== undefined && ls !== undefined) engine.examine(ls);
  await ctx.reply(0);
}

async function examineResource(ctx: CommandContext<typeof Cmd.EXAMINE_RESOURCE>): Promise<void> {
  const engine = engineOf(ctx);
  const res = ctx.body.resource;
  const ls = engine?.active(res.lockspaceName);
  if (engine !== undefined && ls !== undefined) engine.examine(ls, res.name);
  await ctx.reply(0);
}

async function setLvb(ctx: CommandContext<typeof Cmd.SET_LVB>): Promise<void> {
  const engine = engineOf(ctx);
  const { resource, lvb } = ctx.body;
  await ctx.reply(engine === undefined ? -Errno.ENOENT : engine.resources.setLvb(resource.lockspaceName, resource.name, lvb));
}

/** GET_LVB: on error the reply announces 32 + requested size but carries no bytes (quirk docs/wire.md §13.9). */
async function getLvb(ctx: CommandContext<typeof Cmd.GET_LVB>): Promise<void> {
  const engine = engineOf(ctx);
  const res = ctx.body.resource;
  const wanted = Math.max(0, ctx.header.data2);
  const got = engine === undefined ? { result: -Errno.ENOENT } : engine.resources.getLvb(res.lockspaceName, res.name, wanted);
  if (got.result < 0 || got.data === undefined) {
    await ctx.reply(got.result, { length: HEADER_SIZE + wanted });
    return;
  }
  await ctx.reply(0, { payload: got.data });
}

export function registerResourceHandlers(registry: CommandRegistry): void {
  registry.register(Cmd.ACQUIRE, acquire);
  registry.register(Cmd.RELEASE, release);
  registry.register(Cmd.INQUIRE, inquire);
  registry.register(Cmd.CONVERT, convert);
  registry.register(Cmd.REQUEST, request);
  registry.register(Cmd.EXAMINE_LOCKSPACE, examineLockspace);
  registry.register(Cmd.EXAMINE_RESOURCE, examineResource);
  registry.register(Cmd.SET_LVB, setLvb);
  registry.register(Cmd.GET_LVB, getLvb);
}
