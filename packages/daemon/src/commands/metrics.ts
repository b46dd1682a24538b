/**
 * The metrics request (docs/wire.md §15, core wire/extensions.ts): a SET_CONFIG with an empty
 * lockspace name and `data` = TS_METRICS_CONFIG_CMD is answered with the metrics snapshot as
 * JSON; every other SET_CONFIG goes to its own handler (config.ts) unchanged.
 */
import { Cmd, TS_METRICS_CONFIG_CMD, TS_METRICS_MAX_PAYLOAD } from "@sanlock-ts/core/wire";
import { Errno } from "@sanlock-ts/core/wire";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import type { DaemonMetrics } from "../metrics.js";
import { handleSetConfig } from "./config.js";

async function replyMetrics(ctx: CommandContext<typeof Cmd.SET_CONFIG>, metrics: DaemonMetrics): Promise<void> {
  const payload = new TextEncoder().encode(JSON.stringify(metrics.snapshot()));
  ctx.daemon.log.debug(`cmd_metrics ${payload.byteLength} bytes`);
  // Bounded label sets keep the snapshot far below the limit; should it ever exceed it, say so.
  if (payload.byteLength > TS_METRICS_MAX_PAYLOAD) {
    await ctx.reply(-Errno.E2BIG, { data2: ctx.header.data2 });
    return;
  }
  await ctx.reply(0, { data2: ctx.header.data2, payload });
}

export function registerMetricsCommand(registry: CommandRegistry, metrics: DaemonMetrics): void {
  registry.register(Cmd.SET_CONFIG, (ctx) => {
    if (ctx.header.data === TS_METRICS_CONFIG_CMD && ctx.body.lockspace.name === "") return replyMetrics(ctx, metrics);
    return handleSetConfig(ctx);
  });
}
