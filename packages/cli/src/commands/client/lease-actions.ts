/**
 * Lease actions: command, acquire, convert, release, inquire, request
 * (docs/wire.md §7.1, §7.7–§7.11, §7.25, §11.8–§11.9).
 */
import * as ops from "@sanlock-ts/client/operations";
import { Registration } from "@sanlock-ts/client/registration";
import { formatResourceString, parseStateString } from "@sanlock-ts/client/resource-string";
import { AcquireFlag, ReleaseFlag, ResFlag } from "@sanlock-ts/client/wire";
import { CliArgError } from "../../args/errors.js";
import { parseLockspaceArg } from "../../args/sanlock-strings.js";
import type { ClientAction } from "./context.js";
import { libsanlockResultOf, rvOf, type ClientContext } from "./context.js";
import { acquireSpec, resourceArgs } from "./resource-args.js";
import { toJson } from "./status-format.js";

function pidOf(ctx: ClientContext): number {
  const pid = ctx.int("p", 0);
  if (pid <= 0) throw new CliArgError("ERR_CLI_MISSING_ARG", "-p <pid> is required (a registered process)");
  return pid;
}

async function acquire(ctx: ClientContext): Promise<number> {
  const pid = pidOf(ctx);
  const resources = resourceArgs(ctx, 1);
  if (resources === null) return -1;
  ctx.output.line(`acquire pid ${pid}`);
  const flags = ctx.int("O") ? AcquireFlag.ORPHAN : 0;
  const rv = await rvOf(() =>
    ops.acquire(
      ctx.waiting,
      { pid },
      resources.map((r) => acquireSpec(ctx, r)),
      flags,
    ),
  );
  ctx.output.line(`acquire done ${rv}`);
  ctx.explain("acquire", rv);
  return rv;
}

async function convert(ctx: ClientContext): Promise<number> {
  const pid = pidOf(ctx);
  const resources = resourceArgs(ctx, 1);
  if (resources === null) return -1;
  const r = resources[0] as (typeof resources)[number];
  ctx.output.line(`convert pid ${pid}`);
  const rv = await rvOf(() => ops.convert(ctx.waiting, { pid }, r.spec, { shared: r.arg.shared, ownerNowait: false }));
  ctx.output.line(`convert done ${rv}`);
  ctx.explain("convert", rv);
  return rv;
}

/** release -r ... -p PID [-a 1] [-O 1]; -O 1 -s NAME without -r releases the lockspace's orphans (docs/wire.md §7.8). */
async function release(ctx: ClientContext): Promise<number> {
  const pid = pidOf(ctx);
  const orphan = ctx.int("O") !== 0;
  const all = ctx.int("a") !== 0;
  const resources = resourceArgs(ctx, 0);
  if (resources === null) return -1;
  const specs = resources.map((r) => r.spec);
  const s = ctx.opt("s");
  if (orphan && specs.length === 0 && s !== undefined) specs.push({ lockspace: parseLockspaceArg(s).name, resource: "", disks: [] });
  if (specs.length === 0 && !all) throw new CliArgError("ERR_CLI_MISSING_ARG", "-r RESOURCE (or -a 1, or -O 1 -s LOCKSPACE) is required");
  ctx.output.line(`release pid ${pid}`);
  const flags = (orphan ? ReleaseFlag.ORPHAN : 0) | (all ? ReleaseFlag.ALL : 0);
  let rv: number;
  try {
    rv = await ops.release(ctx.quick, { pid }, specs, flags);
  } catch (err) {
    rv = libsanlockResultOf(err);
  }
  ctx.output.line(`release done ${rv}`);
  ctx.explain("release", rv);
  return rv;
}

/** inquire -p PID [-D] (docs/wire.md §11.8). */
async function inquire(ctx: ClientContext): Promise<number> {
  const pid = pidOf(ctx);
  let got: { result: number; count: number; state: string };
  try {
    got = await ops.inquireRaw(ctx.quick, { pid });
  } catch (err) {
    got = { result: libsanlockResultOf(err), count: 0, state: "" };
  }
  if (ctx.json) {
    if (got.result >= 0) ctx.output.line(toJson(got.state === "" ? [] : parseStateString(got.state)));
    ctx.explain("inquire", got.result);
    return got.result;
  }
  ctx.output.line(`inquire pid ${pid}`);
  ctx.output.line(`inquire done ${got.result} res_count ${got.count}`);
  ctx.explain("inquire", got.result);
  if (got.result < 0) return got.result;
  ctx.output.line(`"${got.state === "" ? "(null)" : got.state}"`);
  if (!ctx.debug || got.state === "") return got.result;
  const parsed = parseStateString(got.state);
  ctx.output.line("");
  ctx.output.line(`state_to_args done 0 res_count ${parsed.length}`);
  for (const r of parsed) {
    const d = r.disks[0];
    ctx.output.line(`"${r.lockspace}:${r.resource}:${d?.path ?? ""}:${d?.offset ?? 0n}:${r.version}"`);
  }
  ctx.output.line("");
  ctx.output.line("args_to_state done 0");
  const state = parsed.map((r) => formatResourceString({ ...r, shared: (r.flags & ResFlag.SHARED) !== 0 })).join(" ");
  ctx.output.line(`"${state}"`);
  return got.result;
}

/** request -r RES[:LVER] -f MODE: the version is the string's LVER (0 = none), flags 0 (docs/wire.md §7.11). */
async function request(ctx: ClientContext): Promise<number> {
  const resources = resourceArgs(ctx, 1);
  if (resources === null) return -1;
  const r = resources[0] as (typeof resources)[number];
  const action = Number(ctx.u64("f"));
  ctx.output.line("request");
  const rv = await rvOf(() => ops.requestRaw(ctx.quick, { ...r.spec, action, version: r.arg.lver ?? 0n }));
  ctx.output.line(`request done ${rv}`);
  ctx.explain("request", rv);
  return rv;
}

/** The program and arguments after -c, as typed (yargs would read option-like arguments as options). */
function commandLine(ctx: ClientContext): string[] {
  const argv = process.argv;
  const at = argv.indexOf("command");
  const c = at >= 0 ? argv.indexOf("-c", at) : -1;
  if (c >= 0) return argv.slice(c + 1);
  const path = ctx.opt("c");
  const rest = Array.isArray(ctx.args.args) ? ctx.args.args.map(String) : [];
  return path === undefined ? [] : [path, ...rest];
}

/**
 * command -r RES ... [-c PATH ARGS]: register, acquire on the registered
 * connection, then become PATH (docs/wire.md §7.1), as sanlock does: execv in place, so the
 * program keeps this pid and the registered socket, and the daemon releases the
 * leases only once the program has exited (exec-holder.ts). No
 * PATH search (execv). If execv fails, sanlock prints "execv failed: <strerror>"
 * and exits 0, the leases going with the process; so do we. Without -c the
 * leases are held until this process is killed.
 */
async function command(ctx: ClientContext): Promise<number> {
  const resources = resourceArgs(ctx, 1);
  if (resources === null) return -1;
  const argv = commandLine(ctx);
  ctx.output.line("register");
  // Register and acquire with this bundle's client code, whose errors libsanlockResultOf reads;
  // the exec holder then takes the registration over.
  let registration: Registration;
  try {
    registration = await Registration.open(ctx.socketPath, ctx.quick);
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.output.line(`register done ${rv}`);
    ctx.explain("register", rv);
    return rv;
  }
  const fd = registration.fd;
  ctx.output.line(`register done ${fd}`);
  ctx.output.line(`acquire fd ${fd}`);
  const flags = ctx.int("O") ? AcquireFlag.ORPHAN : 0;
  const rv = await rvOf(() =>
    ops.acquire(
      ctx.waiting,
      { registration },
      resources.map((r) => acquireSpec(ctx, r)),
      flags,
    ),
  );
  ctx.output.line(`acquire done ${rv}`);
  ctx.explain("acquire", rv);
  if (rv < 0) {
    await registration.close();
    return rv;
  }
  const [path, ...args] = argv;
  if (path === undefined) {
    await new Promise<never>(() => undefined); // like sanlock: hold the leases until killed
  }
  // Loaded here only: koffi (libc) stays off the path of every other client action.
  const { ExecHolder } = await import("@sanlock-ts/cli/exec-holder");
  const failure = await ExecHolder.adopt(registration, ctx.socketPath).becomeProgram(path as string, args);
  ctx.output.error(`execv failed: ${failure.message}`);
  ctx.output.error(`sanlock-ts: command: ${path as string} was not executed (${failure.code}); its leases are released; exit status 0, as sanlock 3.8.5`);
  await registration.close(); // the daemon releases the leases (docs/wire.md §5.7)
  return 0;
}

export const LEASE_ACTIONS: Readonly<Record<string, ClientAction>> = {
  command,
  acquire,
  convert,
  release,
  inquire,
  request,
};
