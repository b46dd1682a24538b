/** SET_CONFIG (docs/wire.md §7.29): lockspace usage flags, answered by the lockspace engine. */
import { Cmd } from "@sanlock-ts/core/wire";
import type { CommandContext, CommandRegistry } from "../dispatch.js";

export async function handleSetConfig(ctx: CommandContext<typeof Cmd.SET_CONFIG>): Promise<void> {
  const { lockspace } = ctx.body;
  const result = ctx.daemon.lockspaces.setConfig(lockspace.name, ctx.header.data);
  ctx.daemon.log.debug(`cmd_set_config ${lockspace.name} cmd ${ctx.header.data} rv ${result}`);
  // data2 is echoed in this reply (docs/wire.md §3).
  await ctx.reply(result, { data2: ctx.header.data2 });
}

export function registerConfigCommands(registry: CommandRegistry): void {
  registry.register(Cmd.SET_CONFIG, handleSetConfig);
}
