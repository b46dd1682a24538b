/**
 * `sanlock-ts client metrics [--json | --prometheus]`: the daemon's counters and latency
 * histograms (metrics request, docs/wire.md §15). A daemon without metrics (the real sanlock
 * answers −ENOENT) gives "not supported by this daemon" and exit status 1, at once.
 */
import { requestMetrics } from "@sanlock-ts/client/metrics";
import { libsanlockResultOf, type ClientContext } from "./context.js";
import { asSnapshot, plainText, prometheusText } from "./metrics-format.js";

export async function metricsAction(ctx: ClientContext): Promise<number> {
  let reply: Awaited<ReturnType<typeof requestMetrics>>;
  try {
    reply = await requestMetrics(ctx.quick);
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.explain("metrics", rv);
    return rv;
  }
  if (!reply.supported) {
    ctx.output.error(`metrics: not supported by this daemon (it answered ${reply.result})`);
    return reply.result;
  }
  const snapshot = asSnapshot(reply.snapshot);
  if (ctx.json) ctx.output.line(JSON.stringify(snapshot, null, 2));
  else if (ctx.args.prometheus === true) for (const line of prometheusText(snapshot)) ctx.output.line(line);
  else for (const line of plainText(snapshot)) ctx.output.line(line);
  return 0;
}
