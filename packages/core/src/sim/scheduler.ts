// Virtual-time scheduler: a priority queue of events on the simulation's true time line.
// Every sleep and every I/O of every host is one event; the scheduler runs them one at a time
// in time order, breaking ties between events at the same instant with the seeded random source.
// After each event it lets all promise continuations run (the hosts' async code) before it takes
// the next one, so the interleaving is decided by the seed alone.

import type { SimRandom } from "./prng.js";

interface ImmediateGlobal {
  setImmediate?: (fn: () => void) => unknown;
  setTimeout: (fn: () => void, ms: number) => unknown;
}

const hostGlobals = globalThis as unknown as ImmediateGlobal;

/** Resolves after every queued promise continuation has run (a macrotask boundary). */
function settle(): Promise<void> {
  return new Promise((resolve) => {
    if (hostGlobals.setImmediate) hostGlobals.setImmediate(resolve);
    else hostGlobals.setTimeout(resolve, 0);
  });
}

export type EventId = number;

interface QueuedEvent {
  readonly id: EventId;
  readonly time: number;
  readonly tieBreak: number;
  readonly action: () => void;
}

function earlier(x: QueuedEvent, y: QueuedEvent): boolean {
  if (x.time !== y.time) return x.time < y.time;
  if (x.tieBreak !== y.tieBreak) return x.tieBreak < y.tieBreak;
  return x.id < y.id;
}

/** Binary min-heap of events. */
class EventHeap {
  private readonly items: QueuedEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  push(event: QueuedEvent): void {
    const items = this.items;
    items.push(event);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as QueuedEvent;
      if (!earlier(event, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = event;
  }

  pop(): QueuedEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      let child = left;
      if (right < items.length && earlier(items[right] as QueuedEvent, items[left] as QueuedEvent)) child = right;
      const c = items[child] as QueuedEvent;
      if (!earlier(c, last)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

export interface RunLimits {
  /** Stop before the first event later than this true time (seconds). */
  readonly untilTime: number;
  /** Hard cap on the number of events, so that a livelock cannot hang a run. */
  readonly maxEvents: number;
  /** Checked after every event; true stops the run. */
  readonly stop?: () => boolean;
}

export interface RunResult {
  readonly events: number;
  readonly endTime: number;
  readonly reason: "time" | "idle" | "events" | "stopped";
}

export class Scheduler {
  private readonly queue = new EventHeap();
  private readonly cancelled = new Set<EventId>();
  private nextId = 1;
  private currentTime = 0;

  constructor(private readonly random: SimRandom) {}

  /** True simulation time in seconds (no host sees this directly; hosts see their clocks). */
  get now(): number {
    return this.currentTime;
  }

  /** Runs `action` at true time `time` (never earlier than now). */
  at(time: number, action: () => void): EventId {
    if (!Number.isFinite(time)) throw new RangeError(`event time must be finite, got ${time}`);
    const id = this.nextId++;
    this.queue.push({ id, time: Math.max(time, this.currentTime), tieBreak: this.random.next(), action });
    return id;
  }

  after(delay: number, action: () => void): EventId {
    return this.at(this.currentTime + Math.max(0, delay), action);
  }

  cancel(id: EventId): void {
    this.cancelled.add(id);
  }

  async run(limits: RunLimits): Promise<RunResult> {
    let events = 0;
    await settle();
    for (;;) {
      if (events >= limits.maxEvents) return { events, endTime: this.currentTime, reason: "events" };
      const event = this.queue.pop();
      if (event === undefined) return { events, endTime: this.currentTime, reason: "idle" };
      if (this.cancelled.delete(event.id)) continue;
      if (event.time > limits.untilTime) {
        this.queue.push(event);
        return { events, endTime: this.currentTime, reason: "time" };
      }
      this.currentTime = event.time;
      events++;
      event.action();
      await settle();
      if (limits.stop?.()) return { events, endTime: this.currentTime, reason: "stopped" };
    }
  }
}
