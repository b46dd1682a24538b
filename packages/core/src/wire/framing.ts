// Stream framing: turns byte chunks, split or joined at any byte, into whole
// messages. Requests are framed the way the 3.8.5 daemon reads them — a fixed
// body per command, never trusting the header's `length` except for SET_LVB
// and the error-path drain (docs/wire.md §3, §5.4, §13.3). Replies are framed
// the way libsanlock reads them (docs/wire.md §13.2, §14.2).

import { ByteQueue } from "./byte-queue.js";
import { ByteReader } from "./bytes.js";
import {
  Cmd,
  DISK_SIZE,
  EVENT_RECORD_SIZE,
  HEADER_SIZE,
  LOCKSPACE_SIZE,
  MAX_DISKS,
  MAX_LVB_SIZE,
  MAX_MESSAGE_SIZE,
  MAX_STATE_STRING,
  OPTIONS_SIZE,
  RESOURCE_SIZE,
  STATE_FIXED_SIZE,
  StateType,
  WIRE_MAGIC,
  cmdName,
  isKnownCmd,
  type CmdNumber,
} from "./constants.js";
import { WireError, WireErrorCode } from "./errors.js";
import { decodeHeader, type WireHeader } from "./header.js";
import {
  acquireResourceCount,
  checkAcquireCount,
  decodeReply,
  decodeRequest,
  fixedPayloadSize,
  hasReply,
  isStreamReply,
  releaseStructCount,
  requestLayout,
  type ReplyCmd,
  type WireReply,
  type WireRequest,
} from "./messages.js";
import { errnoResult } from "../results.js";
import { readEventRecord, readStateRecord, type EventRecord, type StateRecord } from "./structs.js";

export type WireEvent =
  /** A complete request (daemon side). */
  | { type: "request"; request: WireRequest }
  /** A complete reply header + payload (client side). */
  | { type: "reply"; reply: WireReply }
  /** One STATUS / HOST_STATUS / RENEWAL record following a stream reply (client side). */
  | { type: "record"; cmd: CmdNumber; record: StateRecord }
  /** The record stream of `cmd` ended with EOF, as it should (client side). */
  | { type: "stream-end"; cmd: CmdNumber }
  /** An event callback record (event side). */
  | { type: "event"; record: EventRecord }
  /**
   * Input the peer would reject. `error.result` is what the 3.8.5 daemon
   * replies (null = no reply). `fatal` errors end the reader: the connection
   * should be closed.
   */
  | { type: "error"; error: WireError; header: WireHeader | null; fatal: boolean };

/** Which peer's messages this reader parses. */
export type ReaderSide = "daemon" | "client" | "event";

export interface MessageReaderOptions {
  side: ReaderSide;
  /** Largest message accepted (header + payload); default MAX_MESSAGE_SIZE (32 + 1 MiB). */
  maxMessageSize?: number;
}

/** What the framing of one message needs next. */
type Plan =
  | { kind: "need"; total: number }
  | { kind: "complete"; total: number }
  /** The daemon replies `error.result` after reading `consumed` bytes and draining the rest of `length`. */
  | { kind: "reject"; error: WireError; consumed: number };

export class MessageReader {
  private readonly queue = new ByteQueue();
  private readonly side: ReaderSide;
  private readonly maxMessageSize: number;
  /** Bytes still to drop after a rejected request (the daemon's drain, docs/wire.md §5.4). */
  private drainRemaining = 0;
  /** Client side: commands whose replies are awaited, in send order. */
  private readonly expected: CmdNumber[] = [];
  /** Client side: the stream reply whose records are being read. */
  private streamCmd: CmdNumber | null = null;
  private failedWith: WireError | null = null;
  private ended = false;

  constructor(options: MessageReaderOptions) {
    this.side = options.side;
    this.maxMessageSize = options.maxMessageSize ?? MAX_MESSAGE_SIZE;
    if (!(this.maxMessageSize >= HEADER_SIZE && this.maxMessageSize <= 64 * 1024 * 1024)) {
      throw new RangeError(`maxMessageSize ${this.maxMessageSize} is not in 32..64 MiB`);
    }
  }

  /** Bytes held that do not yet form a message (bounded by maxMessageSize after each push). */
  get buffered(): number {
    return this.queue.length;
  }

  get failed(): WireError | null {
    return this.failedWith;
  }

  /** Client side: the reply to `cmd` is the next one expected (call when sending it). */
  expectReply(cmd: CmdNumber): void {
    if (this.side !== "client") throw new WireError(WireErrorCode.BAD_VALUE, "expectReply is for the client side");
    if (!hasReply(cmd)) return; // REGISTER and SHUTDOWN get no reply (docs/wire.md §13.1)
    if (this.expected.length >= 1024) {
      throw new WireError(WireErrorCode.TOO_LARGE, "more than 1024 replies awaited on one connection");
    }
    this.expected.push(cmd);
  }

  /** Feeds a chunk; returns every message (or error) completed by it. Never throws on bad input. */
  push(chunk: Uint8Array): WireEvent[] {
    if (this.failedWith || this.ended) return [];
    this.queue.append(chunk);
    const events = this.drainQueue();
    this.queue.shrink();
    return events;
  }

  /** The peer closed the connection: reports a truncated message or the end of a record stream. */
  end(): WireEvent[] {
    if (this.ended) return [];
    this.ended = true;
    if (this.failedWith) return [];
    const events: WireEvent[] = [];
    if (this.queue.length > 0 && this.drainRemaining === 0) {
      events.push(this.truncatedAtEof());
    } else if (this.streamCmd !== null) {
      events.push({ type: "stream-end", cmd: this.streamCmd });
    }
    this.queue.clear();
    return events;
  }

  private truncatedAtEof(): WireEvent {
    const haveHeader = this.queue.length >= HEADER_SIZE && this.streamCmd === null && this.side !== "event";
    const header = haveHeader ? decodeHeader(this.queue.peek(HEADER_SIZE)) : null;
    // A request whose payload is cut short is answered −ENOTCONN (docs/wire.md §5.4); a short header gets nothing.
    const result = this.side === "daemon" && header ? errnoResult("ENOTCONN") : undefined;
    const error = new WireError(WireErrorCode.TRUNCATED, `connection closed with ${this.queue.length} bytes of an incomplete message`, {
      ...(result === undefined ? {} : { result }),
      details: { buffered: this.queue.length },
    });
    return { type: "error", error, header, fatal: true };
  }

  private drainQueue(): WireEvent[] {
    const events: WireEvent[] = [];
    // Each pass consumes at least one byte or stops, so this terminates; the bound is a safety net.
    for (let guard = 0; guard <= this.queue.length + 1 && !this.failedWith; guard++) {
      if (!this.dropDrain()) break;
      const event = this.nextEvent();
      if (event === null) break;
      events.push(event);
    }
    return events;
  }

  /** Drops drained bytes; false when more are still to come. */
  private dropDrain(): boolean {
    if (this.drainRemaining === 0) return true;
    const drop = Math.min(this.drainRemaining, this.queue.length);
    this.queue.consume(drop);
    this.drainRemaining -= drop;
    return this.drainRemaining === 0;
  }

  private nextEvent(): WireEvent | null {
    try {
      switch (this.side) {
        case "daemon":
          return this.nextRequest();
        case "client":
          return this.streamCmd !== null ? this.nextRecord(this.streamCmd) : this.nextReply();
        case "event":
          return this.nextEventRecord();
      }
    } catch (err) {
      // Decoders only throw WireError on bad bytes; anything else is a bug worth surfacing as fatal.
      const error = err instanceof WireError ? err : new WireError(WireErrorCode.MALFORMED, `internal decode failure: ${String(err)}`);
      return this.fail(error, null);
    }
  }

  private fail(error: WireError, header: WireHeader | null): WireEvent {
    this.failedWith = error;
    this.queue.clear();
    return { type: "error", error, header, fatal: true };
  }

  // ---------------------------------------------------------------- daemon side

  private nextRequest(): WireEvent | null {
    if (this.queue.length < HEADER_SIZE) return null;
    const header = decodeHeader(this.queue.peek(HEADER_SIZE));
    const dropped = this.checkRequestHeader(header);
    if (dropped) {
      // docs/wire.md §5.4: the 32 header bytes are consumed and dropped, no reply, connection stays open.
      this.queue.consume(HEADER_SIZE);
      return { type: "error", error: dropped, header, fatal: false };
    }
    const cmd = header.cmd as CmdNumber;
    const available = this.queue.peek(this.queue.length).subarray(HEADER_SIZE);
    const plan = planRequest(cmd, header, available);
    if (plan.kind === "reject") return this.rejectRequest(header, plan.error, plan.consumed);
    if (plan.total > this.maxMessageSize) {
      return this.fail(new WireError(WireErrorCode.TOO_LARGE, `${cmdName(cmd)} request of ${plan.total} bytes exceeds ${this.maxMessageSize}`), header);
    }
    if (plan.kind === "need") return null;
    const message = this.queue.take(plan.total);
    try {
      return { type: "request", request: decodeRequest(header, message.subarray(HEADER_SIZE)) };
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      // The message was framed and consumed; only its content is refused (a name that is
      // not UTF-8). sanlock would accept it; we answer −EINVAL and keep the connection.
      const error = new WireError(err.code, err.message, { result: errnoResult("EINVAL"), details: err.details });
      return { type: "error", error, header, fatal: false };
    }
  }

  /** The checks the daemon makes before dispatch, in its order (magic, protocol, command; docs/wire.md §3, §5.4). */
  private checkRequestHeader(h: WireHeader): WireError | null {
    if (h.magic !== WIRE_MAGIC) {
      return new WireError(WireErrorCode.BAD_MAGIC, `header magic 0x${hex(h.magic)} is not 0x${hex(WIRE_MAGIC)}`, {
        details: { field: "magic", value: h.magic },
      });
    }
    if (h.version !== 0 && h.cmd !== Cmd.VERSION && (h.version & 0xffff0000) !== 0) {
      return new WireError(WireErrorCode.BAD_PROTOCOL, `header version 0x${hex(h.version)} has major ${h.version >>> 16}, not 0`, {
        details: { field: "version", value: h.version },
      });
    }
    if (!isKnownCmd(h.cmd)) {
      return new WireError(WireErrorCode.UNKNOWN_COMMAND, `header cmd ${h.cmd} is not 1..40`, {
        details: { field: "cmd", value: h.cmd },
      });
    }
    return null;
  }

  private rejectRequest(header: WireHeader, error: WireError, consumed: number): WireEvent {
    this.queue.consume(HEADER_SIZE + consumed);
    // The daemon drains what `length` says is left before replying (docs/wire.md §5.4); bounded by our message limit.
    const rest = header.length - HEADER_SIZE - consumed;
    this.drainRemaining = Math.max(0, Math.min(rest, this.maxMessageSize));
    return { type: "error", error, header, fatal: false };
  }

  // ---------------------------------------------------------------- client side

  private nextReply(): WireEvent | null {
    if (this.queue.length < HEADER_SIZE) return null;
    const header = decodeHeader(this.queue.peek(HEADER_SIZE));
    if (header.magic !== WIRE_MAGIC) {
      return this.fail(new WireError(WireErrorCode.BAD_MAGIC, `reply magic 0x${hex(header.magic)} is not 0x${hex(WIRE_MAGIC)}`), header);
    }
    const cmd = this.expected[0];
    if (cmd === undefined) {
      return this.fail(new WireError(WireErrorCode.UNEXPECTED_REPLY, `reply cmd ${header.cmd} arrived with no request outstanding`), header);
    }
    // SHUTDOWN_WAIT's success reply is a fresh header with cmd 0 (docs/wire.md §7.27).
    const cmdMatches = header.cmd === cmd || (cmd === Cmd.SHUTDOWN_WAIT && header.cmd === 0);
    if (!cmdMatches) {
      return this.fail(new WireError(WireErrorCode.UNEXPECTED_REPLY, `reply cmd ${header.cmd} does not answer ${cmdName(cmd)}`), header);
    }
    const payloadSize = replyPayloadSize(cmd as ReplyCmd, header);
    if (payloadSize < 0) {
      return this.fail(new WireError(WireErrorCode.MALFORMED, `${cmdName(cmd)} reply length ${header.length} is below 32`), header);
    }
    if (HEADER_SIZE + payloadSize > this.maxMessageSize) {
      return this.fail(
        new WireError(WireErrorCode.TOO_LARGE, `${cmdName(cmd)} reply announces ${payloadSize} payload bytes`, {
          details: { length: header.length, data: header.data },
        }),
        header,
      );
    }
    if (this.queue.length < HEADER_SIZE + payloadSize) return null;
    const message = this.queue.take(HEADER_SIZE + payloadSize);
    this.expected.shift();
    // STATUS always streams; HOST_STATUS and RENEWAL only on success (docs/wire.md §7.14, §7.30).
    if (isStreamReply(cmd) && (cmd === Cmd.STATUS || header.data === 0)) this.streamCmd = cmd;
    return { type: "reply", reply: decodeReply(cmd as ReplyCmd, header, message.subarray(HEADER_SIZE)) };
  }

  private nextRecord(cmd: CmdNumber): WireEvent | null {
    const available = this.queue.peek(this.queue.length);
    const total = stateRecordFrameSize(available);
    if (total === null || total > this.queue.length) return null;
    const bytes = this.queue.take(total);
    return { type: "record", cmd, record: readStateRecord(new ByteReader(bytes, "sanlk_state")) };
  }

  // ---------------------------------------------------------------- event side

  private nextEventRecord(): WireEvent | null {
    if (this.queue.length < EVENT_RECORD_SIZE) return null;
    const bytes = this.queue.take(EVENT_RECORD_SIZE);
    const record = readEventRecord(new ByteReader(bytes, "event record"));
    if (record.header.magic !== WIRE_MAGIC) {
      return this.fail(new WireError(WireErrorCode.BAD_MAGIC, `event record magic 0x${hex(record.header.magic)}`), record.header);
    }
    return { type: "event", record };
  }
}

/**
 * How many bytes the daemon reads for a request, given the payload bytes
 * available so far (docs/wire.md §7). ACQUIRE, RELEASE, resource+disks and SET_LVB are read
 * progressively, the way the daemon's handlers do.
 */
export function planRequest(cmd: CmdNumber, h: WireHeader, payload: Uint8Array): Plan {
  const layout = requestLayout(cmd);
  const fixed = fixedPayloadSize(layout);
  if (fixed !== null) return sized(HEADER_SIZE + fixed, payload);
  switch (layout) {
    case "acquire":
      return planAcquire(h, payload);
    case "release":
      return planRelease(h, payload);
    case "resource+disks":
      return planResources(payload, 1, 0);
    case "set_lvb":
      return planSetLvb(h, payload);
    default:
      throw new WireError(WireErrorCode.MALFORMED, `no framing rule for ${cmdName(cmd)}`);
  }
}

function sized(total: number, payload: Uint8Array): Plan {
  return { kind: HEADER_SIZE + payload.byteLength >= total ? "complete" : "need", total };
}

function planAcquire(h: WireHeader, payload: Uint8Array): Plan {
  const count = acquireResourceCount(h.data);
  try {
    checkAcquireCount(count); // −E2BIG before any payload is read (docs/wire.md §7.7)
  } catch (err) {
    return { kind: "reject", error: err as WireError, consumed: 0 };
  }
  return planResources(payload, Math.max(0, count), OPTIONS_SIZE);
}

/** `count` resources each followed by num_disks disks, then `tail` bytes. */
function planResources(payload: Uint8Array, count: number, tail: number): Plan {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (payload.byteLength < pos + RESOURCE_SIZE) return { kind: "need", total: HEADER_SIZE + pos + RESOURCE_SIZE };
    const numDisks = view.getUint32(pos + RESOURCE_SIZE - 4, true);
    pos += RESOURCE_SIZE;
    if (numDisks < 1 || numDisks > MAX_DISKS) {
      // −ERANGE after the struct was read (docs/wire.md §7.7, §9.3).
      const error = new WireError(WireErrorCode.BAD_COUNT, `sanlk_resource[${i}].num_disks: ${numDisks} is not in 1..${MAX_DISKS}`, {
        result: errnoResult("ERANGE"),
        details: { field: "num_disks", index: i, value: numDisks },
      });
      return { kind: "reject", error, consumed: pos };
    }
    pos += numDisks * DISK_SIZE;
  }
  return sized(HEADER_SIZE + pos + tail, payload);
}

function planRelease(h: WireHeader, payload: Uint8Array): Plan {
  const count = releaseStructCount(h.cmdFlags, h.data);
  // count is a u32; the product stays exact in a double (< 2^39).
  return sized(HEADER_SIZE + count * RESOURCE_SIZE, payload);
}

function planSetLvb(h: WireHeader, payload: Uint8Array): Plan {
  if (payload.byteLength < RESOURCE_SIZE) return { kind: "need", total: HEADER_SIZE + RESOURCE_SIZE };
  // The LVB size comes from `length` (docs/wire.md §7.24), the only request framed by it.
  const lvbSize = h.length - HEADER_SIZE - RESOURCE_SIZE;
  if (lvbSize > MAX_LVB_SIZE) {
    const error = new WireError(WireErrorCode.TOO_LARGE, `SET_LVB length ${h.length}: LVB of ${lvbSize} bytes exceeds ${MAX_LVB_SIZE}`, {
      result: errnoResult("E2BIG"),
      details: { field: "length", value: h.length },
    });
    return { kind: "reject", error, consumed: RESOURCE_SIZE };
  }
  if (lvbSize < 0) {
    // The daemon's malloc of a negative size fails: −ENOMEM, nothing left to drain.
    const error = new WireError(WireErrorCode.BAD_COUNT, `SET_LVB length ${h.length} is shorter than header + sanlk_resource`, {
      result: errnoResult("ENOMEM"),
      details: { field: "length", value: h.length },
    });
    return { kind: "reject", error, consumed: RESOURCE_SIZE };
  }
  return sized(HEADER_SIZE + RESOURCE_SIZE + lvbSize, payload);
}

/** Payload bytes following a reply header, as libsanlock reads them (docs/wire.md §7, §13). */
export function replyPayloadSize(cmd: ReplyCmd, h: WireHeader): number {
  if (isStreamReply(cmd)) return 0; // records follow until EOF, not counted in length (docs/wire.md §13.2)
  if (cmd === Cmd.SHUTDOWN_WAIT || cmd === Cmd.VERSION) return 0;
  if (cmd === Cmd.LOG_DUMP) return Math.max(0, h.data); // size in data (docs/wire.md §7.6); > 1 MiB fails the size check
  if (cmd === Cmd.GET_LVB && h.data < 0) return 0; // error length announces bytes never sent (docs/wire.md §13.9)
  return h.length - HEADER_SIZE;
}

/** Size of the state record at the front of `bytes`, or null when more bytes are needed to tell. */
export function stateRecordFrameSize(bytes: Uint8Array): number | null {
  if (bytes.byteLength < STATE_FIXED_SIZE) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint32(0, true);
  const strLen = view.getUint32(72, true);
  if (strLen > MAX_STATE_STRING) {
    throw new WireError(WireErrorCode.TOO_LARGE, `sanlk_state.str_len: ${strLen} exceeds ${MAX_STATE_STRING}`);
  }
  const fixedAndText = STATE_FIXED_SIZE + strLen;
  if (type === StateType.LOCKSPACE) return fixedAndText + LOCKSPACE_SIZE;
  if (type !== StateType.RESOURCE) return fixedAndText;
  if (bytes.byteLength < fixedAndText + RESOURCE_SIZE) return null;
  const numDisks = view.getUint32(fixedAndText + RESOURCE_SIZE - 4, true);
  if (numDisks < 1 || numDisks > MAX_DISKS) {
    throw new WireError(WireErrorCode.BAD_COUNT, `RESOURCE record: num_disks ${numDisks} is not in 1..${MAX_DISKS}`);
  }
  return fixedAndText + RESOURCE_SIZE + numDisks * DISK_SIZE;
}

function hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}
