/**
 * Read-only daemon information: STATUS (docs/wire.md §7.5), LOG_DUMP (docs/wire.md §7.6), GET_LOCKSPACES (docs/wire.md §7.21).
 * All three are class A: the server closes the connection after the reply.
 */
import { Cmd, Errno, LOCKSPACE_SIZE, MAX_LIST_PAYLOAD, encodeLockspace, encodeStateRecord } from "@sanlock-ts/core/wire";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import { statusRecords } from "../status.js";

/**
 * STATUS: header (length 32, data 0, data2 echoed), then records until the close.
 * Records are built first so the stream is one consistent snapshot.
 */
export async function handleStatus(ctx: CommandContext): Promise<void> {
  const records = statusRecords(ctx.daemon, ctx.header.data);
  if (!(await ctx.reply(0, { data2: ctx.header.data2 }))) return;
  for (const record of records) {
    if (!(await ctx.send(encodeStateRecord(record)))) return;
  }
}

/** LOG_DUMP: `length` left as received, `data` = byte count, then the text. */
export async function handleLogDump(ctx: CommandContext): Promise<void> {
  const text = ctx.daemon.log.dump();
  await ctx.reply(text.byteLength, { data2: ctx.header.data2, payload: text, length: ctx.header.length });
}

/**
 * GET_LOCKSPACES: data2 = total count; k structs follow, k = count unless they exceed the
 * 1 MiB list limit, then −ENOSPC with as many as fit (libsanlock reads data2 structs).
 */
export async function handleGetLockspaces(ctx: CommandContext): Promise<void> {
  const all = ctx.daemon.lockspaces.list();
  const fitting = Math.min(all.length, Math.floor(MAX_LIST_PAYLOAD / LOCKSPACE_SIZE));
  const payload = new Uint8Array(fitting * LOCKSPACE_SIZE);
  all.slice(0, fitting).forEach((ls, index) => {
    // GET_LOCKSPACES zeroes the disk pads (docs/wire.md §13.6).
    const clean = { ...ls, hostIdDisk: { ...ls.hostIdDisk, pad1: 0, pad2: 0 } };
    payload.set(encodeLockspace(clean), index * LOCKSPACE_SIZE);
  });
  const result = fitting < all.length ? -Errno.ENOSPC : 0;
  await ctx.reply(result, { data2: Math.min(fitting, all.length), payload });
}

export function registerInfoCommands(registry: CommandRegistry): void {
  registry.register(Cmd.STATUS, handleStatus);
  registry.register(Cmd.LOG_DUMP, handleLogDump);
  registry.register(Cmd.GET_LOCKSPACES, handleGetLockspaces);
}
