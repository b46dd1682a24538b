// Protocol constants of the sanlock 3.8.5 client socket (docs/wire.md §3, §4, §6).
// All values are the on-the-wire numbers; names follow sanlock's own spelling
// without the SANLK_/SM_ prefix.

/** Header magic (`SM_MAGIC`), bytes `10 20 28 04` little-endian (docs/wire.md §3). */
export const WIRE_MAGIC = 0x04282010;
/** Socket protocol version 0.1 sent in every request and reply (docs/wire.md §3). */
export const PROTOCOL_VERSION = 0x00000001;
/** Version value the daemon reports for 3.8.5: major<<24 | minor<<16 | patch<<8 (docs/wire.md §7.26). */
export const DAEMON_VERSION_3_8_5 = 0x03080500;

/** Struct sizes on LP64 little-endian (docs/wire.md §4). */
export const HEADER_SIZE = 32;
export const DISK_SIZE = 1040;
export const RESOURCE_SIZE = 128;
export const OPTIONS_SIZE = 56;
export const LOCKSPACE_SIZE = 1104;
export const HOST_SIZE = 32;
export const HOST_EVENT_SIZE = 32;
export const RINDEX_SIZE = 1104;
export const RENTRY_SIZE = 64;
/** Fixed part of `sanlk_state` on the wire: 80, not 76 (docs/wire.md §4.9, quirk docs/wire.md §13.4). */
export const STATE_FIXED_SIZE = 80;
export const EVENT_RECORD_SIZE = 80;
export const KILLPATH_SIZE = 256;
/** The u32 written on an event channel to unregister it (docs/wire.md §8.4 step 5). */
export const END_EVENT_VALUE = 1;

/** Field widths and limits (docs/wire.md §4.12 "Limits", docs/wire.md §3 "Maximum sizes"); names and host_ids share core's limits. */
export { MAX_DISKS, MAX_HOST_ID, NAME_LEN } from "../limits.js";
export const PATH_LEN = 1024;
export const KILLPATH_FIELD_LEN = 128;
export const MAX_RESOURCES = 8;
export const MAX_LVB_SIZE = 4096;
/** State strings including their NUL (docs/wire.md §3, §4.9). */
export const MAX_STATE_STRING = 4096;
/** GET_LOCKSPACES / GET_HOSTS reply payload and LOG_DUMP text limit (docs/wire.md §3). */
export const MAX_LIST_PAYLOAD = 1024 * 1024;
/**
 * Largest message this codec frames: header + 1 MiB (the largest payload the
 * daemon sends, docs/wire.md §3). `MAX_CLIENT_MSG` in sanlock is the same 1 MiB.
 */
export const MAX_MESSAGE_SIZE = HEADER_SIZE + MAX_LIST_PAYLOAD;

/** Command numbers 1..40 (docs/wire.md §6). */
export const Cmd = {
  REGISTER: 1,
  ADD_LOCKSPACE: 2,
  REM_LOCKSPACE: 3,
  SHUTDOWN: 4,
  STATUS: 5,
  LOG_DUMP: 6,
  ACQUIRE: 7,
  RELEASE: 8,
  INQUIRE: 9,
  RESTRICT: 10,
  REQUEST: 11,
  ALIGN: 12,
  EXAMINE_LOCKSPACE: 13,
  EXAMINE_RESOURCE: 14,
  HOST_STATUS: 15,
  INQ_LOCKSPACE: 16,
  KILLPATH: 17,
  WRITE_LOCKSPACE: 18,
  WRITE_RESOURCE: 19,
  READ_LOCKSPACE: 20,
  READ_RESOURCE: 21,
  GET_LOCKSPACES: 22,
  GET_HOSTS: 23,
  READ_RESOURCE_OWNERS: 24,
  SET_LVB: 25,
  GET_LVB: 26,
  CONVERT: 27,
  VERSION: 28,
  SHUTDOWN_WAIT: 29,
  REG_EVENT: 30,
  END_EVENT: 31,
  SET_EVENT: 32,
  SET_CONFIG: 33,
  RENEWAL: 34,
  FORMAT_RINDEX: 35,
  UPDATE_RINDEX: 36,
  LOOKUP_RINDEX: 37,
  CREATE_RESOURCE: 38,
  DELETE_RESOURCE: 39,
  REBUILD_RINDEX: 40,
} as const;
export type CmdName = keyof typeof Cmd;
export type CmdNumber = (typeof Cmd)[CmdName];

export const MIN_CMD = 1;
export const MAX_CMD = 40;

const CMD_NAMES: ReadonlyMap<number, CmdName> = new Map((Object.entries(Cmd) as [CmdName, CmdNumber][]).map(([name, num]) => [num, name]));

/** True for a command number the 3.8.5 daemon dispatches (1..40; docs/wire.md §5.4). */
export function isKnownCmd(cmd: number): cmd is CmdNumber {
  return CMD_NAMES.has(cmd);
}

/** "ACQUIRE" for 7; "CMD<n>" for a number outside 1..40. */
export function cmdName(cmd: number): string {
  return CMD_NAMES.get(cmd) ?? `CMD${cmd}`;
}

/**
 * Dispatch class of each command (docs/wire.md §5.1): A one-shot on the main thread (daemon
 * closes after the reply), B persistent main thread, C worker, D worker with a
 * registered target.
 */
export type CmdClass = "A" | "B" | "C" | "D";
const CLASS_A: ReadonlySet<number> = new Set([4, 5, 6, 15, 22, 23, 30, 31, 33, 34]);
const CLASS_B: ReadonlySet<number> = new Set([1, 10, 28]);
const CLASS_D: ReadonlySet<number> = new Set([7, 8, 9, 17, 27]);
export function cmdClass(cmd: CmdNumber): CmdClass {
  if (CLASS_A.has(cmd)) return "A";
  if (CLASS_B.has(cmd)) return "B";
  if (CLASS_D.has(cmd)) return "D";
  return "C";
}

/** `sanlk_resource.flags` (docs/wire.md §4.2). */
export const ResFlag = {
  LVER: 0x001,
  NUM_HOSTS: 0x002,
  SHARED: 0x004,
  PERSISTENT: 0x008,
  ALIGN1M: 0x010,
  ALIGN2M: 0x020,
  ALIGN4M: 0x040,
  ALIGN8M: 0x080,
  SECTOR512: 0x100,
  SECTOR4K: 0x200,
} as const;

/** `sanlk_lockspace.flags` (docs/wire.md §4.4); ALIGN/SECTOR values equal the RES ones. */
export const LsFlag = {
  ADD: 0x1,
  REM: 0x2,
  ALIGN1M: 0x010,
  ALIGN2M: 0x020,
  ALIGN4M: 0x040,
  ALIGN8M: 0x080,
  SECTOR512: 0x100,
  SECTOR4K: 0x200,
} as const;
/** Python binding names for the GET_LOCKSPACES flags. */
export const LSFLAG_ADD = LsFlag.ADD;
export const LSFLAG_REM = LsFlag.REM;

/** `sanlk_rindex.flags` (docs/wire.md §4.7): same ALIGN/SECTOR values as RES. */
export const RindexFlag = {
  ALIGN1M: 0x010,
  ALIGN2M: 0x020,
  ALIGN4M: 0x040,
  ALIGN8M: 0x080,
  SECTOR512: 0x100,
  SECTOR4K: 0x200,
} as const;

/** Host state in `sanlk_host.flags & HOST_STATE_MASK` (docs/wire.md §4.5). */
export const HostState = {
  UNKNOWN: 1,
  FREE: 2,
  LIVE: 3,
  FAIL: 4,
  DEAD: 5,
} as const;
export const HOST_STATE_MASK = 0xf;
export const HOST_UNKNOWN = HostState.UNKNOWN;
export const HOST_FREE = HostState.FREE;
export const HOST_LIVE = HostState.LIVE;
export const HOST_FAIL = HostState.FAIL;
export const HOST_DEAD = HostState.DEAD;

/** `sanlk_state.type` (docs/wire.md §4.9). */
export const StateType = {
  DAEMON: 1,
  CLIENT: 2,
  LOCKSPACE: 3,
  RESOURCE: 4,
  HOST: 5,
  RENEWAL: 6,
} as const;
export type StateTypeNumber = (typeof StateType)[keyof typeof StateType];

/** cmd_flags per command (docs/wire.md §4.12). */
export const AcquireFlag = { LVB: 0x1, ORPHAN: 0x2, ORPHAN_ONLY: 0x4, OWNER_NOWAIT: 0x8 } as const;
export const ReleaseFlag = { ALL: 0x1, RENAME: 0x2, ORPHAN: 0x4 } as const;
export const ConvertFlag = { OWNER_NOWAIT: 0x8 } as const;
export const RequestFlag = { NEXT_LVER: 0x1 } as const;
export const AddLockspaceFlag = { ASYNC: 0x1 } as const;
export const RemLockspaceFlag = { ASYNC: 0x1, UNUSED: 0x2 } as const;
export const InqLockspaceFlag = { WAIT: 0x1 } as const;
export const WriteResourceFlag = { CLEAR: 0x1 } as const;
export const RestrictFlag = { ALL: 0x1, SIGKILL: 0x2, SIGTERM: 0x4 } as const;
export const KillpathFlag = { PID: 0x1 } as const;
export const SetEventFlag = {
  CUR_GENERATION: 0x1,
  CLEAR_HOSTID: 0x2,
  CLEAR_EVENT: 0x4,
  REPLACE_EVENT: 0x8,
  ALL_HOSTS: 0x10,
} as const;
export const SETEV_CUR_GENERATION = SetEventFlag.CUR_GENERATION;
export const SETEV_CLEAR_HOSTID = SetEventFlag.CLEAR_HOSTID;
export const SETEV_CLEAR_EVENT = SetEventFlag.CLEAR_EVENT;
export const SETEV_REPLACE_EVENT = SetEventFlag.REPLACE_EVENT;
export const SETEV_ALL_HOSTS = SetEventFlag.ALL_HOSTS;
/** Resource-index commands' cmd_flags (docs/wire.md §4.12). */
export const RindexOpFlag = { NO_LOCKSPACE: 0x1, UPDATE_ADD: 0x10000, UPDATE_REM: 0x20000 } as const;

/** REQUEST `data` = force_mode (docs/wire.md §4.12). */
export const RequestForce = { NONE: 0, FORCE: 1, GRACEFUL: 2 } as const;
export const REQ_FORCE = RequestForce.FORCE;
export const REQ_GRACEFUL = RequestForce.GRACEFUL;

/** SET_CONFIG `data` = config command (docs/wire.md §7.29). */
export const ConfigCmd = { USED: 1, UNUSED: 2, USED_BY_ORPHANS: 4, UNUSED_BY_ORPHANS: 8 } as const;

/** Request `data2` meaning "the client registered on this connection" (docs/wire.md §5.5). */
export const SELF_PID = -1;
