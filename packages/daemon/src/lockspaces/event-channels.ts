/**
 * Event channels of the lockspaces (docs/wire.md §7.28, §8.4): connections kept after
 * REG_EVENT, to which the daemon writes one 80-byte callback record per event addressed
 * to this host. A channel whose write fails, or whose peer closed, is dropped.
 */
import { PROTOCOL_VERSION, WIRE_MAGIC, encodeEventRecord } from "@sanlock-ts/core/wire";
import type { Notification } from "@sanlock-ts/core";
import type { Connection } from "../connection.js";

/** sanlock allows 32 event channels per lockspace (−ENOCSI beyond, docs/wire.md §7.28). */
export const MAX_EVENT_CHANNELS = 32;
/** Size of the callback record on the wire (docs/wire.md §4.10). */
const EVENT_RECORD_SIZE = 80;
/** Callback protocol command number of an event record (GET_EVENT = 1, docs/wire.md §4.10). */
const GET_EVENT_CMD = 1;

export class EventChannels {
  private readonly channels = new Map<string, Set<Connection>>();

  /** Registers `conn` for `lockspace`; false when all slots are taken (after dropping closed ones). */
  register(lockspace: string, conn: Connection): boolean {
    const set = this.channels.get(lockspace) ?? new Set<Connection>();
    this.dropClosed(set);
    if (set.size >= MAX_EVENT_CHANNELS) return false;
    set.add(conn);
    this.channels.set(lockspace, set);
    conn.socket.once("close", () => set.delete(conn));
    return true;
  }

  /** END_EVENT: channels whose peer has unregistered (closed) are freed (docs/wire.md §8.4 step 5). */
  cleanup(lockspace: string): void {
    const set = this.channels.get(lockspace);
    if (set !== undefined) this.dropClosed(set);
  }

  count(lockspace: string): number {
    return this.channels.get(lockspace)?.size ?? 0;
  }

  /** Writes one record per notification carrying an event to every channel (docs/wire.md §8.4 step 3). */
  deliver(lockspace: string, ourHostId: number, notes: readonly Notification[]): void {
    const set = this.channels.get(lockspace);
    if (set === undefined || set.size === 0) return;
    for (const note of notes) {
      if (note.eventNumber === 0n) continue;
      const record = encodeEventRecord({
        header: {
          magic: WIRE_MAGIC,
          version: PROTOCOL_VERSION,
          cmd: GET_EVENT_CMD,
          cmdFlags: 0,
          length: EVENT_RECORD_SIZE,
          seq: 0,
          data: 0,
          data2: 0,
        },
        he: { hostId: BigInt(ourHostId), generation: note.eventGeneration, event: note.eventNumber, data: note.eventData },
        fromHostId: BigInt(note.fromHostId),
        fromGeneration: note.fromGeneration,
      });
      for (const conn of [...set]) {
        void conn.write(record).then((ok) => {
          if (!ok) {
            set.delete(conn);
            conn.close();
          }
        });
      }
    }
  }

  /** The lockspace is gone: close its channels. */
  closeAll(lockspace: string): void {
    const set = this.channels.get(lockspace);
    if (set === undefined) return;
    for (const conn of set) conn.close();
    this.channels.delete(lockspace);
  }

  private dropClosed(set: Set<Connection>): void {
    for (const conn of [...set]) if (conn.isClosed || conn.socket.destroyed) set.delete(conn);
  }
}
