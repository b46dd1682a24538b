// Every daemon call as a function of already-validated values: builds the
// request body with the wire codec, picks the connection (fresh, registered,
// or by pid; docs/wire.md §5), and turns the reply into plain data. The typed
// SanlockClient validates arguments and then calls these; the CLI calls them
// directly (its own parsers check the command line), which keeps zod off its
// start-up path.

import { callOnce, callStream, checkResult, checkResultValue, headerResult, sendOnly, type CallTarget, type Reply } from "./calls.js";
import { EventChannel } from "./event-channel.js";
import type { Registration } from "./registration.js";
import { parseStateString, type ParsedResource } from "./resource-string.js";
import {
  AddLockspaceFlag,
  Cmd,
  Errno,
  ConvertFlag,
  EMPTY_OPTIONS,
  HOST_STATE_MASK,
  InqLockspaceFlag,
  KillpathFlag,
  ReleaseFlag,
  RemLockspaceFlag,
  RequestFlag,
  ResFlag,
  RestrictFlag,
  RindexOpFlag,
  SELF_PID,
  StateType,
  WriteResourceFlag,
  disk,
  joinKillpathArgs,
  lockspace,
  resource,
  type RequestBodies,
  type SanlkHost,
  type SanlkResource,
  type SanlkRentry,
  type SanlkRindex,
  type StateRecord,
} from "@sanlock-ts/core/wire";

export interface DiskSpec {
  path: string;
  offset: bigint;
}

/** Sector size and alignment flags for write/read calls; 0 lets the daemon choose or probe. */
export type GeometryFlags = number;

/** Whose leases a class D call operates on (docs/wire.md §5.5): the registered connection, or a pid. */
export type LeaseOwner = { registration: Registration } | { pid: number };

export interface ResourceSpec {
  lockspace: string;
  resource: string;
  disks: DiskSpec[];
}

export interface HostInfo {
  hostId: bigint;
  generation: bigint;
  timestamp: bigint;
  ioTimeout: number;
  /** HOST_UNKNOWN..HOST_DEAD for get_hosts; 0 for read_resource_owners. */
  flags: number;
}

export interface LockspaceInfo {
  lockspace: string;
  hostId: bigint;
  path: string;
  offset: bigint;
  /** 0 joined, LSFLAG_ADD being added, LSFLAG_REM being removed. */
  flags: number;
}

function sanlkResource(spec: ResourceSpec, fields: Partial<SanlkResource> = {}): SanlkResource {
  return resource(
    spec.lockspace,
    spec.resource,
    spec.disks.map((d) => disk(d.path, d.offset)),
    fields,
  );
}

function hostInfo(h: SanlkHost, stateOnly: boolean): HostInfo {
  return { hostId: h.hostId, generation: h.generation, timestamp: h.timestamp, ioTimeout: h.ioTimeout, flags: stateOnly ? h.flags & HOST_STATE_MASK : h.flags };
}

/** A class D request (docs/wire.md §5.5): on the registered connection with data2 −1, or on a fresh one with the pid. */
async function ownerCall<C extends 7 | 8 | 9 | 17 | 27>(
  target: CallTarget,
  owner: LeaseOwner,
  cmd: C,
  body: RequestBodies[C],
  fields: { cmdFlags?: number; data?: number },
  onLateSuccess?: () => void,
): Promise<Reply<C>> {
  if ("registration" in owner) {
    return owner.registration.perform(
      cmd,
      body,
      { ...fields, data2: SELF_PID },
      {
        signal: target.signal,
        timeoutMs: target.timeoutMs,
        ...(onLateSuccess ? { onLateSuccess } : {}),
      },
    );
  }
  return callOnce(target, cmd, body, { ...fields, data2: owner.pid });
}

// ---------------------------------------------------------------- lockspaces

export async function addLockspace(
  target: CallTarget,
  a: { lockspace: string; hostId: bigint; path: string; offset: bigint; ioTimeout: number; wait: boolean },
): Promise<void> {
  const reply = await callOnce(
    target,
    Cmd.ADD_LOCKSPACE,
    { lockspace: lockspace(a.lockspace, a) },
    {
      cmdFlags: a.wait ? 0 : AddLockspaceFlag.ASYNC,
      data: a.ioTimeout,
    },
  );
  checkResult(Cmd.ADD_LOCKSPACE, reply.header);
}

export async function remLockspace(
  target: CallTarget,
  a: { lockspace: string; hostId: bigint; path: string; offset: bigint; wait: boolean; unused: boolean },
): Promise<void> {
  const flags = (a.wait ? 0 : RemLockspaceFlag.ASYNC) | (a.unused ? RemLockspaceFlag.UNUSED : 0);
  const reply = await callOnce(target, Cmd.REM_LOCKSPACE, { lockspace: lockspace(a.lockspace, a) }, { cmdFlags: flags });
  checkResult(Cmd.REM_LOCKSPACE, reply.header);
}

/** Raw INQ_LOCKSPACE result: 0 joined, −2 unknown, −115 in transition (docs/wire.md §7.15). */
export async function inqLockspaceResult(
  target: CallTarget,
  a: { lockspace: string; hostId: bigint; path: string; offset: bigint; wait: boolean },
): Promise<number> {
  const reply = await callOnce(
    target,
    Cmd.INQ_LOCKSPACE,
    { lockspace: lockspace(a.lockspace, a) },
    {
      cmdFlags: a.wait ? InqLockspaceFlag.WAIT : 0,
    },
  );
  return headerResult(reply.header);
}

/** Python semantics: true joined, false unknown, null being added/removed; other results throw. */
export async function inqLockspace(
  target: CallTarget,
  a: { lockspace: string; hostId: bigint; path: string; offset: bigint; wait: boolean },
): Promise<boolean | null> {
  const result = await inqLockspaceResult(target, a);
  if (result === 0) return true;
  if (result === -Errno.ENOENT) return false;
  if (result === -Errno.EINPROGRESS) return null;
  return checkResultValue(Cmd.INQ_LOCKSPACE, result) === 0;
}

export async function getLockspacesRaw(target: CallTarget): Promise<{ result: number; lockspaces: LockspaceInfo[] }> {
  const reply = await callOnce(target, Cmd.GET_LOCKSPACES, {});
  const lockspaces = reply.body.lockspaces.map((ls) => ({
    lockspace: ls.name,
    hostId: ls.hostId,
    path: ls.hostIdDisk.path,
    offset: ls.hostIdDisk.offset,
    flags: ls.flags,
  }));
  return { result: headerResult(reply.header), lockspaces };
}

export async function getLockspaces(target: CallTarget): Promise<LockspaceInfo[]> {
  const { result, lockspaces } = await getLockspacesRaw(target);
  checkResultValue(Cmd.GET_LOCKSPACES, result);
  return lockspaces;
}

export async function getHosts(target: CallTarget, a: { lockspace: string; hostId: bigint }): Promise<HostInfo[]> {
  const reply = await callOnce(target, Cmd.GET_HOSTS, { lockspace: lockspace(a.lockspace, { hostId: a.hostId }) });
  checkResult(Cmd.GET_HOSTS, reply.header);
  return reply.body.hosts.map((h) => hostInfo(h, true));
}

export async function readLockspace(
  target: CallTarget,
  a: { lockspace: string; hostId: bigint; path: string; offset: bigint; flags: GeometryFlags },
): Promise<{ lockspace: string; hostId: bigint; path: string; offset: bigint; ioTimeout: number; flags: number }> {
  const reply = await callOnce(target, Cmd.READ_LOCKSPACE, { lockspace: lockspace(a.lockspace, a) });
  checkResult(Cmd.READ_LOCKSPACE, reply.header);
  const ls = reply.body.lockspace ?? lockspace(a.lockspace, a);
  return { lockspace: ls.name, hostId: ls.hostId, path: ls.hostIdDisk.path, offset: ls.hostIdDisk.offset, ioTimeout: reply.header.data2, flags: ls.flags };
}

export async function writeLockspace(
  target: CallTarget,
  a: { lockspace: string; path: string; offset: bigint; maxHosts: number; ioTimeout: number; flags: GeometryFlags },
): Promise<void> {
  const body = { lockspace: lockspace(a.lockspace, { path: a.path, offset: a.offset, flags: a.flags }) };
  const reply = await callOnce(target, Cmd.WRITE_LOCKSPACE, body, { data: a.maxHosts, data2: a.ioTimeout });
  checkResult(Cmd.WRITE_LOCKSPACE, reply.header);
}

// ---------------------------------------------------------------- resources on disk

export async function readResource(
  target: CallTarget,
  a: ResourceSpec & { flags: GeometryFlags },
): Promise<{ lockspace: string; resource: string; version: bigint; flags: number }> {
  const reply = await callOnce(target, Cmd.READ_RESOURCE, { resource: sanlkResource(a, { flags: a.flags }) });
  checkResult(Cmd.READ_RESOURCE, reply.header);
  const r = reply.body.resource;
  if (r === null) return { lockspace: a.lockspace, resource: a.resource, version: 0n, flags: 0 };
  return { lockspace: r.lockspaceName, resource: r.name, version: r.lver, flags: r.flags };
}

/**
 * WRITE_RESOURCE. Like libsanlock, `maxHosts` travels in `data` and
 * `numHosts` in `data2`; the 3.8.5 daemon formats the lease with `data`
 * (docs/wire.md §7.18, quirk docs/wire.md §13.7).
 */
export async function writeResource(
  target: CallTarget,
  a: ResourceSpec & { maxHosts: number; numHosts: number; clear: boolean; flags: GeometryFlags },
): Promise<void> {
  const reply = await callOnce(
    target,
    Cmd.WRITE_RESOURCE,
    { resource: sanlkResource(a, { flags: a.flags }) },
    {
      cmdFlags: a.clear ? WriteResourceFlag.CLEAR : 0,
      data: a.maxHosts,
      data2: a.numHosts,
    },
  );
  checkResult(Cmd.WRITE_RESOURCE, reply.header);
}

export async function readResourceOwners(
  target: CallTarget,
  a: ResourceSpec & { flags: GeometryFlags },
): Promise<{ version: bigint; flags: number; hosts: HostInfo[] }> {
  const reply = await callOnce(target, Cmd.READ_RESOURCE_OWNERS, { resource: sanlkResource(a, { flags: a.flags }) });
  checkResult(Cmd.READ_RESOURCE_OWNERS, reply.header);
  return {
    version: reply.body.resource?.lver ?? 0n,
    flags: reply.body.resource?.flags ?? 0,
    hosts: reply.body.hosts.map((h) => hostInfo(h, false)),
  };
}

// ---------------------------------------------------------------- leases

export interface AcquireSpec extends ResourceSpec {
  shared: boolean;
  /** Acquire only this lease version (RES_LVER). */
  version?: bigint | undefined;
  /** New num_hosts for the lease (RES_NUM_HOSTS). */
  numHosts?: number | undefined;
  persistent: boolean;
}

function acquireResource(spec: AcquireSpec): SanlkResource {
  let flags = spec.shared ? ResFlag.SHARED : 0;
  if (spec.version !== undefined) flags |= ResFlag.LVER;
  if (spec.numHosts !== undefined) flags |= ResFlag.NUM_HOSTS;
  if (spec.persistent) flags |= ResFlag.PERSISTENT;
  return sanlkResource(spec, { flags, lver: spec.version ?? 0n, data32: spec.numHosts ?? 0 });
}

/** The 128-byte struct RELEASE and CONVERT send: names and num_disks, no disks (docs/wire.md §4.2, §5.6). */
function leaseIdentity(spec: ResourceSpec, flags = 0): SanlkResource {
  return resource(spec.lockspace, spec.resource, [], { numDisks: Math.max(1, spec.disks.length), flags });
}

/**
 * ACQUIRE of up to 8 resources, all or nothing (docs/wire.md §7.7). If the caller aborts
 * and the daemon nevertheless succeeds later, the leases are released again.
 */
export async function acquire(
  target: CallTarget,
  owner: LeaseOwner,
  specs: AcquireSpec[],
  flags: number,
  options: { ownerName?: string | undefined } = {},
): Promise<void> {
  // owner_name: the daemon names the target client after it in `status` (docs/wire.md §7.7); libvirt sends the domain name.
  const body = { resources: specs.map(acquireResource), options: { ...EMPTY_OPTIONS, ownerName: options.ownerName ?? "" } };
  const undo = (): void => {
    void release({ socketPath: target.socketPath, timeoutMs: target.timeoutMs ?? 60_000 }, owner, specs, 0).catch(() => undefined);
  };
  const reply = await ownerCall(target, owner, Cmd.ACQUIRE, body, { cmdFlags: flags, data: specs.length }, undo);
  checkResult(Cmd.ACQUIRE, reply.header);
}

/** RELEASE; with REL_ORPHAN the positive count of orphans queued is returned (docs/wire.md §7.8). */
export async function release(target: CallTarget, owner: LeaseOwner, specs: ResourceSpec[], flags: number): Promise<number> {
  const resources = flags & ReleaseFlag.ALL ? [] : specs.map((s) => leaseIdentity(s));
  const reply = await ownerCall(target, owner, Cmd.RELEASE, { resources }, { cmdFlags: flags, data: resources.length });
  return checkResult(Cmd.RELEASE, reply.header);
}

export async function convert(target: CallTarget, owner: LeaseOwner, spec: ResourceSpec, a: { shared: boolean; ownerNowait: boolean }): Promise<void> {
  const body = { resource: leaseIdentity(spec, a.shared ? ResFlag.SHARED : 0) };
  const reply = await ownerCall(target, owner, Cmd.CONVERT, body, { cmdFlags: a.ownerNowait ? ConvertFlag.OWNER_NOWAIT : 0 });
  checkResult(Cmd.CONVERT, reply.header);
}

/** INQUIRE as raw values: result, lease count (data2) and the state string (docs/wire.md §7.9). */
export async function inquireRaw(target: CallTarget, owner: LeaseOwner): Promise<{ result: number; count: number; state: string }> {
  const reply = await ownerCall(target, owner, Cmd.INQUIRE, {}, {});
  return { result: headerResult(reply.header), count: reply.header.data2, state: reply.body.state };
}

export async function inquire(target: CallTarget, owner: LeaseOwner): Promise<ParsedResource[]> {
  const { result, state } = await inquireRaw(target, owner);
  checkResultValue(Cmd.INQUIRE, result);
  return state === "" ? [] : parseStateString(state);
}

/** REQUEST (docs/wire.md §7.11): with no version, REQUEST_NEXT_LVER asks for the current lver + 1. */
export async function request(target: CallTarget, a: ResourceSpec & { action: number; version?: bigint | undefined }): Promise<void> {
  const res = sanlkResource(a, a.version !== undefined ? { lver: a.version, flags: ResFlag.LVER } : {});
  const reply = await callOnce(
    target,
    Cmd.REQUEST,
    { resource: res },
    {
      cmdFlags: a.version === undefined ? RequestFlag.NEXT_LVER : 0,
      data: a.action,
    },
  );
  checkResult(Cmd.REQUEST, reply.header);
}

/** REQUEST as the CLI sends it (docs/wire.md §7.11): flags 0, `version` from the resource string (0 = clear a pending request). */
export async function requestRaw(target: CallTarget, a: ResourceSpec & { action: number; version: bigint }): Promise<void> {
  const res = sanlkResource(a, a.version !== 0n ? { lver: a.version, flags: ResFlag.LVER } : {});
  const reply = await callOnce(target, Cmd.REQUEST, { resource: res }, { data: a.action });
  checkResult(Cmd.REQUEST, reply.header);
}

export async function killpath(target: CallTarget, registration: Registration, a: { path: string; args: string[]; appendPid: boolean }): Promise<void> {
  const reply = await ownerCall(
    target,
    { registration },
    Cmd.KILLPATH,
    { killpath: { path: a.path, args: joinKillpathArgs(a.args) } },
    {
      cmdFlags: a.appendPid ? KillpathFlag.PID : 0,
    },
  );
  checkResult(Cmd.KILLPATH, reply.header);
}

export async function restrict(target: CallTarget, registration: Registration, flags: number): Promise<void> {
  const reply = await registration.perform(Cmd.RESTRICT, {}, { cmdFlags: flags, data2: SELF_PID }, { timeoutMs: target.timeoutMs, signal: target.signal });
  checkResult(Cmd.RESTRICT, reply.header);
  // After RESTRICT_ALL the daemon drops every later header on this connection without a reply (docs/wire.md §5.8).
  if (flags & RestrictFlag.ALL) registration.markRestricted();
}

export async function setLvb(target: CallTarget, spec: ResourceSpec, lvb: Uint8Array): Promise<void> {
  const reply = await callOnce(target, Cmd.SET_LVB, { resource: leaseIdentity(spec), lvb });
  checkResult(Cmd.SET_LVB, reply.header);
}

/** GET_LVB with size 0 (the lease's sector size, as libsanlock sends), cut or zero-padded to `size`. */
export async function getLvb(target: CallTarget, spec: ResourceSpec, size: number): Promise<Uint8Array> {
  const reply = await callOnce(target, Cmd.GET_LVB, { resource: leaseIdentity(spec) }, { data2: 0 });
  checkResult(Cmd.GET_LVB, reply.header);
  const out = new Uint8Array(size);
  out.set(reply.body.lvb.subarray(0, size));
  return out;
}

// ---------------------------------------------------------------- events

export function regEvent(target: CallTarget, name: string): Promise<EventChannel> {
  return EventChannel.register(target.socketPath, name, target);
}

/** Unregister: the u32 1 on the channel, then END_EVENT on a new connection (docs/wire.md §8.4 step 5). */
export async function endEvent(target: CallTarget, channel: EventChannel, name: string): Promise<void> {
  await channel.unregister();
  const reply = await callOnce(target, Cmd.END_EVENT, { lockspace: lockspace(name) });
  checkResult(Cmd.END_EVENT, reply.header);
}

export async function setEvent(
  target: CallTarget,
  a: { lockspace: string; hostId: bigint; generation: bigint; event: bigint; data: bigint; flags: number },
): Promise<void> {
  const body = { lockspace: lockspace(a.lockspace), event: { hostId: a.hostId, generation: a.generation, event: a.event, data: a.data } };
  const reply = await callOnce(target, Cmd.SET_EVENT, body, { cmdFlags: a.flags });
  checkResult(Cmd.SET_EVENT, reply.header);
}

// ---------------------------------------------------------------- daemon state

/** Parsed `key=value ...` state text (docs/wire.md §10.5). */
export function parseStateText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const token of text.split(" ")) {
    const eq = token.indexOf("=");
    if (eq > 0) out[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return out;
}

export interface DaemonStatus {
  /** Every record in arrival order, as the CLI prints them. */
  records: StateRecord[];
  daemon: { name: string; state: Record<string, string> } | null;
  clients: { pid: number; name: string; state: Record<string, string> }[];
  lockspaces: { lockspace: string; hostId: bigint; path: string; offset: bigint; list: string; state: Record<string, string> }[];
  resources: {
    lockspace: string;
    resource: string;
    pid: number;
    version: bigint;
    shared: boolean;
    disks: DiskSpec[];
    list: string;
    state: Record<string, string>;
  }[];
}

/** STATUS with `level` (0 = everything, docs/wire.md §7.5). */
export async function status(target: CallTarget, level = 0): Promise<DaemonStatus> {
  const { header, records } = await callStream(target, Cmd.STATUS, {}, { data: level });
  checkResult(Cmd.STATUS, header);
  const result: DaemonStatus = { records, daemon: null, clients: [], lockspaces: [], resources: [] };
  for (const r of records) {
    const state = parseStateText(r.str);
    if (r.type === StateType.DAEMON) result.daemon = { name: r.name, state };
    if (r.type === StateType.CLIENT) result.clients.push({ pid: r.data32, name: r.name, state });
    if (r.type === StateType.LOCKSPACE && r.lockspace) {
      const ls = r.lockspace;
      result.lockspaces.push({ lockspace: ls.name, hostId: ls.hostId, path: ls.hostIdDisk.path, offset: ls.hostIdDisk.offset, list: state.list ?? "", state });
    }
    if (r.type === StateType.RESOURCE && r.resource) {
      const res = r.resource;
      result.resources.push({
        lockspace: res.lockspaceName,
        resource: res.name,
        pid: r.data32,
        version: r.data64,
        shared: (res.flags & ResFlag.SHARED) !== 0,
        disks: res.disks.map((d) => ({ path: d.path, offset: d.offset })),
        list: state.list ?? "",
        state,
      });
    }
  }
  return result;
}

export async function hostStatus(target: CallTarget, name: string): Promise<StateRecord[]> {
  const { header, records } = await callStream(target, Cmd.HOST_STATUS, { lockspace: lockspace(name) });
  checkResult(Cmd.HOST_STATUS, header);
  return records;
}

export async function renewal(target: CallTarget, name: string): Promise<{ ioTimeout: number; records: StateRecord[] }> {
  const { header, records } = await callStream(target, Cmd.RENEWAL, { lockspace: lockspace(name) });
  checkResult(Cmd.RENEWAL, header);
  return { ioTimeout: header.data2, records };
}

/** VERSION (docs/wire.md §7.26): the daemon's version number and socket protocol. */
export async function version(target: CallTarget): Promise<{ daemonVersion: number; protocol: number; versionString: string }> {
  const reply = await callOnce(target, Cmd.VERSION, {});
  checkResult(Cmd.VERSION, reply.header);
  const d = reply.header.data2 >>> 0;
  return { daemonVersion: d, protocol: reply.header.version, versionString: `${d >>> 24}.${(d >>> 16) & 0xff}.${(d >>> 8) & 0xff}` };
}

export async function setConfig(target: CallTarget, name: string, command: number): Promise<void> {
  const reply = await callOnce(target, Cmd.SET_CONFIG, { lockspace: lockspace(name) }, { data: command });
  checkResult(Cmd.SET_CONFIG, reply.header);
}

export async function logDump(target: CallTarget): Promise<Uint8Array> {
  const reply = await callOnce(target, Cmd.LOG_DUMP, {});
  checkResult(Cmd.LOG_DUMP, reply.header);
  return reply.body.log;
}

/**
 * SHUTDOWN (no reply) or, with `wait`, SHUTDOWN_WAIT, answered only when the
 * daemon is about to exit (docs/wire.md §7.27).
 */
export async function shutdown(target: CallTarget, a: { force: boolean; wait: boolean }): Promise<void> {
  if (!a.wait) return sendOnly(target, Cmd.SHUTDOWN, {}, { data: a.force ? 1 : 0 });
  const reply = await callOnce(target, Cmd.SHUTDOWN_WAIT, {}, { data: a.force ? 1 : 0 });
  checkResult(Cmd.SHUTDOWN_WAIT, reply.header);
}

/** ALIGN (docs/wire.md §7.12): the daemon's default alignment for the path, in bytes. */
export async function align(target: CallTarget, path: string): Promise<number> {
  const reply = await callOnce(target, Cmd.ALIGN, { disk: disk(path) });
  return checkResult(Cmd.ALIGN, reply.header);
}

export async function examineLockspace(target: CallTarget, a: { lockspace: string; hostId: bigint; path: string; offset: bigint }): Promise<void> {
  const reply = await callOnce(target, Cmd.EXAMINE_LOCKSPACE, { lockspace: lockspace(a.lockspace, a) });
  checkResult(Cmd.EXAMINE_LOCKSPACE, reply.header);
}

export async function examineResource(target: CallTarget, spec: ResourceSpec): Promise<void> {
  const reply = await callOnce(target, Cmd.EXAMINE_RESOURCE, { resource: leaseIdentity(spec) });
  checkResult(Cmd.EXAMINE_RESOURCE, reply.header);
}

// ---------------------------------------------------------------- resource index (docs/wire.md §7.31)

export interface RindexSpec {
  lockspace: string;
  path: string;
  offset: bigint;
  flags: GeometryFlags;
}

function rindexStruct(x: RindexSpec): SanlkRindex {
  return { flags: x.flags, maxResources: 0, unused: 0n, lockspaceName: x.lockspace, disk: disk(x.path, x.offset) };
}

function rentryStruct(name: string, offset: bigint): SanlkRentry {
  return { name, offset, flags: 0, unused: 0 };
}

export async function formatRindex(target: CallTarget, x: RindexSpec): Promise<void> {
  const reply = await callOnce(target, Cmd.FORMAT_RINDEX, { rindex: rindexStruct(x) });
  checkResult(Cmd.FORMAT_RINDEX, reply.header);
}

export async function rebuildRindex(target: CallTarget, x: RindexSpec, noLockspace = false): Promise<void> {
  const reply = await callOnce(target, Cmd.REBUILD_RINDEX, { rindex: rindexStruct(x) }, { cmdFlags: noLockspace ? RindexOpFlag.NO_LOCKSPACE : 0 });
  checkResult(Cmd.REBUILD_RINDEX, reply.header);
}

async function rindexEntryCall(
  target: CallTarget,
  cmd: 36 | 37 | 38 | 39,
  x: RindexSpec,
  entry: { name: string; offset: bigint },
  fields: { cmdFlags?: number; data?: number; data2?: number } = {},
): Promise<{ name: string; offset: bigint }> {
  const reply = await callOnce(target, cmd, { rindex: rindexStruct(x), rentry: rentryStruct(entry.name, entry.offset) }, fields);
  checkResult(cmd, reply.header);
  const e = reply.body.rentry;
  return { name: e?.name ?? "", offset: e?.offset ?? 0n };
}

export function lookupRindex(target: CallTarget, x: RindexSpec, entry: { name: string; offset: bigint }) {
  return rindexEntryCall(target, Cmd.LOOKUP_RINDEX, x, entry);
}

export function updateRindex(target: CallTarget, x: RindexSpec, entry: { name: string; offset: bigint }, remove: boolean) {
  return rindexEntryCall(target, Cmd.UPDATE_RINDEX, x, entry, { cmdFlags: remove ? RindexOpFlag.UPDATE_REM : RindexOpFlag.UPDATE_ADD });
}

export function createResource(target: CallTarget, x: RindexSpec, name: string, a: { maxHosts: number; numHosts: number }) {
  return rindexEntryCall(target, Cmd.CREATE_RESOURCE, x, { name, offset: 0n }, { data: a.maxHosts, data2: a.numHosts });
}

export function deleteResource(target: CallTarget, x: RindexSpec, entry: { name: string; offset: bigint }) {
  return rindexEntryCall(target, Cmd.DELETE_RESOURCE, x, entry);
}
