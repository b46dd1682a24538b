/**
 * Lockspace commands: ADD / REM / INQ_LOCKSPACE (docs/wire.md §7.2, §7.3, §7.15, §8.2),
 * GET_HOSTS (docs/wire.md §7.22), HOST_STATUS (docs/wire.md §7.14), RENEWAL (docs/wire.md §7.30),
 * REG_EVENT / END_EVENT / SET_EVENT (docs/wire.md §7.28, §8.4).
 */
import {
  AddLockspaceFlag,
  Cmd,
  Errno,
  HOST_SIZE,
  SanlkResult,
  HostState,
  InqLockspaceFlag,
  RemLockspaceFlag,
  StateType,
  encodeHost,
  encodeStateRecord,
  type SanlkLockspace,
  type StateRecord,
} from "@sanlock-ts/core/wire";
import type { HostState as CoreHostState } from "@sanlock-ts/core";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import type { LockspaceMatch } from "../lockspaces/lockspace-set.js";
import type { Lockspace } from "../lockspaces/lockspace.js";
import { engineOf } from "./engine.js";
import { renewalStateString } from "../lockspaces/renewal-history.js";

// Largest host_id a wire request may name (docs/wire.md §4.4).
import { MAX_HOST_ID } from "@sanlock-ts/core/limits";

/** host_ids above 2000 are kept as "too large" (2001) rather than converted from u64. */
function matchOf(ls: SanlkLockspace): LockspaceMatch {
  const hostId = ls.hostId > BigInt(MAX_HOST_ID) ? MAX_HOST_ID + 1 : Number(ls.hostId);
  return { name: ls.name, hostId, path: ls.hostIdDisk.path, offset: ls.hostIdDisk.offset };
}

async function addLockspace(ctx: CommandContext<typeof Cmd.ADD_LOCKSPACE>): Promise<void> {
  const engine = engineOf(ctx);
  const match = matchOf(ctx.body.lockspace);
  if (engine === undefined) {
    await ctx.reply(SanlkResult.ERROR);
    return;
  }
  const ioTimeout = ctx.header.data >>> 0;
  const started = engine.add({
    ...match,
    ioTimeout,
    hostName: ctx.daemon.ourHostName,
    historySize: ctx.daemon.settings.renewalHistorySize,
  });
  if (started.result !== 0 || started.done === undefined || ctx.header.cmdFlags & AddLockspaceFlag.ASYNC) {
    await ctx.reply(started.result);
    return;
  }
  await ctx.reply(await started.done);
}

async function remLockspace(ctx: CommandContext<typeof Cmd.REM_LOCKSPACE>): Promise<void> {
  const engine = engineOf(ctx);
  const match = matchOf(ctx.body.lockspace);
  if (engine === undefined) {
    await ctx.reply(-Errno.ENOENT);
    return;
  }
  const flags = ctx.header.cmdFlags;
  const removal = engine.remove(match, (flags & RemLockspaceFlag.UNUSED) !== 0);
  if (removal.result === 0 && removal.done !== undefined && !(flags & RemLockspaceFlag.ASYNC)) await removal.done;
  await ctx.reply(removal.result);
}

async function inqLockspace(ctx: CommandContext<typeof Cmd.INQ_LOCKSPACE>): Promise<void> {
  const engine = engineOf(ctx);
  const match = matchOf(ctx.body.lockspace);
  if (engine === undefined) {
    await ctx.reply(-Errno.ENOENT);
    return;
  }
  const wait = (ctx.header.cmdFlags & InqLockspaceFlag.WAIT) !== 0;
  await ctx.reply(wait ? await engine.inquireWait(match) : engine.inquire(match));
}

const HOST_STATE_NUMBERS: Readonly<Record<CoreHostState, number>> = {
  UNKNOWN: HostState.UNKNOWN,
  FREE: HostState.FREE,
  LIVE: HostState.LIVE,
  FAIL: HostState.FAIL,
  DEAD: HostState.DEAD,
};

/** GET_HOSTS (docs/wire.md §7.22): −ENOENT not active, −EAGAIN before the first check of other hosts. */
async function getHosts(ctx: CommandContext<typeof Cmd.GET_HOSTS>): Promise<void> {
  const ls = engineOf(ctx)?.active(ctx.body.lockspace.name);
  const table = ls?.hostStatus;
  if (ls === undefined || table === undefined) {
    await ctx.reply(-Errno.ENOENT);
    return;
  }
  if (!table.hasExamined) {
    await ctx.reply(-Errno.EAGAIN);
    return;
  }
  const wanted = ctx.body.lockspace.hostId;
  const maxHosts = ls.maxHosts;
  const ids = wanted === 0n ? range(1, maxHosts) : wanted <= BigInt(maxHosts) ? [Number(wanted)] : [];
  const hosts = [];
  for (const hostId of ids) {
    const entry = table.snapshot(hostId);
    if (entry === undefined) continue;
    if (wanted === 0n && entry.timestamp === 0n) continue;
    hosts.push(
      encodeHost({
        hostId: BigInt(hostId),
        generation: entry.ownerGeneration,
        timestamp: entry.timestamp,
        ioTimeout: entry.ioTimeout,
        flags: HOST_STATE_NUMBERS[table.state(hostId)],
      }),
    );
  }
  const payload = new Uint8Array(hosts.length * HOST_SIZE);
  hosts.forEach((bytes, i) => payload.set(bytes, i * HOST_SIZE));
  await ctx.reply(0, { data2: hosts.length, payload });
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/** HOST_STATUS (docs/wire.md §7.14): one HOST record per host_id ever seen; −ENOSPC unknown lockspace. */
async function hostStatus(ctx: CommandContext<typeof Cmd.HOST_STATUS>): Promise<void> {
  const ls = engineOf(ctx)?.anyList(ctx.body.lockspace.name);
  if (ls === undefined) {
    await ctx.reply(-Errno.ENOSPC, { data2: ctx.header.data2 });
    return;
  }
  const records = hostRecords(ls);
  if (!(await ctx.reply(0, { data2: ctx.header.data2 }))) return;
  for (const record of records) if (!(await ctx.send(encodeStateRecord(record)))) return;
}

function hostRecords(ls: Lockspace): StateRecord[] {
  const table = ls.hostStatus;
  const maxHosts = ls.maxHosts;
  if (table === undefined) return [];
  const records: StateRecord[] = [];
  for (let hostId = 1; hostId <= maxHosts; hostId++) {
    const e = table.snapshot(hostId);
    if (e === undefined || (e.timestamp === 0n && e.ownerId === 0)) continue;
    records.push({
      type: StateType.HOST,
      flags: 0,
      data32: hostId,
      data64: e.timestamp,
      name: "",
      str:
        `last_check=${e.lastCheck} last_live=${e.lastLive} last_req=${e.lastReq} owner_id=${e.ownerId} ` +
        `owner_generation=${e.ownerGeneration} timestamp=${e.timestamp} io_timeout=${e.ioTimeout} owner_name=${e.ownerName}`,
    });
  }
  return records;
}

/** RENEWAL (docs/wire.md §7.30): data2 = io_timeout, then one record per stored renewal, oldest first. */
async function renewal(ctx: CommandContext<typeof Cmd.RENEWAL>): Promise<void> {
  const ls = engineOf(ctx)?.anyList(ctx.body.lockspace.name);
  if (ls === undefined) {
    await ctx.reply(-Errno.ENOSPC, { data2: ctx.header.data2 });
    return;
  }
  const records = ls.history.list().map(
    (e): StateRecord => ({
      type: StateType.RENEWAL,
      flags: 0,
      data32: 0,
      data64: BigInt(e.timestamp),
      name: ls.name,
      str: renewalStateString(e),
    }),
  );
  if (!(await ctx.reply(0, { data2: ls.spec.ioTimeout }))) return;
  for (const record of records) if (!(await ctx.send(encodeStateRecord(record)))) return;
}

/** REG_EVENT (docs/wire.md §7.28, §8.4 step 1): keeps the connection as an event channel. */
async function regEvent(ctx: CommandContext<typeof Cmd.REG_EVENT>): Promise<void> {
  const name = ctx.body.lockspace.name;
  const engine = engineOf(ctx);
  if (name === "") {
    await ctx.reply(-Errno.EINVAL, { data2: ctx.header.data2 });
    return;
  }
  if (engine === undefined || engine.active(name) === undefined) {
    await ctx.reply(-Errno.ENOENT, { data2: ctx.header.data2 });
    return;
  }
  if (!engine.events.register(name, ctx.conn)) {
    await ctx.reply(-Errno.ENOCSI, { data2: ctx.header.data2 });
    return;
  }
  ctx.keepOpen();
  await ctx.reply(0, { data2: ctx.header.data2 });
}

/** END_EVENT (docs/wire.md §8.4 step 5): frees channels the client has closed. */
async function endEvent(ctx: CommandContext<typeof Cmd.END_EVENT>): Promise<void> {
  const name = ctx.body.lockspace.name;
  const engine = engineOf(ctx);
  if (name === "") {
    await ctx.reply(-Errno.EINVAL, { data2: ctx.header.data2 });
    return;
  }
  if (engine === undefined || engine.active(name) === undefined) {
    await ctx.reply(-Errno.ENOENT, { data2: ctx.header.data2 });
    return;
  }
  engine.events.cleanup(name);
  await ctx.reply(0, { data2: ctx.header.data2 });
}

/** SET_EVENT (docs/wire.md §7.28): the event rides on our next renewals. */
async function setEvent(ctx: CommandContext<typeof Cmd.SET_EVENT>): Promise<void> {
  const name = ctx.body.lockspace.name;
  const { hostId, generation, event, data } = ctx.body.event;
  if (name === "" || hostId === 0n || hostId > BigInt(MAX_HOST_ID)) {
    await ctx.reply(-Errno.EINVAL);
    return;
  }
  const ls = engineOf(ctx)?.active(name);
  if (ls === undefined || ls.state !== "live") {
    await ctx.reply(-Errno.ENOENT);
    return;
  }
  if (hostId > BigInt(ls.maxHosts)) {
    await ctx.reply(-Errno.EINVAL);
    return;
  }
  await ctx.reply(await ls.setEvent(Number(hostId), { generation, event, data }, ctx.header.cmdFlags));
}

export function registerLockspaceHandlers(registry: CommandRegistry): void {
  registry.register(Cmd.ADD_LOCKSPACE, addLockspace);
  registry.register(Cmd.REM_LOCKSPACE, remLockspace);
  registry.register(Cmd.INQ_LOCKSPACE, inqLockspace);
  registry.register(Cmd.GET_HOSTS, getHosts);
  registry.register(Cmd.HOST_STATUS, hostStatus);
  registry.register(Cmd.RENEWAL, renewal);
  registry.register(Cmd.REG_EVENT, regEvent);
  registry.register(Cmd.END_EVENT, endEvent);
  registry.register(Cmd.SET_EVENT, setEvent);
}
