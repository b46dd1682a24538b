/**
 * Lockspace and resource commands answered as a daemon that has joined no lockspace and
 * holds no lease answers them (docs/wire.md §7, §9.4; checked against the real 3.8.5 daemon).
 * They are placeholders until the lockspace and resource engines register their own
 * handlers (registering a command again replaces it).
 *
 * None reports success for work it did not do: commands that need disk access that is not
 * wired in here answer SANLK_ERROR (−201, "General error"). Payload framing errors (−ERANGE
 * num_disks, −E2BIG counts and LVB sizes) are answered by the server from the shared framing.
 */
import { Cmd, Errno, HEADER_SIZE, ReleaseFlag, SanlkResult, type CmdNumber } from "@sanlock-ts/core/wire";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import { withTarget } from "./target.js";

const err = (name: keyof typeof Errno): number => -Errno[name];
/** Our answer for a command whose engine is not plugged in. */
export const NOT_AVAILABLE = SanlkResult.ERROR;

function notAvailable(ctx: CommandContext, what: string): number {
  ctx.daemon.log.error(`${what}: not available in this daemon (no lockspace engine), answering ${NOT_AVAILABLE}`);
  return NOT_AVAILABLE;
}

/** ADD_LOCKSPACE: empty name, host_id 0 or empty path → −EINVAL first (docs/wire.md §7.2). */
async function addLockspace(ctx: CommandContext<typeof Cmd.ADD_LOCKSPACE>): Promise<void> {
  const ls = ctx.body.lockspace;
  if (ls.name === "" || ls.hostId === 0n || ls.hostIdDisk.path === "") {
    await ctx.reply(err("EINVAL"));
    return;
  }
  await ctx.reply(notAvailable(ctx as CommandContext, "add_lockspace"));
}

/** REM_LOCKSPACE / INQ_LOCKSPACE / GET_HOSTS: no lockspace matches → −ENOENT (docs/wire.md §7.3, §7.15, §7.22). */
async function unknownLockspace(ctx: CommandContext): Promise<void> {
  await ctx.reply(err("ENOENT"));
}

/** HOST_STATUS / RENEWAL: not found → −ENOSPC, nothing follows; data2 echoed (docs/wire.md §7.14, §7.30). */
async function lockspaceStream(ctx: CommandContext): Promise<void> {
  await ctx.reply(err("ENOSPC"), { data2: ctx.header.data2 });
}

/** REG_EVENT / SET_EVENT / END_EVENT: −EINVAL for an empty name, else −ENOENT (docs/wire.md §7.28). */
async function eventCommand(ctx: CommandContext<typeof Cmd.REG_EVENT | typeof Cmd.SET_EVENT | typeof Cmd.END_EVENT>): Promise<void> {
  const result = ctx.body.lockspace.name === "" ? err("EINVAL") : err("ENOENT");
  // REG_EVENT and END_EVENT echo data2 (docs/wire.md §3).
  await ctx.reply(result, ctx.header.cmd === Cmd.SET_EVENT ? {} : { data2: ctx.header.data2 });
}

/** EXAMINE: sanlock answers 0 and only logs how many held leases it marked — none here (docs/wire.md §7.13). */
async function examine(ctx: CommandContext): Promise<void> {
  await ctx.reply(0);
}

/** REQUEST / ACQUIRE in a lockspace this host has not joined: −ENOSPC (docs/wire.md §9.4). */
async function notJoined(ctx: CommandContext): Promise<void> {
  await ctx.reply(err("ENOSPC"));
}

async function diskCommand(ctx: CommandContext): Promise<void> {
  await ctx.reply(notAvailable(ctx, `cmd${ctx.header.cmd}`));
}

/** SET_LVB: the lease is not held on this host → −ENOENT (docs/wire.md §7.24). */
async function setLvb(ctx: CommandContext): Promise<void> {
  await ctx.reply(err("ENOENT"));
}

/** GET_LVB error reply announces 32 + requested size but carries no bytes (quirk docs/wire.md §13.9). */
async function getLvb(ctx: CommandContext): Promise<void> {
  await ctx.reply(err("ENOENT"), { length: HEADER_SIZE + Math.max(0, ctx.header.data2) });
}

/** ACQUIRE: count 0 → 0 (recorded); otherwise the lockspace is not joined → −ENOSPC. */
async function acquire(ctx: CommandContext<typeof Cmd.ACQUIRE>): Promise<void> {
  await withTarget(ctx, async () => {
    await ctx.reply(ctx.body.resources.length === 0 ? 0 : err("ENOSPC"));
  });
}

/** RELEASE: the target holds nothing, so a named lease is "not held" (−1, docs/wire.md §7.8). */
async function release(ctx: CommandContext<typeof Cmd.RELEASE>): Promise<void> {
  await withTarget(ctx, async () => {
    const flags = ctx.header.cmdFlags;
    // REL_ALL releases everything (nothing here); REL_ORPHAN answers the number released: 0.
    const nothingNamed = (flags & (ReleaseFlag.ALL | ReleaseFlag.ORPHAN)) !== 0 || ctx.body.resources.length === 0;
    await ctx.reply(nothingNamed ? 0 : -Errno.EPERM);
  });
}

/** INQUIRE: the target holds no lease: result 0, data2 0, length 32 (docs/wire.md §7.9). */
async function inquire(ctx: CommandContext): Promise<void> {
  await withTarget(ctx, async () => {
    await ctx.reply(0, { data2: 0 });
  });
}

/** CONVERT of a lease the target does not hold: −ENOENT (docs/wire.md §7.25). */
async function convert(ctx: CommandContext): Promise<void> {
  await withTarget(ctx, async () => {
    await ctx.reply(err("ENOENT"));
  });
}

const DISK_COMMANDS: readonly CmdNumber[] = [
  Cmd.ALIGN,
  Cmd.WRITE_LOCKSPACE,
  Cmd.READ_LOCKSPACE,
  Cmd.WRITE_RESOURCE,
  Cmd.READ_RESOURCE,
  Cmd.READ_RESOURCE_OWNERS,
  Cmd.FORMAT_RINDEX,
  Cmd.UPDATE_RINDEX,
  Cmd.LOOKUP_RINDEX,
  Cmd.CREATE_RESOURCE,
  Cmd.DELETE_RESOURCE,
  Cmd.REBUILD_RINDEX,
];

export function registerStubCommands(registry: CommandRegistry): void {
  registry.register(Cmd.ADD_LOCKSPACE, addLockspace);
  registry.register(Cmd.REM_LOCKSPACE, unknownLockspace);
  registry.register(Cmd.INQ_LOCKSPACE, unknownLockspace);
  registry.register(Cmd.GET_HOSTS, unknownLockspace);
  registry.register(Cmd.HOST_STATUS, lockspaceStream);
  registry.register(Cmd.RENEWAL, lockspaceStream);
  registry.register(Cmd.REG_EVENT, eventCommand);
  registry.register(Cmd.SET_EVENT, eventCommand);
  registry.register(Cmd.END_EVENT, eventCommand);
  registry.register(Cmd.EXAMINE_LOCKSPACE, examine);
  registry.register(Cmd.EXAMINE_RESOURCE, examine);
  registry.register(Cmd.REQUEST, notJoined);
  for (const cmd of DISK_COMMANDS) registry.register(cmd, diskCommand);
  registry.register(Cmd.SET_LVB, setLvb);
  registry.register(Cmd.GET_LVB, getLvb);
  registry.register(Cmd.ACQUIRE, acquire);
  registry.register(Cmd.RELEASE, release);
  registry.register(Cmd.INQUIRE, inquire);
  registry.register(Cmd.CONVERT, convert);
}
