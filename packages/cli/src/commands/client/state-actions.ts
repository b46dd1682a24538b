/**
 * Daemon-wide actions: status, host_status, renewal, gets, log_dump,
 * shutdown, version, set_event, set_config (docs/wire.md §7, §11).
 */
import * as ops from "@sanlock-ts/client/operations";
import { HOST_STATE_MASK, LsFlag, ConfigCmd, StateType, DAEMON_VERSION_3_8_5, PROTOCOL_VERSION } from "@sanlock-ts/client/wire";
import { Errno } from "@sanlock-ts/client/wire";
import { parseLockspaceArg } from "../../args/sanlock-strings.js";
import type { ClientAction } from "./context.js";
import { libsanlockResultOf, rvOf, type ClientContext } from "./context.js";
import { recordJson, recordLines, sortRecords, toJson } from "./status-format.js";

/** STATUS, printed record by record or sorted with -o p|s; exit 1 only when the daemon cannot be reached (docs/wire.md §11.1). */
async function status(ctx: ClientContext): Promise<number> {
  let st: ops.DaemonStatus;
  try {
    st = await ops.status(ctx.quick, 0);
  } catch (err) {
    // Nothing is printed when the daemon cannot be reached; exit status 1 (docs/wire.md §11.1).
    const rv = libsanlockResultOf(err);
    ctx.explain("status", rv);
    return rv;
  }
  if (ctx.json) {
    const { supervisedRecords } = await import("./supervised-json.js");
    ctx.output.line(toJson([...st.records.map(recordJson), ...(await supervisedRecords())]));
    return 0;
  }
  const sort = ctx.opt("o");
  const ordered = sort === "p" || sort === "s" ? sortRecords(st.records, sort) : st.records;
  for (const item of ordered) {
    if (item === "-") ctx.output.line("-");
    else recordLines(item, ctx.debug).forEach((line) => ctx.output.line(line));
  }
  return 0;
}

/** HOST_STATUS lines for one lockspace; returns the result (nothing printed on failure). */
async function printHosts(ctx: ClientContext, name: string, json: Record<string, unknown>[] | null): Promise<number> {
  let records;
  try {
    records = await ops.hostStatus(ctx.quick, name);
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.explain("host_status", rv);
    return rv;
  }
  for (const r of records.filter((x) => x.type === StateType.HOST)) {
    if (json) {
      json.push({ lockspace: name, ...recordJson(r) });
      continue;
    }
    ctx.output.line(`${r.data32} timestamp ${r.data64}`);
    if (ctx.debug) r.str.split(" ").forEach((token) => ctx.output.line(`    ${token}`));
  }
  return 0;
}

/** host_status -s NAME, or without -s every lockspace from STATUS level 3 (docs/wire.md §11.3). */
async function hostStatus(ctx: ClientContext): Promise<number> {
  const json: Record<string, unknown>[] | null = ctx.json ? [] : null;
  const s = ctx.opt("s");
  if (s !== undefined) {
    const rv = await printHosts(ctx, parseLockspaceArg(s).name, json);
    if (json && rv === 0) ctx.output.line(toJson(json));
    return rv;
  }
  let st: ops.DaemonStatus;
  try {
    st = await ops.status(ctx.quick, 3);
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.explain("host_status", rv);
    return rv;
  }
  for (const ls of st.lockspaces) {
    if (!json) ctx.output.line(`lockspace ${ls.lockspace}`);
    await printHosts(ctx, ls.lockspace, json);
  }
  if (json) ctx.output.line(toJson(json));
  return 0;
}

/** renewal -s NAME: one line per renewal record, oldest first (docs/wire.md §11.5). */
async function renewal(ctx: ClientContext): Promise<number> {
  const name = parseLockspaceArg(ctx.require("s", "LOCKSPACE")).name;
  try {
    const { records } = await ops.renewal(ctx.quick, name);
    const renewals = records.filter((r) => r.type === StateType.RENEWAL);
    if (ctx.json) ctx.output.line(toJson(renewals.map((r) => recordJson(r).state)));
    else renewals.forEach((r) => ctx.output.line(r.str));
    return 0;
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.explain("renewal", rv);
    return rv;
  }
}

const HOST_STATE_NAMES: Readonly<Record<number, string>> = { 1: "UNKNOWN", 2: "FREE", 3: "LIVE", 4: "FAIL", 5: "DEAD" };

function lsfText(flags: number): string {
  return `${flags & LsFlag.ADD ? "ADD " : ""}${flags & LsFlag.REM ? "REM " : ""}`;
}

/** gets [-h 0|1]: lockspaces and, with -h 1, their hosts (docs/wire.md §11.4). */
async function gets(ctx: ClientContext): Promise<number> {
  let listing: { result: number; lockspaces: ops.LockspaceInfo[] };
  try {
    listing = await ops.getLockspacesRaw(ctx.quick);
  } catch (err) {
    listing = { result: libsanlockResultOf(err), lockspaces: [] };
  }
  const withHosts = ctx.int("h") !== 0;
  if (listing.result < 0) {
    ctx.output.line(`gets error ${listing.result}`);
    ctx.explain("gets", listing.result);
    if (listing.result !== -Errno.ENOSPC) return listing.result; // −ENOSPC: the partial listing still follows
  }
  const json: Record<string, unknown>[] = [];
  for (const ls of listing.lockspaces) {
    const entry: Record<string, unknown> = { ...ls };
    if (!ctx.json) ctx.output.line(`s ${ls.lockspace}:${ls.hostId}:${ls.path}:${ls.offset} ${lsfText(ls.flags)}`);
    if (withHosts) {
      try {
        const hosts = await ops.getHosts(ctx.quick, { lockspace: ls.lockspace, hostId: 0n });
        entry.hosts = hosts;
        if (!ctx.json) {
          for (const h of hosts) {
            ctx.output.line(`h ${h.hostId} gen ${h.generation} timestamp ${h.timestamp} ${HOST_STATE_NAMES[h.flags & HOST_STATE_MASK] ?? "ERROR"}`);
          }
        }
      } catch (err) {
        const rv = libsanlockResultOf(err);
        entry.hostsError = rv;
        if (!ctx.json) ctx.output.line(rv === -Errno.EAGAIN ? "hosts not ready" : `hosts error ${rv}`);
      }
    }
    json.push(entry);
  }
  if (ctx.json) ctx.output.line(toJson(json));
  return 0;
}

/** log_dump: the daemon's log and a newline; like sanlock, the exit status is 1 after a dump (docs/wire.md §7.6). */
async function logDump(ctx: ClientContext): Promise<number> {
  try {
    const log = await ops.logDump(ctx.quick);
    ctx.output.line(new TextDecoder().decode(log));
    return log.byteLength;
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.explain("log_dump", rv);
    return rv;
  }
}

/** shutdown [-f 0|1] [-w 0|1] (docs/wire.md §7.4, §7.27). */
async function shutdown(ctx: ClientContext): Promise<number> {
  const force = Number(ctx.u64("f"));
  const wait = ctx.int("w");
  ctx.output.line(`shutdown force ${force} wait ${wait}`);
  const rv = await rvOf(() => ops.shutdown(wait ? ctx.waiting : ctx.quick, { force: force !== 0, wait: wait !== 0 }));
  ctx.output.line(`shutdown done ${rv}`);
  ctx.explain("shutdown", rv);
  return rv;
}

function versionText(v: number): string {
  const hex = (v >>> 0).toString(16).padStart(8, "0");
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff} (0x${hex})`;
}

/** version: client and daemon versions and socket protocols; always exit 0 (docs/wire.md §11.6). */
async function version(ctx: ClientContext): Promise<number> {
  let daemon = 0;
  let proto = 0;
  try {
    const v = await ops.version(ctx.quick);
    daemon = v.daemonVersion;
    proto = v.protocol;
  } catch (err) {
    const rv = libsanlockResultOf(err);
    ctx.output.line(`daemon version error ${rv}`);
    ctx.explain("version", rv);
  }
  ctx.output.line(`client version ${versionText(DAEMON_VERSION_3_8_5)}`);
  ctx.output.line(`daemon version ${versionText(daemon)}`);
  ctx.output.line(`client socket protocol ${PROTOCOL_VERSION >>> 16}.${PROTOCOL_VERSION & 0xffff}`);
  ctx.output.line(`daemon socket protocol ${proto >>> 16}.${proto & 0xffff}`);
  return 0;
}

/** set_event -s LS -i HOST_ID [-g GEN] -e EVENT -d DATA (docs/wire.md §7.28). */
async function setEvent(ctx: ClientContext): Promise<number> {
  const name = parseLockspaceArg(ctx.require("s", "LOCKSPACE")).name;
  const a = { lockspace: name, hostId: ctx.u64("i"), generation: ctx.u64("g"), event: ctx.u64("e"), data: ctx.u64("d"), flags: 0 };
  ctx.output.line(`set_event ${a.hostId} ${a.generation} event 0x${a.event.toString(16)} data 0x${a.data.toString(16)}`);
  const rv = await rvOf(() => ops.setEvent(ctx.quick, a));
  ctx.output.line(`set_event done ${rv}`);
  ctx.explain("set_event", rv);
  return rv;
}

/** set_config -s LS -u 0|1 or -O 0|1 (-O wins, as in sanlock; docs/wire.md §7.29). */
async function setConfig(ctx: ClientContext): Promise<number> {
  const name = parseLockspaceArg(ctx.require("s", "LOCKSPACE")).name;
  let command = 0;
  if (ctx.opt("O") !== undefined) command = ctx.int("O") ? ConfigCmd.USED_BY_ORPHANS : ConfigCmd.UNUSED_BY_ORPHANS;
  else if (ctx.opt("u") !== undefined) command = ctx.int("u") ? ConfigCmd.USED : ConfigCmd.UNUSED;
  ctx.output.line(`set_config ${name} ${command}`);
  const rv = await rvOf(() => ops.setConfig(ctx.quick, name, command));
  ctx.output.line(`set_config done ${rv}`);
  ctx.explain("set_config", rv);
  return rv;
}

export const STATE_ACTIONS: Readonly<Record<string, ClientAction>> = {
  status,
  host_status: hostStatus,
  renewal,
  gets,
  log_dump: logDump,
  shutdown,
  version,
  set_event: setEvent,
  set_config: setConfig,
};
