/**
 * Test helper (not a test): the input generator of fuzz-socket.test.ts.
 *
 * Every case comes from a seeded PRNG (mulberry32), so a case is reproduced by its seed alone.
 * Most cases are structure-aware: a valid request built with the client's wire encoders
 * (buildRequest), then mutated — header fields (length, cmd, magic, version, data/data2 counts),
 * struct fields at their wire offsets (num_disks, host_id, offsets, flags, max_resources),
 * truncation, bit flips, appended garbage or further messages. The rest are pure random bytes,
 * or random bytes behind a valid magic. How the bytes are delivered (all at once, in random
 * chunks, byte by byte, cut off mid-message) is chosen by the same PRNG.
 *
 * `isSafe` keeps out the few requests that would legitimately end the test's premises rather
 * than test the daemon's robustness (SHUTDOWN, removing the held lockspace, writing or
 * REQUESTing the protected lease areas, targeting the holder's pid). It frames the bytes with
 * the daemon's own MessageReader, so it sees exactly the requests the daemon would see.
 */
import {
  AcquireFlag,
  Cmd,
  DISK_SIZE,
  HEADER_SIZE,
  LOCKSPACE_SIZE,
  MessageReader,
  PATH_LEN,
  RESOURCE_SIZE,
  ReleaseFlag,
  WIRE_MAGIC,
  buildRequest,
  disk,
  lockspace,
  resource,
  type CmdNumber,
  type RequestBodies,
  type SanlkDisk,
  type WireEvent,
  type WireRequest,
} from "@sanlock-ts/client";

/** mulberry32: a small, fast, well-mixed 32-bit PRNG. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform u32. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** The derived seed of case `index` of a run seeded `seed` (each case reproduces alone). */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

export interface FuzzTargets {
  /** The joined lockspace the holder's lease lives in. */
  readonly lockspace: string;
  /** The held resource's name. */
  readonly resource: string;
  /** Lease areas nothing may write to or REQUEST (the joined lockspace, the held resource). */
  readonly protectedPaths: readonly string[];
  /** A file the fuzzer may format and write (WRITE_LOCKSPACE, WRITE_RESOURCE, rindex...). */
  readonly scratchPath: string;
  /** A file never written (all zeros: no lease area). */
  readonly zeroPath: string;
  /** The lease holder's pid: no request may target it. */
  readonly holderPid: number;
}

export type Delivery =
  /** One write, then shutdown(SHUT_WR). */
  | { kind: "whole" }
  /** Random-sized chunks with short pauses, then shutdown(SHUT_WR). */
  | { kind: "chunks"; sizes: number[]; pauseMs: number }
  /** One byte per write, `pauseMs` apart (the first `slowBytes` bytes; the rest at once), then SHUT_WR. */
  | { kind: "slow"; slowBytes: number; pauseMs: number }
  /** The first `cut` bytes, then the connection is destroyed (RST/close mid-message). */
  | { kind: "abort"; cut: number };

export interface FuzzCase {
  readonly seed: number;
  /** How the bytes were made, for the failure report. */
  readonly recipe: string[];
  readonly bytes: Uint8Array;
  readonly delivery: Delivery;
}

const NAMES = ["", "FUZZ", "x", "A".repeat(48)];
const HOST_IDS = [0n, 1n, 2n, 3n, 2000n, 2001n, 0xffffn, 0x7fff_ffff_ffff_ffffn, 0xffff_ffff_ffff_ffffn];
const OFFSETS = [0n, 1n, 511n, 512n, 4096n, 1048576n, 0x7fff_ffff_ffff_f000n, 0xffff_ffff_ffff_ffffn];
const U32S = [
  0,
  1,
  2,
  3,
  4,
  5,
  7,
  8,
  9,
  31,
  32,
  33,
  127,
  128,
  129,
  1024,
  1040,
  4096,
  4097,
  65535,
  65536,
  0x7fff_ffff,
  0x8000_0000,
  0xffff_fffe,
  0xffff_ffff,
  1048576,
  1048576 + 32,
  1048576 + 33,
];
/** Commands that end the daemon or kill processes by pid: never sent. */
const NEVER: ReadonlySet<number> = new Set([Cmd.SHUTDOWN, Cmd.SHUTDOWN_WAIT]);
/** Commands that only read a lease area; the others may not name a protected path. */
const READ_ONLY: ReadonlySet<number> = new Set([
  Cmd.ACQUIRE,
  Cmd.ALIGN,
  Cmd.EXAMINE_LOCKSPACE,
  Cmd.EXAMINE_RESOURCE,
  Cmd.READ_LOCKSPACE,
  Cmd.READ_RESOURCE,
  Cmd.READ_RESOURCE_OWNERS,
  Cmd.INQ_LOCKSPACE,
  Cmd.GET_HOSTS,
  Cmd.LOOKUP_RINDEX,
  Cmd.GET_LVB,
  Cmd.ADD_LOCKSPACE,
  Cmd.RENEWAL,
  Cmd.HOST_STATUS,
  Cmd.REG_EVENT,
  Cmd.END_EVENT,
  Cmd.SET_EVENT,
  Cmd.SET_CONFIG,
  Cmd.CONVERT,
  Cmd.RELEASE,
  Cmd.SET_LVB,
]);

function pickU32(rng: Rng): number {
  return rng.chance(0.7) ? rng.pick(U32S) : rng.u32();
}

function pickName(rng: Rng, t: FuzzTargets): string {
  return rng.chance(0.4) ? rng.pick([t.lockspace, t.resource]) : rng.pick(NAMES);
}

function pickPath(rng: Rng, t: FuzzTargets): string {
  return rng.pick([...t.protectedPaths, t.scratchPath, t.scratchPath, t.zeroPath, "", "/nonexistent/fuzz", "/dev/null", "/", "x".repeat(PATH_LEN - 1)]);
}

function pickDisk(rng: Rng, t: FuzzTargets): SanlkDisk {
  return disk(pickPath(rng, t), rng.chance(0.6) ? 0n : rng.pick(OFFSETS));
}

function pickDisks(rng: Rng, t: FuzzTargets): SanlkDisk[] {
  const n = 1 + rng.int(4);
  return Array.from({ length: n }, () => pickDisk(rng, t));
}

/** A valid request of a random command, built by the client's encoders. */
function validRequest(rng: Rng, t: FuzzTargets): { cmd: CmdNumber; bytes: Uint8Array } {
  const cmd = (1 + rng.int(40)) as CmdNumber;
  const ls = (): ReturnType<typeof lockspace> => {
    const d = pickDisk(rng, t);
    return lockspace(rng.chance(0.5) ? t.lockspace : pickName(rng, t), {
      hostId: rng.pick(HOST_IDS),
      flags: rng.chance(0.8) ? 0 : pickU32(rng),
      path: d.path,
      offset: d.offset,
    });
  };
  const res = (withDisks: boolean): ReturnType<typeof resource> =>
    resource(rng.chance(0.6) ? t.lockspace : pickName(rng, t), rng.chance(0.5) ? t.resource : pickName(rng, t), withDisks ? pickDisks(rng, t) : [], {
      flags: rng.chance(0.7) ? 0 : pickU32(rng),
      lver: rng.chance(0.8) ? 0n : rng.pick(OFFSETS),
    });
  const rindex = (): RequestBodies[35]["rindex"] => ({
    flags: rng.chance(0.7) ? 0 : pickU32(rng),
    maxResources: pickU32(rng),
    unused: 0n,
    lockspaceName: pickName(rng, t),
    disk: pickDisk(rng, t),
  });
  const rentry = (): RequestBodies[36]["rentry"] => ({ name: pickName(rng, t), offset: rng.pick(OFFSETS), flags: 0, unused: 0 });
  const event = (): RequestBodies[30]["event"] => ({
    hostId: rng.pick(HOST_IDS),
    generation: rng.pick(OFFSETS),
    event: rng.pick(OFFSETS),
    data: rng.pick(OFFSETS),
  });
  const fields = { cmdFlags: rng.chance(0.6) ? 0 : pickU32(rng), data: rng.chance(0.6) ? 0 : pickU32(rng), data2: rng.chance(0.5) ? -1 : pickU32(rng) };
  const build = <C extends CmdNumber>(c: C, body: RequestBodies[C], f: typeof fields = fields): Uint8Array => buildRequest(c, body, f).bytes;
  switch (cmd) {
    case Cmd.ACQUIRE: {
      const n = rng.int(4);
      return {
        cmd,
        bytes: build(
          cmd,
          {
            resources: Array.from({ length: n }, () => res(true)),
            options: {
              ownerName: pickName(rng, t),
              flags: rng.chance(0.6) ? 0 : rng.pick([AcquireFlag.LVB, AcquireFlag.ORPHAN, pickU32(rng)]),
              len: rng.chance(0.8) ? 0 : pickU32(rng),
            },
          },
          { ...fields, data: n },
        ),
      };
    }
    case Cmd.RELEASE: {
      const flags = rng.pick([0, ReleaseFlag.ALL, ReleaseFlag.ORPHAN, ReleaseFlag.RENAME, pickU32(rng)]);
      const n = flags & ReleaseFlag.ALL ? 0 : flags & ReleaseFlag.ORPHAN ? 1 : flags & ReleaseFlag.RENAME ? 2 : rng.int(4);
      return { cmd, bytes: build(cmd, { resources: Array.from({ length: n }, () => res(false)) }, { ...fields, cmdFlags: flags, data: n }) };
    }
    case Cmd.REQUEST:
    case Cmd.WRITE_RESOURCE:
    case Cmd.READ_RESOURCE:
    case Cmd.READ_RESOURCE_OWNERS:
      return { cmd, bytes: build(cmd, { resource: res(true) }) };
    case Cmd.EXAMINE_RESOURCE:
    case Cmd.GET_LVB:
    case Cmd.CONVERT:
      return { cmd, bytes: build(cmd, { resource: res(false) }) };
    case Cmd.SET_LVB:
      return { cmd, bytes: build(cmd, { resource: res(false), lvb: rng.bytes(rng.pick([0, 1, 512, 4096])) }) };
    case Cmd.ALIGN:
      return { cmd, bytes: build(cmd, { disk: pickDisk(rng, t) }) };
    case Cmd.KILLPATH:
      return { cmd, bytes: build(cmd, { killpath: { path: rng.chance(0.5) ? "" : "/bin/true", args: "", flags: 0 } } as RequestBodies[17]) };
    case Cmd.REG_EVENT:
    case Cmd.SET_EVENT:
      return { cmd, bytes: build(cmd, { lockspace: ls(), event: event() }) };
    case Cmd.FORMAT_RINDEX:
    case Cmd.REBUILD_RINDEX:
      return { cmd, bytes: build(cmd, { rindex: rindex() }) };
    case Cmd.UPDATE_RINDEX:
    case Cmd.LOOKUP_RINDEX:
    case Cmd.CREATE_RESOURCE:
    case Cmd.DELETE_RESOURCE:
      return { cmd, bytes: build(cmd, { rindex: rindex(), rentry: rentry() }) };
    case Cmd.REGISTER:
    case Cmd.SHUTDOWN:
    case Cmd.STATUS:
    case Cmd.LOG_DUMP:
    case Cmd.INQUIRE:
    case Cmd.RESTRICT:
    case Cmd.GET_LOCKSPACES:
    case Cmd.VERSION:
    case Cmd.SHUTDOWN_WAIT:
      return { cmd, bytes: build(cmd, {} as RequestBodies[1]) };
    default:
      return { cmd, bytes: build(cmd, { lockspace: ls() } as RequestBodies[2]) };
  }
}

function setU32(bytes: Uint8Array, at: number, value: number): void {
  if (at + 4 <= bytes.length) new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, value >>> 0, true);
}

function setU64(bytes: Uint8Array, at: number, value: bigint): void {
  if (at + 8 <= bytes.length) new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(at, BigInt.asUintN(64, value), true);
}

/** Offsets of count-like and numeric struct fields inside a payload of `cmd`. */
function fieldOffsets(cmd: number, payloadLength: number): { u32: number[]; u64: number[] } {
  const u32: number[] = [];
  const u64: number[] = [];
  const P = HEADER_SIZE;
  if (
    cmd === Cmd.ACQUIRE ||
    cmd === Cmd.REQUEST ||
    cmd === Cmd.WRITE_RESOURCE ||
    cmd === Cmd.READ_RESOURCE ||
    cmd === Cmd.READ_RESOURCE_OWNERS ||
    cmd === Cmd.RELEASE ||
    cmd === Cmd.CONVERT ||
    cmd === Cmd.GET_LVB ||
    cmd === Cmd.SET_LVB ||
    cmd === Cmd.EXAMINE_RESOURCE
  ) {
    // sanlk_resource: flags @120, num_disks @124, lver @96; the first disk's offset @128+1024.
    u32.push(P + 124, P + 120, P + 112);
    u64.push(P + 96, P + RESOURCE_SIZE + PATH_LEN);
    if (payloadLength > RESOURCE_SIZE + DISK_SIZE) u32.push(P + RESOURCE_SIZE + DISK_SIZE + 124);
  } else if (payloadLength >= LOCKSPACE_SIZE && cmd !== Cmd.FORMAT_RINDEX && cmd < Cmd.FORMAT_RINDEX) {
    // sanlk_lockspace: host_id @48, flags @56, disk offset @60+1024.
    u64.push(P + 48, P + 60 + PATH_LEN);
    u32.push(P + 56);
  } else if (cmd >= Cmd.FORMAT_RINDEX) {
    // sanlk_rindex: flags @0, max_resources @4; disk offset @64+1024; rentry offset @1104+48.
    u32.push(P, P + 4);
    u64.push(P + 64 + PATH_LEN, P + 1104 + 48);
  }
  return { u32, u64 };
}

/** One structure-aware mutation of `bytes` (a message starting with a header). */
function mutate(rng: Rng, bytes: Uint8Array, recipe: string[]): Uint8Array {
  const cmd = bytes.length >= 12 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true) : 0;
  const choice = rng.int(12);
  switch (choice) {
    case 0: {
      const v = rng.chance(0.5) ? bytes.length + rng.int(9) - 4 : pickU32(rng);
      setU32(bytes, 16, v);
      recipe.push(`length=${v}`);
      return bytes;
    }
    case 1: {
      const v = rng.pick([0, 41, 42, 255, 0xffff_ffff, rng.u32(), 1 + rng.int(40)]);
      setU32(bytes, 8, v);
      recipe.push(`cmd=${v}`);
      return bytes;
    }
    case 2: {
      const v = rng.chance(0.5) ? WIRE_MAGIC ^ (1 << rng.int(32)) : rng.u32();
      setU32(bytes, 0, v);
      recipe.push(`magic=0x${v.toString(16)}`);
      return bytes;
    }
    case 3: {
      const v = rng.pick([0x0001_0001, 0xffff_ffff, 0, 2, rng.u32()]);
      setU32(bytes, 4, v);
      recipe.push(`version=0x${v.toString(16)}`);
      return bytes;
    }
    case 4: {
      const v = pickU32(rng);
      setU32(bytes, 24, v);
      recipe.push(`data=${v}`);
      return bytes;
    }
    case 5: {
      const v = pickU32(rng);
      setU32(bytes, 12, v);
      recipe.push(`cmd_flags=${v}`);
      return bytes;
    }
    case 6: {
      const v = rng.chance(0.5) ? 0xffff_ffff : pickU32(rng);
      setU32(bytes, 28, v);
      recipe.push(`data2=${v}`);
      return bytes;
    }
    case 7:
    case 8: {
      const fields = fieldOffsets(cmd, bytes.length - HEADER_SIZE);
      if (fields.u32.length > 0 && (fields.u64.length === 0 || rng.chance(0.6))) {
        const at = rng.pick(fields.u32);
        const v = pickU32(rng);
        setU32(bytes, at, v);
        recipe.push(`u32@${at}=${v}`);
      } else if (fields.u64.length > 0) {
        const at = rng.pick(fields.u64);
        const v = rng.chance(0.5) ? rng.pick(OFFSETS) : rng.pick(HOST_IDS);
        setU64(bytes, at, v);
        recipe.push(`u64@${at}=${v}`);
      }
      return bytes;
    }
    case 9: {
      const cut = rng.int(bytes.length);
      recipe.push(`truncate@${cut}`);
      return bytes.subarray(0, cut);
    }
    case 10: {
      const flips = 1 + rng.int(8);
      for (let i = 0; i < flips; i++) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      recipe.push(`flip×${flips}`);
      return bytes;
    }
    default: {
      const at = HEADER_SIZE + rng.int(Math.max(1, bytes.length - HEADER_SIZE));
      const v = pickU32(rng);
      setU32(bytes, at - (at % 4), v);
      recipe.push(`u32@${at - (at % 4)}=${v}`);
      return bytes;
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function pickDelivery(rng: Rng, length: number): Delivery {
  const r = rng.int(10);
  if (r < 4) return { kind: "whole" };
  if (r < 7) {
    const sizes: number[] = [];
    for (let left = length; left > 0; ) {
      const n = Math.min(left, 1 + rng.int(rng.chance(0.5) ? 40 : 1200));
      sizes.push(n);
      left -= n;
    }
    return { kind: "chunks", sizes, pauseMs: rng.int(4) };
  }
  if (r < 8) return { kind: "slow", slowBytes: Math.min(length, 16 + rng.int(80)), pauseMs: 1 + rng.int(5) };
  return { kind: "abort", cut: rng.int(length + 1) };
}

/** Builds case `seed`: never unsafe (see isSafe), regenerating when it would be. */
export function makeCase(seed: number, targets: FuzzTargets): FuzzCase {
  const rng = new Rng(seed);
  for (let attempt = 0; ; attempt++) {
    const recipe: string[] = [];
    let bytes: Uint8Array;
    const kind = rng.int(20);
    if (kind === 0) {
      bytes = rng.bytes(rng.int(rng.chance(0.5) ? 64 : 4096));
      recipe.push(`random ${bytes.length} bytes`);
    } else if (kind === 1) {
      bytes = rng.bytes(HEADER_SIZE + rng.int(2048));
      setU32(bytes, 0, WIRE_MAGIC);
      if (rng.chance(0.5)) setU32(bytes, 4, 1);
      if (rng.chance(0.7)) setU32(bytes, 8, 1 + rng.int(40));
      recipe.push(`magic + random, ${bytes.length} bytes`);
    } else {
      const base = validRequest(rng, targets);
      recipe.push(`valid ${base.cmd}`);
      bytes = new Uint8Array(base.bytes);
      if (kind > 3) {
        const n = 1 + rng.int(3);
        for (let i = 0; i < n; i++) bytes = new Uint8Array(mutate(rng, bytes, recipe));
      }
      if (rng.chance(0.25)) {
        // Garbage, a partial header, or a further (possibly mutated) request after the message.
        const tail =
          rng.int(3) === 0
            ? rng.bytes(rng.int(200))
            : rng.chance(0.5)
              ? validRequest(rng, targets).bytes.subarray(0, rng.int(HEADER_SIZE))
              : validRequest(rng, targets).bytes;
        recipe.push(`+ ${tail.length} bytes`);
        bytes = concat([bytes, tail]);
      }
    }
    if (isSafe(bytes, targets)) return { seed, recipe, bytes, delivery: pickDelivery(rng, bytes.length) };
    if (attempt > 50) throw new Error(`case ${seed}: no safe input after 50 attempts`);
  }
}

/** The requests (and framing errors) the daemon frames from `bytes`, as its own reader does. */
export function frame(bytes: Uint8Array, ended: boolean): WireEvent[] {
  const reader = new MessageReader({ side: "daemon" });
  const events = reader.push(bytes);
  if (ended) events.push(...reader.end());
  return events;
}

function disksOf(request: WireRequest): string[] {
  const body = request.body as Partial<{
    lockspace: { hostIdDisk: SanlkDisk };
    resource: { disks: SanlkDisk[] };
    resources: { disks: SanlkDisk[] }[];
    disk: SanlkDisk;
    rindex: { disk: SanlkDisk };
  }>;
  const paths: string[] = [];
  if (body.lockspace) paths.push(body.lockspace.hostIdDisk.path);
  if (body.resource) paths.push(...body.resource.disks.map((d) => d.path));
  if (body.resources) for (const r of body.resources) paths.push(...r.disks.map((d) => d.path));
  if (body.disk) paths.push(body.disk.path);
  if (body.rindex) paths.push(body.rindex.disk.path);
  return paths;
}

/**
 * False for bytes holding a request that would legitimately break the test's premises:
 * SHUTDOWN(_WAIT); a request targeting the holder's pid; REM_LOCKSPACE of the held lockspace;
 * any writing command (or REQUEST, which asks the holder to give the lease up) on a protected
 * path; ADD_LOCKSPACE of the scratch file (which the fuzzer may have formatted: a join there
 * would succeed and leave a lockspace behind); any writing command on the zero file, which must
 * stay all zeros: once a WRITE_LOCKSPACE formatted it, an ADD_LOCKSPACE there was a real join,
 * which waits 2 × io_timeout (20 s at the default 10 s) or longer by design, and broke the
 * 30 s bound on closing (seed 1564934704).
 */
export function isSafe(bytes: Uint8Array, t: FuzzTargets): boolean {
  if (!headersSafe(bytes, t)) return false;
  for (const event of frame(bytes, true)) {
    if (event.type !== "request") {
      if (event.type === "error" && event.header && NEVER.has(event.header.cmd)) return false;
      continue;
    }
    const request = event.request;
    if (NEVER.has(request.cmd)) return false;
    if (request.header.data2 === t.holderPid || request.header.data === t.holderPid) return false;
    const paths = disksOf(request);
    if (!READ_ONLY.has(request.cmd) && paths.some((p) => t.protectedPaths.includes(p) || p === t.zeroPath)) return false;
    if (request.cmd === Cmd.ADD_LOCKSPACE && paths.includes(t.scratchPath)) return false;
    // A forced REQUEST on a lease a fuzz connection acquired on the scratch file would make the
    // daemon kill that connection's registered pid, which is the test process itself.
    if (request.cmd === Cmd.REQUEST && paths.includes(t.scratchPath)) return false;
    const body = request.body as { lockspace?: { name: string } };
    if (request.cmd === Cmd.REM_LOCKSPACE && body.lockspace?.name === t.lockspace) return false;
  }
  return true;
}

function contains(bytes: Uint8Array, text: string): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(Buffer.from(text));
}

/**
 * A second guard that does not depend on framing: every position holding the header magic is
 * read as a header, whatever framing would make of it. The daemon's framing and this module's
 * (the client's MessageReader) are meant to be the same code, but should they ever differ, a
 * SHUTDOWN must still never reach the daemon, nor a request on the holder's pid, a REM_LOCKSPACE
 * next to the held lockspace's name, or a writing command next to a protected path or the zero file.
 */
function headersSafe(bytes: Uint8Array, t: FuzzTargets): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const namesLockspace = contains(bytes, t.lockspace);
  const namesProtected = t.protectedPaths.some((p) => contains(bytes, p)) || contains(bytes, t.scratchPath);
  const namesZero = contains(bytes, t.zeroPath);
  for (let i = 0; i + HEADER_SIZE <= bytes.length; i++) {
    if (view.getUint32(i, true) !== WIRE_MAGIC) continue;
    const cmd = view.getUint32(i + 8, true);
    if (NEVER.has(cmd)) return false;
    if (view.getInt32(i + 28, true) === t.holderPid || view.getInt32(i + 24, true) === t.holderPid) return false;
    if (cmd === Cmd.REM_LOCKSPACE && namesLockspace) return false;
    if (namesProtected && (cmd === Cmd.REQUEST || cmd === Cmd.ADD_LOCKSPACE || !READ_ONLY.has(cmd))) return false;
    if (namesZero && !READ_ONLY.has(cmd)) return false;
  }
  return true;
}
