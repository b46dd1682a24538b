/**
 * SHUTDOWN (docs/wire.md §7.4, class A) and SHUTDOWN_WAIT (docs/wire.md §7.27, class C); semantics docs/wire.md §8.3.
 *
 * Not forced: exit only when no lockspace exists in any list; SHUTDOWN is then silently
 * ignored and SHUTDOWN_WAIT answers −EBUSY. Forced: every lockspace is removed first.
 * SHUTDOWN_WAIT's reply is a fresh header with cmd 0, sent just before the daemon exits.
 */
import { Errno, HEADER_SIZE, PROTOCOL_VERSION, WIRE_MAGIC, encodeHeader, Cmd } from "@sanlock-ts/core/wire";
import type { CommandContext, CommandRegistry } from "../dispatch.js";

function shutdownAllowed(ctx: CommandContext, force: boolean): boolean {
  return force || ctx.daemon.lockspaces.count() === 0;
}

export async function handleShutdown(ctx: CommandContext): Promise<void> {
  const force = ctx.header.data !== 0;
  if (!shutdownAllowed(ctx, force)) {
    ctx.daemon.log.warn(`shutdown ignored: ${ctx.daemon.lockspaces.count()} lockspaces exist`);
    return;
  }
  // No reply; the server closes this connection. The exit itself runs on its own.
  void ctx.daemon.requestShutdown(force);
}

/** The reply SHUTDOWN_WAIT receives at exit (docs/wire.md §7.27, recorded). */
export const SHUTDOWN_WAIT_REPLY = encodeHeader({
  magic: WIRE_MAGIC,
  version: PROTOCOL_VERSION,
  cmd: 0,
  cmdFlags: 0,
  length: HEADER_SIZE,
  seq: 0,
  data: 0,
  data2: 0,
});

export async function handleShutdownWait(ctx: CommandContext): Promise<void> {
  const force = ctx.header.data !== 0;
  if (!shutdownAllowed(ctx, force)) {
    await ctx.reply(-Errno.EBUSY);
    return;
  }
  await ctx.daemon.requestShutdown(force);
  await ctx.send(SHUTDOWN_WAIT_REPLY);
}

export function registerShutdownCommands(registry: CommandRegistry): void {
  registry.register(Cmd.SHUTDOWN, handleShutdown);
  registry.register(Cmd.SHUTDOWN_WAIT, handleShutdownWait);
}
