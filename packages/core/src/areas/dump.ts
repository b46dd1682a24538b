// Text of `sanlock direct dump`, `read_leader` and `next_free` (docs/ondisk.md §9), line for line,
// so the CLI only prints what these functions return.
import type { BlockDevice } from "../block-device.js";
import { ErrorCodes, SanlockTsError } from "../errors.js";
import type { Geometry } from "../ondisk/geometry.js";
import { MIB } from "../ondisk/geometry.js";
import { hostBitsSet } from "../ondisk/host-bitmap.js";
import type { LeaderKind, LeaderRecord } from "../ondisk/leader-record.js";
import { DELTA_DISK_MAGIC, PAXOS_DISK_MAGIC } from "../ondisk/leader-record.js";
import { MBLOCK_OFFSET, MBLOCK_SHARED } from "../ondisk/mode-block.js";
import { NAME_LEN } from "../limits.js";
import { readName } from "../ondisk/names.js";
import { RINDEX_DISK_MAGIC, RINDEX_ENTRY_SIZE } from "../ondisk/rindex.js";
import { detectAreaGeometry } from "./detect.js";

export const DUMP_OFFSET_WARNING = "WARNING: dump offset should be a multiple of 1048576 bytes.";
export const DUMP_NO_GEOMETRY = "Cannot find sector_size and align_size, set with -A and -Z.";
/** sanlock probes for sizes at OFFSET, +1 MiB, ... this many times. */
export const DUMP_DETECT_ATTEMPTS = 1024;
/** Upper bound on chunks one dump visits when no SIZE is given (64 GiB of 8M areas). */
export const DUMP_MAX_CHUNKS = 1 << 16;
/** 106 spaces: shared-holder lines put host_id and generation under `own` and `gen`. */
const SHARED_INDENT = " ".repeat(106);

export interface DumpOptions {
  /** start byte offset (OFFSET) */
  offset: number;
  /** bytes to cover (SIZE); undefined = until the first chunk that is not a lease */
  size?: number;
  /** -f value: >0 adds requests and bitmaps, >1 dblocks */
  force?: number;
  /** -Z/-A; detected when undefined */
  geometry?: Geometry;
}

function u64(view: DataView, offset: number): bigint {
  return view.getBigUint64(offset, true);
}

function pad(value: bigint | number, width: number): string {
  return value.toString().padStart(width, "0");
}

function right(text: string, width: number): string {
  return text.padStart(width, " ");
}

/** Header line: "%8s %36s %48s %10s %4s %4s %s" [+ "/req/mode"]. */
export function dumpHeaderLine(force: number): string {
  const line = [right("offset", 8), right("lockspace", 36), right("resource", 48), right("timestamp", 10), right("own", 4), right("gen", 4), "lver"].join(" ");
  return force ? `${line}/req/mode` : line;
}

async function findGeometry(device: BlockDevice, opts: DumpOptions): Promise<Geometry | undefined> {
  if (opts.geometry) return opts.geometry;
  let probe = opts.offset;
  for (let i = 0; i < DUMP_DETECT_ATTEMPTS; i++) {
    const found = await detectAreaGeometry(device, probe);
    if (found) return found;
    probe += MIB;
    if (opts.size !== undefined && probe >= opts.offset + opts.size) break;
  }
  return undefined;
}

/** Reads one chunk; bytes that cannot be read (past the end) are zero, as in sanlock's buffer. */
async function readChunk(device: BlockDevice, offset: number, length: number, deviceSize: number): Promise<Uint8Array> {
  const chunk = new Uint8Array(length);
  const available = Math.max(0, Math.min(length, deviceSize - offset));
  const readable = available - (available % device.sectorSize);
  if (readable > 0) {
    try {
      chunk.set(await device.read(offset, readable));
    } catch {
      // sanlock ignores a failed dump read; its buffer's first sector is zero -> chunk ends the dump.
      chunk.fill(0);
    }
  }
  return chunk;
}

function deltaLines(chunk: Uint8Array, base: number, geometry: Geometry, force: number): string[] {
  const lines: string[] = [];
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (let i = 0; i < geometry.sectorsPerArea; i++) {
    const s = i * geometry.sectorSize;
    if (view.getUint32(s, true) === 0) continue;
    const ownerId = u64(view, s + 32);
    const ownerGen = u64(view, s + 40);
    // never acquired: not printed (released records are)
    if (ownerId === 0n && ownerGen === 0n) continue;
    let line = [
      pad(base + s, 8),
      right(readName(chunk, s + 56), 36),
      right(readName(chunk, s + 104), 48),
      pad(u64(view, s + 152), 10),
      pad(ownerId, 4),
      pad(ownerGen, 4),
    ].join(" ");
    if (force) {
      for (const host of hostBitsSet(chunk.subarray(s, s + geometry.sectorSize), geometry.maxHosts)) line += ` ${host}`;
    }
    lines.push(line);
  }
  return lines;
}

function paxosLines(chunk: Uint8Array, base: number, geometry: Geometry, force: number): string[] {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const ss = geometry.sectorSize;
  let line = [
    pad(base, 8),
    right(readName(chunk, 56), 36),
    right(readName(chunk, 104), 48),
    pad(u64(view, 152), 10),
    pad(u64(view, 32), 4),
    pad(u64(view, 40), 4),
    u64(view, 48).toString(),
  ].join(" ");
  if (force) line += `/${u64(view, ss + 8)}/${view.getUint32(ss + 16, true)}`;
  const lines = [line];
  // num_hosts comes from the leader; bounded by the dblock sectors that exist in the chunk.
  const numHosts = Math.min(Number(BigInt.asUintN(32, u64(view, 16))), geometry.sectorsPerArea - 2);
  for (let i = 0; i < numHosts; i++) {
    const d = (2 + i) * ss;
    if (force > 1) {
      const mbal = u64(view, d),
        inp = u64(view, d + 16),
        lver = u64(view, d + 40);
      if (mbal || inp || lver) {
        lines.push(
          `dblock[${pad(i, 4)}] mbal ${mbal} bal ${u64(view, d + 8)} inp ${inp} inp2 ${u64(view, d + 24)} ` +
            `inp3 ${u64(view, d + 32)} lver ${lver} sum ${view.getUint32(d + 48, true).toString(16)}`,
        );
      }
    }
    if (view.getUint32(d + MBLOCK_OFFSET, true) & MBLOCK_SHARED) {
      lines.push(`${SHARED_INDENT}${pad(i + 1, 4)} ${pad(u64(view, d + MBLOCK_OFFSET + 8), 4)} SH`);
    }
  }
  return lines;
}

function rindexLines(chunk: Uint8Array, base: number, geometry: Geometry, force: number): string[] {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const space = right(readName(chunk, 32), 36);
  const lines = [
    `${pad(base, 8)} ${space} rindex_header 0x${view.getUint32(8, true).toString(16)} ` +
      `${view.getInt32(12, true)} ${view.getUint32(16, true)} ${u64(view, 24)}`,
  ];
  if (!force) return lines;
  for (let pos = geometry.sectorSize; pos + RINDEX_ENTRY_SIZE <= chunk.length; pos += RINDEX_ENTRY_SIZE) {
    const resOffset = u64(view, pos);
    if (resOffset === 0n && chunk[pos + 16] === 0) continue;
    lines.push(`${pad(base + pos, 8)} ${space} rentry ${readName(chunk, pos + 16)} ${resOffset}`);
  }
  return lines;
}

/**
 * The lines `sanlock direct dump PATH:OFFSET[:SIZE] [-f N] [-Z -A]` prints (without "\n").
 * Bounded: SIZE bytes, or at most DUMP_MAX_CHUNKS chunks and the device's end.
 */
export async function dumpLines(device: BlockDevice, opts: DumpOptions): Promise<string[]> {
  const force = opts.force ?? 0;
  const lines: string[] = [];
  if (opts.offset % MIB !== 0) lines.push(DUMP_OFFSET_WARNING);
  const geometry = await findGeometry(device, opts);
  if (!geometry) {
    lines.push(DUMP_NO_GEOMETRY);
    return lines;
  }
  lines.push(dumpHeaderLine(force));
  const deviceSize = await device.size();
  const endSector = opts.size !== undefined ? Math.floor(opts.size / geometry.sectorSize) : undefined;
  for (let chunkIndex = 0, sector = 0; chunkIndex < DUMP_MAX_CHUNKS; chunkIndex++, sector += geometry.sectorsPerArea) {
    if (endSector !== undefined && sector >= endSector) break;
    const base = opts.offset + sector * geometry.sectorSize;
    if (endSector === undefined && base >= deviceSize) break;
    const chunk = await readChunk(device, base, geometry.alignSize, deviceSize);
    const magic = new DataView(chunk.buffer).getUint32(0, true);
    if (magic === DELTA_DISK_MAGIC) lines.push(...deltaLines(chunk, base, geometry, force));
    else if (magic === PAXOS_DISK_MAGIC) lines.push(...paxosLines(chunk, base, geometry, force));
    else if (magic === RINDEX_DISK_MAGIC) lines.push(...rindexLines(chunk, base, geometry, force));
    else if (endSector === undefined) break;
  }
  return lines;
}

/** `direct read_leader` field lines (after "read_leader done <rc>"), docs/ondisk.md §9.3. */
export function formatLeaderLines(leader: LeaderRecord, kind: LeaderKind): string[] {
  const name = (s: string): string => s.slice(0, NAME_LEN);
  const w = kind === "delta" ? ["extra1", "extra2", "extra3"] : ["write_id", "write_generation", "write_timestamp"];
  return [
    `magic 0x${leader.magic.toString(16)}`,
    `version 0x${leader.version.toString(16)}`,
    `flags 0x${leader.flags.toString(16)}`,
    `sector_size ${leader.sectorSize}`,
    `num_hosts ${leader.numHosts}`,
    `max_hosts ${leader.maxHosts}`,
    `owner_id ${leader.ownerId}`,
    `owner_generation ${leader.ownerGeneration}`,
    `lver ${leader.lver}`,
    `space_name ${name(leader.spaceName)}`,
    `resource_name ${name(leader.resourceName)}`,
    `timestamp ${leader.timestamp}`,
    `checksum 0x${leader.checksum.toString(16)}`,
    `io_timeout ${leader.ioTimeout}`,
    `${w[0]} ${leader.writeId}`,
    `${w[1]} ${leader.writeGeneration}`,
    `${w[2]} ${leader.writeTimestamp}`,
  ];
}

/** Bound on next_free's search (sanlock's loop has none; it stops at the device end). */
export const NEXT_FREE_MAX_STEPS = 1 << 20;

/**
 * `direct next_free PATH:OFFSET -Z -A`: the first area, stepping by align_size from offset,
 * whose first sector has none of the delta, paxos, rindex magics (past the end counts as free).
 * Returns the offset RELATIVE to `offset`, which is what sanlock 3.8.5 prints.
 */
export async function nextFree(device: BlockDevice, offset: number, geometry: Geometry): Promise<number> {
  const size = await device.size();
  for (let step = 0; step < NEXT_FREE_MAX_STEPS; step++) {
    const rel = step * geometry.alignSize;
    if (offset + rel + geometry.sectorSize > size) return rel;
    const first = await device.read(offset + rel, geometry.sectorSize);
    const magic = new DataView(first.buffer, first.byteOffset).getUint32(0, true);
    if (magic !== DELTA_DISK_MAGIC && magic !== PAXOS_DISK_MAGIC && magic !== RINDEX_DISK_MAGIC) return rel;
  }
  throw new SanlockTsError(ErrorCodes.OUT_OF_RANGE, `no free area within ${NEXT_FREE_MAX_STEPS} areas of ${offset}`);
}
