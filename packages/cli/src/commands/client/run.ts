/**
 * Dispatch of `sanlock-ts client <action>`: each group of actions lives in its
 * own module, imported only when one of its actions runs.
 */
import { CliArgError } from "../../args/errors.js";
import type { ParsedArgs } from "../command-module.js";
import { EXIT_FAILURE, EXIT_OK, type Output } from "../../output.js";
import { ClientContext, type ClientAction } from "./context.js";

type Loader = () => Promise<ClientAction>;

const state =
  (name: string): Loader =>
  async () =>
    (await import("./state-actions.js")).STATE_ACTIONS[name] as ClientAction;
const metrics: Loader = async () => (await import("./metrics-action.js")).metricsAction;
const lockspace =
  (name: string): Loader =>
  async () =>
    (await import("./lockspace-actions.js")).LOCKSPACE_ACTIONS[name] as ClientAction;
const lease =
  (name: string): Loader =>
  async () =>
    (await import("./lease-actions.js")).LEASE_ACTIONS[name] as ClientAction;
const rindex =
  (name: string): Loader =>
  async () =>
    (await import("./rindex-actions.js")).RINDEX_ACTIONS[name] as ClientAction;

/** Every action of `sanlock help` 3.8.5 for the client command, plus its aliases (write = init). */
export const CLIENT_ACTIONS: Readonly<Record<string, Loader>> = {
  status: state("status"),
  host_status: state("host_status"),
  renewal: state("renewal"),
  gets: state("gets"),
  log_dump: state("log_dump"),
  shutdown: state("shutdown"),
  version: state("version"),
  set_event: state("set_event"),
  set_config: state("set_config"),
  metrics,
  add_lockspace: lockspace("add_lockspace"),
  inq_lockspace: lockspace("inq_lockspace"),
  rem_lockspace: lockspace("rem_lockspace"),
  init: lockspace("init"),
  write: lockspace("init"),
  read: lockspace("read"),
  align: lockspace("align"),
  examine: lockspace("examine"),
  command: lease("command"),
  acquire: lease("acquire"),
  convert: lease("convert"),
  release: lease("release"),
  inquire: lease("inquire"),
  request: lease("request"),
  format: rindex("format"),
  rebuild: rindex("rebuild"),
  create: rindex("create"),
  delete: rindex("delete"),
  lookup: rindex("lookup"),
  update: rindex("update"),
};

export async function runClient(args: ParsedArgs, output: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const action = String(args.action ?? "");
  const load = Object.hasOwn(CLIENT_ACTIONS, action) ? CLIENT_ACTIONS[action] : undefined;
  if (load === undefined) {
    output.line(`client action "${action}" is unknown`);
    return EXIT_FAILURE;
  }
  if (action !== "command" && Array.isArray(args.args) && args.args.length > 0) {
    output.error(`sanlock-ts: unexpected argument "${String(args.args[0])}" (options take a separate value: -X value)`);
    return EXIT_FAILURE;
  }
  try {
    const ctx = new ClientContext(args, output, env);
    const run = await load();
    const rv = await run(ctx);
    return rv === 0 ? EXIT_OK : EXIT_FAILURE;
  } catch (err) {
    if (err instanceof CliArgError) {
      output.error(`sanlock-ts: ${err.message} (${err.code})`);
      return EXIT_FAILURE;
    }
    throw err;
  }
}
