/**
 * Commands that read or format lease areas through the daemon (wire.md §7.12, §7.17-§7.20,
 * §7.23): ALIGN, WRITE_LOCKSPACE, READ_LOCKSPACE, WRITE_RESOURCE, READ_RESOURCE,
 * READ_RESOURCE_OWNERS. Geometry comes from the request's ALIGN_* and SECTOR_* flags; flags 0
 * means the device's sector size with its legacy alignment (write) or probing (read).
 */
import {
  Cmd,
  Errno,
  HOST_SIZE,
  RESOURCE_SIZE,
  ResFlag,
  WriteResourceFlag,
  encodeHost,
  encodeLockspace,
  encodeResource,
  type SanlkResource,
} from "@sanlock-ts/core/wire";
import {
  ErrorCodes,
  geometryFor,
  SanlockTsError,
  initLockspaceArea,
  initResourceArea,
  readDeltaSector,
  readPaxosLeader,
  readResourceOwners,
  type Geometry,
} from "@sanlock-ts/core";
import type { CommandContext, CommandRegistry } from "../dispatch.js";
import { openDirectDevice, type DirectDevice } from "../device/index.js";
import { DAEMON_CLOCK } from "../daemon-clock.js";
import { DaemonResultError, EISDIR, resultOfAny } from "../results.js";
import { checkLeasePlacement } from "../resources/lease-placement.js";
import { stat } from "node:fs/promises";

// sanlock's io_timeout for these one-shot I/Os when none is given (seconds).
import { DEFAULT_IO_TIMEOUT } from "@sanlock-ts/core/limits";
/** Initialising writes get the longer write_init_io_timeout (60 s default). */
const INIT_TIMEOUT_MS = 60_000;

const ALIGN_FLAGS: readonly [number, number][] = [
  [0x10, 1048576],
  [0x20, 2097152],
  [0x40, 4194304],
  [0x80, 8388608],
];
const SECTOR_512 = 0x100;
const SECTOR_4K = 0x200;

/** Geometry named by ALIGN_* and SECTOR_* flags; undefined when neither is given. */
export function geometryFromFlags(flags: number): Geometry | undefined {
  const align = ALIGN_FLAGS.find(([bit]) => flags & bit)?.[1];
  const sector = flags & SECTOR_4K ? 4096 : flags & SECTOR_512 ? 512 : undefined;
  if (align === undefined && sector === undefined) return undefined;
  const sectorSize = sector ?? (align === 1048576 ? 512 : 4096);
  return geometryFor(sectorSize, align ?? (sectorSize === 512 ? 1048576 : 8388608));
}

/**
 * The geometry a write asks for. sanlock's writes check the flags with sizes_from_flags, which
 * answers −1 for a pair it has no geometry for (512 with 2M, ...); its reads do not (they keep
 * −EINVAL here, as before).
 */
function writeGeometryFromFlags(flags: number): Geometry | undefined {
  try {
    return geometryFromFlags(flags);
  } catch (error) {
    if (error instanceof SanlockTsError && error.code === ErrorCodes.BAD_GEOMETRY) throw new DaemonResultError(-1, error.message);
    throw error;
  }
}

/** The ALIGN|SECTOR bits that describe `g` (READ replies, §7.19). */
export function flagsOfGeometry(g: Geometry): number {
  const align = ALIGN_FLAGS.find(([, size]) => size === g.alignSize)?.[0] ?? 0;
  return align | (g.sectorSize === 4096 ? SECTOR_4K : SECTOR_512);
}

async function withDevice<T>(path: string, geometry: Geometry | undefined, work: (device: DirectDevice) => Promise<T>): Promise<T> {
  const device = await openDirectDevice(path, {
    ioTimeoutMs: INIT_TIMEOUT_MS,
    ...(geometry !== undefined ? { sectorSize: geometry.sectorSize } : {}),
  });
  try {
    return await work(device);
  } finally {
    await device.close().catch(() => undefined);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** ALIGN (§7.12): 1 MiB for 512-byte sectors (files count as 512), 8 MiB for 4096. */
async function align(ctx: CommandContext<typeof Cmd.ALIGN>): Promise<void> {
  const path = ctx.body.disk.path;
  if (path === "") {
    await ctx.reply(-Errno.ENODEV);
    return;
  }
  try {
    const size = await withDevice(path, undefined, async (device) => device.sectorSize);
    await ctx.reply(size === 512 ? 1048576 : size === 4096 ? 8388608 : -Errno.EINVAL);
  } catch {
    await ctx.reply(-Errno.ENODEV);
  }
}

/** WRITE_LOCKSPACE (§7.17): data2 = io_timeout to record (0 → 10). */
async function writeLockspace(ctx: CommandContext<typeof Cmd.WRITE_LOCKSPACE>): Promise<void> {
  const ls = ctx.body.lockspace;
  if (ls.hostIdDisk.path === "") {
    await ctx.reply(-Errno.ENODEV);
    return;
  }
  const ioTimeout = ctx.header.data2 > 0 ? ctx.header.data2 : DEFAULT_IO_TIMEOUT;
  try {
    const geometry = writeGeometryFromFlags(ls.flags);
    await withDevice(ls.hostIdDisk.path, geometry, (device) =>
      initLockspaceArea(device, {
        offset: Number(ls.hostIdDisk.offset),
        spaceName: ls.name,
        ioTimeout,
        ...(geometry !== undefined ? { geometry } : {}),
      }),
    );
  } catch (error) {
    await ctx.reply(resultOfAny(error));
    return;
  }
  await ctx.reply(0);
}

/** READ_LOCKSPACE (§7.19): data2 = io_timeout in the record; the struct follows even on error. */
async function readLockspace(ctx: CommandContext<typeof Cmd.READ_LOCKSPACE>): Promise<void> {
  const ls = ctx.body.lockspace;
  // The echo keeps the u64 host_id as sent (sanlock echoes its struct). Going through a Number
  // turned host_ids above 2^53 into values that are no u64 (2^64 - 1 became 2^64): encoding the
  // reply threw and the client got no reply at all (found by fuzz-socket.test.ts).
  const hostIdU64 = ls.hostId === 0n ? 1n : ls.hostId;
  const hostId = Number(hostIdU64);
  const echo = { ...ls, hostId: hostIdU64 };
  if (ls.hostIdDisk.path === "") {
    await ctx.reply(-Errno.ENODEV, { payload: encodeLockspace(echo) });
    return;
  }
  try {
    const geometry = geometryFromFlags(ls.flags);
    const sector = await withDevice(ls.hostIdDisk.path, geometry, (device) =>
      readDeltaSector(device, {
        offset: Number(ls.hostIdDisk.offset),
        hostId,
        ...(geometry !== undefined ? { geometry } : {}),
        ...(ls.name !== "" ? { spaceName: ls.name } : {}),
      }),
    );
    const reply = { ...echo, name: sector.leader.spaceName, flags: flagsOfGeometry(sector.geometry) };
    await ctx.reply(0, { data2: sector.leader.ioTimeout, payload: encodeLockspace(reply) });
  } catch (error) {
    await ctx.reply(resultOfAny(error), { payload: encodeLockspace(echo) });
  }
}

/** WRITE_RESOURCE (§7.18): header `data` is used as num_hosts; WRITE_CLEAR writes a cleared lease. */
async function writeResource(ctx: CommandContext<typeof Cmd.WRITE_RESOURCE>): Promise<void> {
  const res = ctx.body.resource;
  const first = res.disks[0];
  if (first === undefined || first.path === "") {
    await ctx.reply(-Errno.ENODEV);
    return;
  }
  let geometry: Geometry | undefined;
  try {
    geometry = writeGeometryFromFlags(res.flags);
  } catch (error) {
    await ctx.reply(resultOfAny(error));
    return;
  }
  const clear = (ctx.header.cmdFlags & WriteResourceFlag.CLEAR) !== 0;
  const clearTimestamp = clear ? BigInt(Math.floor(DAEMON_CLOCK.now())) : undefined;
  // Every disk of the resource gets the same area, disk by disk; the first that fails ends the
  // write with its result, as sanlock's paxos_lease_init does (docs/algorithms.md §4.11).
  for (const disk of res.disks) {
    if (await isDirectory(disk.path)) {
      await ctx.reply(-EISDIR); // recorded: write_resource on a directory answers −EISDIR
      return;
    }
    try {
      await withDevice(disk.path, geometry, (device) =>
        initResourceArea(device, {
          offset: Number(disk.offset),
          spaceName: res.lockspaceName,
          resourceName: res.name,
          numHosts: ctx.header.data >>> 0,
          ...(geometry !== undefined ? { geometry } : {}),
          ...(clearTimestamp !== undefined ? { clearTimestamp } : {}),
        }),
      );
    } catch (error) {
      await ctx.reply(resultOfAny(error));
      return;
    }
  }
  await ctx.reply(0);
}

async function readLeader(res: SanlkResource) {
  const first = res.disks[0];
  if (first === undefined) throw new RangeError("resource without disk");
  const geometry = geometryFromFlags(res.flags);
  return withDevice(first.path, geometry, async (device) => {
    await checkLeasePlacement(device, first.offset);
    return readPaxosLeader(device, {
      offset: Number(first.offset),
      ...(geometry !== undefined ? { geometry } : {}),
      ...(res.lockspaceName !== "" ? { spaceName: res.lockspaceName } : {}),
      ...(res.name !== "" ? { resourceName: res.name } : {}),
    });
  });
}

/** READ_RESOURCE (§7.20): the struct (names, lver, geometry flags) follows even on error. */
async function readResource(ctx: CommandContext<typeof Cmd.READ_RESOURCE>): Promise<void> {
  const res = ctx.body.resource;
  const echo = { ...res, disks: [] };
  try {
    const { leader, geometry } = await readLeader(res);
    const reply: SanlkResource = {
      ...echo,
      lockspaceName: leader.spaceName,
      name: leader.resourceName,
      lver: leader.lver,
      flags: (res.flags & ~0x3f0) | flagsOfGeometry(geometry),
    };
    await ctx.reply(0, { payload: encodeResource(reply, false) });
  } catch (error) {
    await ctx.reply(resultOfAny(error), { payload: encodeResource(echo, false) });
  }
}

/**
 * sanlock's read_resource_owners (resource.c), given no sizes, reads the area as 512/1M and,
 * when the leader's sector_size or align flag say otherwise, reads it again with the leader's
 * sizes before verifying anything: a sector_size of 0 fails that read with -EINVAL
 * (paxos_read_buf), and a sector size other than 512/4096 without an align flag gives an
 * align size of -1, which paxos_read_buf returns as the result. So a zeroed leader answers
 * -EINVAL here where READ_RESOURCE answers SANLK_LEADER_MAGIC (corrupt-areas.test.ts compares
 * with the real daemon). Returns that result, or 0 to go on with the usual leader read.
 */
async function ownersSizeProbe(path: string, offset: bigint): Promise<number> {
  const sector = await withDevice(path, undefined, async (device) => {
    await checkLeasePlacement(device, offset);
    return device.read(Number(offset), Math.max(512, device.sectorSize));
  });
  const view = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  const leaderFlags = view.getUint32(8, true);
  const sectorSize = view.getUint32(12, true);
  const align = ALIGN_FLAGS.find(([bit]) => leaderFlags & bit)?.[1] ?? (sectorSize === 512 ? 1048576 : sectorSize === 4096 ? 8388608 : -1);
  if (sectorSize === 512 && align === 1048576) return 0;
  if (sectorSize === 0) return -Errno.EINVAL;
  if (align < 0) return -1;
  return 0;
}

/** READ_RESOURCE_OWNERS (§7.23): resource struct then the owners as sanlk_host. */
async function readOwners(ctx: CommandContext<typeof Cmd.READ_RESOURCE_OWNERS>): Promise<void> {
  const res = ctx.body.resource;
  const first = res.disks[0];
  const echo = { ...res, disks: [] };
  if (first === undefined) {
    await ctx.reply(-Errno.ERANGE, { payload: encodeResource(echo, false) });
    return;
  }
  try {
    const geometry = geometryFromFlags(res.flags);
    const sizeResult = geometry === undefined ? await ownersSizeProbe(first.path, first.offset) : 0;
    if (sizeResult < 0) {
      await ctx.reply(sizeResult, { payload: encodeResource(echo, false) });
      return;
    }
    const { leader } = await readLeader(res);
    const owners = await withDevice(first.path, geometry, (device) =>
      readResourceOwners(leader.spaceName, { resource: leader.resourceName, device, offset: Number(first.offset) }, DAEMON_CLOCK, DEFAULT_IO_TIMEOUT),
    );
    const shared = owners.some((o) => o.shared);
    const reply: SanlkResource = { ...echo, lver: leader.lver, flags: res.flags | (shared ? ResFlag.SHARED : 0) };
    const payload = new Uint8Array(RESOURCE_SIZE + owners.length * HOST_SIZE);
    payload.set(encodeResource(reply, false), 0);
    owners.forEach((o, i) =>
      payload.set(
        encodeHost({
          hostId: BigInt(o.hostId),
          generation: o.generation,
          timestamp: o.timestamp,
          ioTimeout: 0,
          flags: 0,
        }),
        RESOURCE_SIZE + i * HOST_SIZE,
      ),
    );
    await ctx.reply(0, { data2: owners.length, payload });
  } catch (error) {
    await ctx.reply(resultOfAny(error), { payload: encodeResource(echo, false) });
  }
}

export function registerDiskHandlers(registry: CommandRegistry): void {
  registry.register(Cmd.ALIGN, align);
  registry.register(Cmd.WRITE_LOCKSPACE, writeLockspace);
  registry.register(Cmd.READ_LOCKSPACE, readLockspace);
  registry.register(Cmd.WRITE_RESOURCE, writeResource);
  registry.register(Cmd.READ_RESOURCE, readResource);
  registry.register(Cmd.READ_RESOURCE_OWNERS, readOwners);
}
