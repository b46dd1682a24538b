/**
 * Resource index commands (docs/wire.md §7.31, docs/ondisk.md §8): FORMAT_RINDEX, UPDATE_RINDEX,
 * LOOKUP_RINDEX, CREATE_RESOURCE, DELETE_RESOURCE, REBUILD_RINDEX.
 *
 * create / delete / rebuild change the index and lease areas only while this host holds the
 * index's internal paxos lease ("rindex_lease" at rx_offset + align_size), acquired through
 * the lockspace. Except FORMAT, every command needs the lockspace joined unless
 * RX_NO_LOCKSPACE is given; one index operation at a time per lockspace (−EBUSY otherwise).
 */
import { Cmd, Errno, RENTRY_SIZE, SanlkResult, RindexOpFlag, encodeRentry, type SanlkRentry, type SanlkRindex } from "@sanlock-ts/core/wire";
import {
  PaxosLease,
  RINDEX_LEASE_NAME,
  SanlockTsError,
  createRindexEntry,
  deleteRindexEntry,
  formatRindex,
  lookupRindex,
  readRindexHeader,
  rebuildRindex,
  updateRindex,
} from "@sanlock-ts/core";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import { openDirectDevice, type DirectDevice } from "../device/index.js";
import { DAEMON_CLOCK } from "../daemon-clock.js";
import type { Lockspace } from "../lockspaces/lockspace.js";
import { DaemonResultError, resultOfAny } from "../results.js";
import { geometryFromFlags } from "./disk-handlers.js";
import { engineOf } from "./engine.js";

const RINDEX_RESULTS: Readonly<Record<string, number>> = {
  ERR_DISK_BAD_MAGIC: SanlkResult.RINDEX_MAGIC,
  ERR_DISK_BAD_VERSION: SanlkResult.RINDEX_VERSION,
  ERR_DISK_NAME_MISMATCH: SanlkResult.RINDEX_LOCKSPACE,
  ERR_DEVICE_MISALIGNED: SanlkResult.RINDEX_OFFSET,
  ERR_DEVICE_OUT_OF_RANGE: SanlkResult.RINDEX_OFFSET,
  ERR_DISK_RINDEX_NOT_FOUND: -Errno.ENOENT,
  ERR_DISK_RINDEX_FULL: -Errno.ENOSPC,
  ERR_CORE_INVALID_ARGUMENT: -Errno.EINVAL,
  ERR_DISK_NAME_TOO_LONG: -Errno.EINVAL,
};

/** Index-specific codes first (docs/wire.md §9.2: −274..−278), then the general mapping. */
function rindexResult(error: unknown): number {
  if (error instanceof SanlockTsError && RINDEX_RESULTS[error.code] !== undefined) return RINDEX_RESULTS[error.code]!;
  return resultOfAny(error);
}

/** Lockspaces with an index operation running (sanlock: one per lockspace, else −EBUSY). */
const busyLockspaces = new Set<string>();

/**
 * Runs `work` as the lockspace's one index operation. Unless RX_NO_LOCKSPACE is given the
 * lockspace must be joined (−ENOENT) and not failing (−ENOSPC), as lockspace_begin_rindex_op.
 */
async function indexOp<T>(ctx: CommandContext, rx: SanlkRindex, work: (ls: Lockspace | undefined) => Promise<T>): Promise<T> {
  if (ctx.header.cmdFlags & RindexOpFlag.NO_LOCKSPACE) return work(undefined);
  const ls = joinedLockspace(ctx, rx.lockspaceName);
  if (busyLockspaces.has(ls.name)) throw new DaemonResultError(-Errno.EBUSY, "another resource index operation is running");
  busyLockspaces.add(ls.name);
  try {
    return await work(ls);
  } finally {
    busyLockspaces.delete(ls.name);
  }
}

/** The lockspace an operation that must hold the internal lease runs under. */
function requireLockspace(ls: Lockspace | undefined): Lockspace {
  if (ls === undefined) throw new DaemonResultError(-Errno.EINVAL, "this index operation needs its lockspace");
  return ls;
}

async function withIndexDevice<T>(rx: SanlkRindex, work: (device: DirectDevice) => Promise<T>): Promise<T> {
  if (rx.disk.path === "") throw new DaemonResultError(-Errno.ENODEV, "resource index path is empty");
  const geometry = geometryFromFlags(rx.flags);
  const device = await openDirectDevice(rx.disk.path, { ioTimeoutMs: 60_000, ...(geometry ? { sectorSize: geometry.sectorSize } : {}) });
  try {
    return await work(device);
  } finally {
    await device.close().catch(() => undefined);
  }
}

/** Runs `work` while holding the index's internal lease through lockspace `ls` (docs/ondisk.md §8.3). */
async function underIndexLease<T>(ls: Lockspace, device: DirectDevice, rxOffset: number, work: () => Promise<T>): Promise<T> {
  const { geometry } = await readRindexHeader(device, { offset: rxOffset, spaceName: ls.name });
  const lease = new PaxosLease(ls.paxosHost(), { resource: RINDEX_LEASE_NAME, device, offset: rxOffset + geometry.alignSize });
  await lease.acquire();
  try {
    return await work();
  } finally {
    await lease.release().catch(() => undefined);
  }
}

function joinedLockspace(ctx: CommandContext, name: string): Lockspace {
  const ls = engineOf(ctx)?.active(name);
  if (ls === undefined) throw new DaemonResultError(-Errno.ENOENT, `lockspace ${name} is not joined`);
  if (ls.state !== "live") throw new DaemonResultError(-Errno.ENOSPC, `lockspace ${name} is failing`);
  return ls;
}

/** Replies for 36-39: data = result, then one sanlk_rentry, always (docs/wire.md §7.31). */
async function replyEntry(ctx: CommandContext, result: number, entry: SanlkRentry): Promise<void> {
  const payload = encodeRentry(entry);
  if (payload.byteLength !== RENTRY_SIZE) throw new Error("rentry size");
  await ctx.reply(result, { payload });
}

const EMPTY_ENTRY: SanlkRentry = { name: "", offset: 0n, flags: 0, unused: 0 };

async function formatIndex(ctx: CommandContext<typeof Cmd.FORMAT_RINDEX>): Promise<void> {
  const rx = ctx.body.rindex;
  try {
    const geometry = geometryFromFlags(rx.flags);
    await withIndexDevice(rx, (device) =>
      formatRindex(device, {
        offset: Number(rx.disk.offset),
        spaceName: rx.lockspaceName,
        maxResources: rx.maxResources,
        ...(geometry ? { geometry } : {}),
      }),
    );
  } catch (error) {
    await ctx.reply(rindexResult(error));
    return;
  }
  await ctx.reply(0);
}

async function rebuildIndex(ctx: CommandContext<typeof Cmd.REBUILD_RINDEX>): Promise<void> {
  const rx = ctx.body.rindex;
  const loc = { offset: Number(rx.disk.offset), spaceName: rx.lockspaceName };
  try {
    await indexOp(ctx, rx, (ls) =>
      withIndexDevice(rx, (device) =>
        ls === undefined ? rebuildRindex(device, loc) : underIndexLease(ls, device, loc.offset, () => rebuildRindex(device, loc)),
      ),
    );
  } catch (error) {
    await ctx.reply(rindexResult(error));
    return;
  }
  await ctx.reply(0);
}

async function updateIndex(ctx: CommandContext<typeof Cmd.UPDATE_RINDEX>): Promise<void> {
  const { rindex: rx, rentry } = ctx.body;
  const flags = ctx.header.cmdFlags;
  const remove = (flags & RindexOpFlag.UPDATE_REM) !== 0;
  if (!remove && !(flags & RindexOpFlag.UPDATE_ADD)) {
    await replyEntry(ctx, -Errno.EINVAL, rentry);
    return;
  }
  try {
    const entry = await indexOp(ctx, rx, () =>
      withIndexDevice(rx, (device) =>
        updateRindex(device, { offset: Number(rx.disk.offset), spaceName: rx.lockspaceName }, { resOffset: Number(rentry.offset), name: rentry.name, remove }),
      ),
    );
    await replyEntry(ctx, 0, { name: entry.name, offset: BigInt(entry.resOffset), flags: 0, unused: 0 });
  } catch (error) {
    await replyEntry(ctx, rindexResult(error), rentry);
  }
}

async function lookupIndex(ctx: CommandContext<typeof Cmd.LOOKUP_RINDEX>): Promise<void> {
  const { rindex: rx, rentry } = ctx.body;
  try {
    const match = await indexOp(ctx, rx, () =>
      withIndexDevice(rx, (device) =>
        lookupRindex(device, { offset: Number(rx.disk.offset), spaceName: rx.lockspaceName }, { name: rentry.name, resOffset: Number(rentry.offset) }),
      ),
    );
    // A free slot is reported without a name (recorded).
    const name = rentry.name === "" && rentry.offset === 0n ? "" : match.entry.name;
    await replyEntry(ctx, 0, { name, offset: BigInt(match.resOffset), flags: 0, unused: 0 });
  } catch (error) {
    // Name and offset both given but the entry differs: SANLK_RINDEX_DIFF (−278).
    const differs = error instanceof SanlockTsError && error.code === "ERR_DISK_NAME_MISMATCH" && rentry.name !== "" && rentry.offset !== 0n;
    await replyEntry(ctx, differs ? SanlkResult.RINDEX_DIFF : rindexResult(error), rentry);
  }
}

/** CREATE_RESOURCE: data2 = num_hosts of the new lease; reply offset, name zeroed (recorded). */
async function createResource(ctx: CommandContext<typeof Cmd.CREATE_RESOURCE>): Promise<void> {
  const { rindex: rx, rentry } = ctx.body;
  const loc = { offset: Number(rx.disk.offset), spaceName: rx.lockspaceName };
  try {
    const numHosts = ctx.header.data2 > 0 ? ctx.header.data2 : undefined;
    const match = await indexOp(ctx, rx, (ls) =>
      withIndexDevice(rx, (device) =>
        underIndexLease(requireLockspace(ls), device, loc.offset, () =>
          createRindexEntry(device, loc, { name: rentry.name, ...(numHosts ? { numHosts } : {}) }),
        ),
      ),
    );
    await replyEntry(ctx, 0, { ...EMPTY_ENTRY, offset: BigInt(match.resOffset) });
  } catch (error) {
    await replyEntry(ctx, rindexResult(error), rentry);
  }
}

/** DELETE_RESOURCE: zero the entry, clear the lease; reply zeros (recorded). */
async function deleteResource(ctx: CommandContext<typeof Cmd.DELETE_RESOURCE>): Promise<void> {
  const { rindex: rx, rentry } = ctx.body;
  const loc = { offset: Number(rx.disk.offset), spaceName: rx.lockspaceName };
  try {
    await indexOp(ctx, rx, (ls) =>
      withIndexDevice(rx, (device) =>
        underIndexLease(requireLockspace(ls), device, loc.offset, () =>
          deleteRindexEntry(device, loc, { name: rentry.name, clearTimestamp: BigInt(Math.floor(DAEMON_CLOCK.now())) }),
        ),
      ),
    );
    await replyEntry(ctx, 0, EMPTY_ENTRY);
  } catch (error) {
    await replyEntry(ctx, rindexResult(error), rentry);
  }
}

export function registerRindexHandlers(registry: CommandRegistry): void {
  registry.register(Cmd.FORMAT_RINDEX, formatIndex);
  registry.register(Cmd.REBUILD_RINDEX, rebuildIndex);
  registry.register(Cmd.UPDATE_RINDEX, updateIndex);
  registry.register(Cmd.LOOKUP_RINDEX, lookupIndex);
  registry.register(Cmd.CREATE_RESOURCE, createResource);
  registry.register(Cmd.DELETE_RESOURCE, deleteResource);
}
