/**
 * Commands about the client connection itself: REGISTER (docs/wire.md §7.1, §5.2), RESTRICT (docs/wire.md §7.10,
 * docs/wire.md §5.8), VERSION (docs/wire.md §7.26) and KILLPATH (docs/wire.md §7.16).
 */
import { Cmd, DAEMON_VERSION_3_8_5, HEADER_SIZE, PROTOCOL_VERSION, encodeHeader } from "@sanlock-ts/core/wire";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import { peerCredentials } from "../peer-cred.js";
import { withTarget } from "./target.js";

/** REGISTER: no reply; the peer pid comes from SO_PEERCRED; unreadable credentials close the connection. */
export async function handleRegister(ctx: CommandContext<typeof Cmd.REGISTER>): Promise<void> {
  const { conn, daemon } = ctx;
  let pid: number;
  try {
    pid = peerCredentials(conn.socket).pid;
  } catch (error) {
    daemon.log.error(`cmd_register ci ${conn.ci} fd ${conn.fd}: ${(error as Error).message}`);
    conn.close();
    return;
  }
  // Registering again re-reads the pid (docs/wire.md §5.2); the lease engine keeps whatever it holds.
  conn.pid = pid;
  conn.registered = true;
  conn.name = String(pid);
  daemon.log.debug(`cmd_register ci ${conn.ci} fd ${conn.fd} pid ${pid}`);
}

/** RESTRICT: cmd_flags replace the connection's restriction bits; reply 0. */
export async function handleRestrict(ctx: CommandContext<typeof Cmd.RESTRICT>): Promise<void> {
  ctx.conn.restricted = ctx.header.cmdFlags;
  ctx.daemon.log.debug(`cmd_restrict ci ${ctx.conn.ci} fd ${ctx.conn.fd} flags ${ctx.header.cmdFlags.toString(16)}`);
  await ctx.reply(0);
}

/** VERSION: a fresh header — cmd 28, flags 0, seq 0, length 32, data 0, data2 = daemon version. */
export async function handleVersion(ctx: CommandContext<typeof Cmd.VERSION>): Promise<void> {
  await ctx.send(
    encodeHeader({
      magic: ctx.header.magic,
      version: PROTOCOL_VERSION,
      cmd: Cmd.VERSION,
      cmdFlags: 0,
      length: HEADER_SIZE,
      seq: 0,
      data: 0,
      data2: DAEMON_VERSION_3_8_5 | 0,
    }),
  );
}

/**
 * KILLPATH: stored on the target client (libsanlock sends it "self" on the registered
 * connection, docs/wire.md §5.5). The program runs instead of SIGTERM when the client must give up its
 * leases (docs/wire.md §8.1); the kill logic reads it from the connection.
 */
export async function handleKillpath(ctx: CommandContext<typeof Cmd.KILLPATH>): Promise<void> {
  await withTarget(ctx, async (target) => {
    const { path, args } = ctx.body.killpath;
    target.killpath = { path, args, flags: ctx.header.cmdFlags };
    ctx.daemon.log.debug(`cmd_killpath ci ${target.ci} pid ${target.pid} path ${path}`);
    await ctx.reply(0);
  });
}

export function registerSessionCommands(registry: CommandRegistry): void {
  registry.register(Cmd.REGISTER, handleRegister);
  registry.register(Cmd.RESTRICT, handleRestrict);
  registry.register(Cmd.VERSION, handleVersion);
  registry.register(Cmd.KILLPATH, handleKillpath);
}
