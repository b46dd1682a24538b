/**
 * Finding the client a class D command acts on (docs/wire.md §5.5).
 *
 * data2 = −1 ("self"): the request connection, which must be registered (else −EBUSY).
 * Any other data2 is a pid: the first registered client with that pid (else −ESRCH).
 * A dead target or one with a class D command already in progress gives −EBUSY, and so does
 * ACQUIRE for a target being killed.
 */
import { Cmd, Errno, SELF_PID, type CmdNumber } from "@sanlock-ts/core/wire";
import type { Connection } from "../connection.js";
import type { CommandContext } from "../dispatch.js";

export type TargetLookup = { readonly target: Connection } | { readonly error: number };

export function lookupTarget(ctx: Pick<CommandContext, "header" | "conn" | "daemon">): TargetLookup {
  const { header, conn, daemon } = ctx;
  const target = header.data2 === SELF_PID ? conn : daemon.clients.findRegistered(header.data2);
  if (target === undefined) return { error: -Errno.ESRCH };
  if (!target.registered || target.isClosed || target.pidDead) return { error: -Errno.EBUSY };
  if (target.cmdActive !== 0) return { error: -Errno.EBUSY };
  // sanlock (process_cmd_thread_registered): a client being killed may not ACQUIRE, by itself or
  // by pid, in any lockspace; INQUIRE and RELEASE stay allowed so its killpath can use them.
  if (target.killCount > 0 && header.cmd === Cmd.ACQUIRE) return { error: -Errno.EBUSY };
  return { target };
}

/** Runs `work` with the target marked busy; replies with the lookup error otherwise. */
export async function withTarget<C extends CmdNumber>(ctx: CommandContext<C>, work: (target: Connection) => Promise<void>): Promise<void> {
  const found = lookupTarget(ctx);
  if ("error" in found) {
    await ctx.reply(found.error);
    return;
  }
  const target = found.target;
  target.cmdActive = ctx.header.cmd;
  try {
    await work(target);
  } finally {
    target.cmdActive = 0;
  }
}
