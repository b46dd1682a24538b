/**
 * Logs every command as sanlock 3.8.5 logs it (its cmd.c log_cmd lines), so that an operator can
 * read the two daemons' logs side by side: a line when a command starts, naming its arguments,
 * and one when it ends, with its result. `ci,fd` is the request connection (class D: the target
 * client's ci,fd,pid and then `ci_in`/`fd` of the request connection).
 *
 * Commands sanlock leaves out by default (its debug_cmds mask, status.ts DEFAULT_DEBUG_CMDS:
 * INQ_LOCKSPACE, WRITE_RESOURCE, READ_LOCKSPACE, READ_RESOURCE, GET_LOCKSPACES, GET_HOSTS,
 * READ_RESOURCE_OWNERS) are left out here too. REGISTER and SET_CONFIG log their own lines.
 *
 * Installed by wrapping the registry's handlers (logCommands), so no handler changes.
 */
import { Cmd, type CmdNumber, type RequestBodies, type SanlkDisk, type SanlkLockspace, type SanlkResource } from "@sanlock-ts/core/wire";
import { lookupTarget } from "./commands/target.js";
import type { Connection } from "./connection.js";
import type { CommandContext, CommandHandler, CommandRegistry } from "./dispatch.js";
import { DEFAULT_DEBUG_CMDS } from "./status.js";

type Ctx = CommandContext;
/** The start line, or undefined when the command logs nothing at its start. */
type Begin = (ctx: Ctx, ids: string) => string | undefined;
/** The end line from the replied result; `dead` is the target client's pid_dead (class D). */
type End = (ctx: Ctx, ids: string, result: number, dead: number) => string | undefined;

const hex = (n: number): string => (n >>> 0).toString(16);
const lsText = (ls: SanlkLockspace): string => `${ls.name}:${ls.hostId}:${ls.hostIdDisk.path}:${ls.hostIdDisk.offset}`;
const diskText = (d: SanlkDisk | undefined): string => (d === undefined ? ":0" : `${d.path}:${d.offset}`);
const resText = (r: SanlkResource): string => `${r.lockspaceName}:${r.name}:${diskText(r.disks[0])}`;
const bodyOf = <C extends CmdNumber>(ctx: Ctx, _cmd: C): RequestBodies[C] => ctx.body as RequestBodies[C];

/** What is logged per command: sanlock's words (cmd.c). */
const LINES: Partial<Record<number, { begin?: Begin; end?: End; registered?: boolean }>> = {
  [Cmd.ADD_LOCKSPACE]: {
    begin: (ctx, ids) =>
      `cmd_add_lockspace ${ids} ${lsText(bodyOf(ctx, Cmd.ADD_LOCKSPACE).lockspace)} flags ${hex(ctx.header.cmdFlags)} timeout ${ctx.header.data}`,
    end: (_ctx, ids, rv) => `cmd_add_lockspace ${ids} done ${rv}`,
  },
  [Cmd.REM_LOCKSPACE]: {
    begin: (ctx, ids) => `cmd_rem_lockspace ${ids} ${bodyOf(ctx, Cmd.REM_LOCKSPACE).lockspace.name} flags ${hex(ctx.header.cmdFlags)}`,
    end: (_ctx, ids, rv) => `cmd_rem_lockspace ${ids} done ${rv}`,
  },
  [Cmd.WRITE_LOCKSPACE]: {
    begin: (ctx, ids) => `cmd_write_lockspace ${ids} ${lsText(bodyOf(ctx, Cmd.WRITE_LOCKSPACE).lockspace)} 0x${hex(ctx.header.cmdFlags)}`,
    end: (_ctx, ids, rv) => `cmd_write_lockspace ${ids} done ${rv}`,
  },
  [Cmd.ALIGN]: { begin: (_ctx, ids) => `cmd_align ${ids}`, end: (_ctx, ids, rv) => `cmd_align ${ids} done ${rv}` },
  [Cmd.REQUEST]: {
    begin: (ctx, ids) => `cmd_request ${ids} force_mode ${ctx.header.data} ${resText(bodyOf(ctx, Cmd.REQUEST).resource)}`,
    end: (_ctx, ids, rv) => `cmd_request ${ids} done ${rv}`,
  },
  [Cmd.EXAMINE_RESOURCE]: {
    begin: (ctx, ids) => {
      const r = bodyOf(ctx, Cmd.EXAMINE_RESOURCE).resource;
      return `cmd_examine ${ids} ${r.lockspaceName} ${r.name}`;
    },
    end: (_ctx, ids, rv) => `cmd_examine ${ids} done ${rv}`,
  },
  [Cmd.EXAMINE_LOCKSPACE]: {
    begin: (ctx, ids) => `cmd_examine ${ids} ${bodyOf(ctx, Cmd.EXAMINE_LOCKSPACE).lockspace.name} `,
    end: (_ctx, ids, rv) => `cmd_examine ${ids} done ${rv}`,
  },
  [Cmd.STATUS]: { begin: (_ctx, ids) => `cmd_status ${ids}` },
  [Cmd.HOST_STATUS]: { begin: (_ctx, ids) => `cmd_host_status ${ids}` },
  [Cmd.FORMAT_RINDEX]: {
    begin: (ctx, ids) => {
      const x = bodyOf(ctx, Cmd.FORMAT_RINDEX).rindex;
      return `cmd_format_rindex ${ids} ${x.lockspaceName} ${diskText(x.disk)}`;
    },
    end: (_ctx, ids, rv) => `cmd_format_rindex ${ids} done ${rv}`,
  },
  [Cmd.REBUILD_RINDEX]: {
    begin: (ctx, ids) => {
      const x = bodyOf(ctx, Cmd.REBUILD_RINDEX).rindex;
      return `cmd_rebuild_rindex ${ids} ${x.lockspaceName} ${diskText(x.disk)}`;
    },
    end: (_ctx, ids, rv) => `cmd_rebuild_rindex ${ids} done ${rv}`,
  },
  [Cmd.ACQUIRE]: {
    registered: true,
    begin: (ctx, ids) =>
      `cmd_acquire ${ids} ci_in ${ctx.conn.ci} fd ${ctx.conn.fd} count ${bodyOf(ctx, Cmd.ACQUIRE).resources.length} flags ${hex(ctx.header.cmdFlags)}`,
    end: (_ctx, ids, rv, dead) => `cmd_acquire ${ids} result ${rv} pid_dead ${dead}`,
  },
  [Cmd.RELEASE]: {
    registered: true,
    begin: (ctx, ids) =>
      `cmd_release ${ids} ci_in ${ctx.conn.ci} fd ${ctx.conn.fd} count ${bodyOf(ctx, Cmd.RELEASE).resources.length} flags ${hex(ctx.header.cmdFlags)}`,
    end: (ctx, ids, rv, dead) => `cmd_release ${ids} result ${rv} pid_dead ${dead} count ${bodyOf(ctx, Cmd.RELEASE).resources.length}`,
  },
  [Cmd.INQUIRE]: {
    registered: true,
    begin: (ctx, ids) => `cmd_inquire ${ids} ci_in ${ctx.conn.ci} fd ${ctx.conn.fd}`,
    end: (_ctx, ids, rv, dead) => `cmd_inquire ${ids} result ${rv} pid_dead ${dead}`,
  },
  [Cmd.CONVERT]: {
    registered: true,
    begin: (ctx, ids) => `cmd_convert ${ids} ci_in ${ctx.conn.ci} fd ${ctx.conn.fd}`,
    end: (_ctx, ids, rv, dead) => `cmd_convert ${ids} result ${rv} pid_dead ${dead}`,
  },
  [Cmd.KILLPATH]: { registered: true, begin: (ctx, ids) => `cmd_killpath ${ids} flags ${hex(ctx.header.cmdFlags)}` },
};

/** The class D target (docs/wire.md §5.5), looked up as the handler will; undefined when there is none. */
function targetOf(ctx: Ctx): Connection | undefined {
  const found = lookupTarget(ctx);
  return "target" in found ? found.target : undefined;
}

/** "ci,fd" of the request connection; for class D "ci,fd,pid" of the target client. */
function idsOf(ctx: Ctx, target: Connection | undefined, registered: boolean): string {
  if (!registered) return `${ctx.conn.ci},${ctx.conn.fd}`;
  return target === undefined ? `${ctx.conn.ci},${ctx.conn.fd},${ctx.header.data2}` : `${target.ci},${target.fd},${target.pid}`;
}

function logged(cmd: number): boolean {
  return (DEFAULT_DEBUG_CMDS & (1n << BigInt(cmd))) !== 0n;
}

function withLog(cmd: number, handle: CommandHandler): CommandHandler {
  const lines = LINES[cmd];
  if (lines === undefined || !logged(cmd)) return handle;
  return async (ctx) => {
    const registered = lines.registered === true;
    const target = registered ? targetOf(ctx) : undefined;
    const ids = idsOf(ctx, target, registered);
    const begin = lines.begin?.(ctx, ids);
    if (begin !== undefined) ctx.daemon.log.info(begin);
    let result: number | undefined;
    const reply = ctx.reply.bind(ctx);
    ctx.reply = (rv, options) => {
      result = rv;
      return reply(rv, options);
    };
    await handle(ctx);
    if (result !== undefined) {
      const end = lines.end?.(ctx, ids, result, target?.pidDead ? 1 : 0);
      if (end !== undefined) ctx.daemon.log.info(end);
    }
  };
}

/** Wraps every registered handler that sanlock logs (call after all handlers are registered). */
export function logCommands(registry: CommandRegistry): void {
  for (const key of Object.keys(LINES)) {
    const cmd = Number(key) as CmdNumber;
    const spec = registry.get(cmd);
    if (spec !== undefined) registry.register(cmd, withLog(cmd, spec.handle));
  }
}
