/**
 * Worker thread owning one lockspace's delta lease: the join, the renewal timer and its
 * I/O, the outgoing notification bits and events, and the delta release (algorithms.md
 * §2.2-§2.5, §2.7, §6.4). Running here, a busy main event loop cannot make a renewal late.
 *
 * Results go to the main thread through the RenewalStatus SharedArrayBuffer (last good
 * renewal, last attempt) and messages (worker-protocol.ts). Every whole-area renewal read is
 * copied to the main thread, which keeps its own host status table from it (§3.2).
 */
import { parentPort, workerData } from "node:worker_threads";
import { DeltaLease, LeaseError, SanlockResult, detectAreaGeometry, isCorruptRenewalError, type BlockDevice } from "@sanlock-ts/core";
import { openDirectDevice, MAX_IO_TIMEOUT_MS } from "../device/index.js";
import { DAEMON_CLOCK } from "./daemon-clock.js";
import { RenewalStatus } from "./renewal-status.js";
import { TimedDevice } from "./renewal-history.js";
import { resultOf } from "./results.js";
import type { FromWorker, ToWorker, WorkerInit } from "./worker-protocol.js";

const TICK_SECONDS = 1;
const DUE_DELAY_SECONDS = 0.5;

const init = workerData as WorkerInit;
const port = parentPort;
if (port === null) throw new Error("renewal-worker must run in a worker thread");
const status = new RenewalStatus(init.status);
const stop = new AbortController();
let device: BlockDevice | undefined;
let timed: AreaTap | undefined;
let delta: DeltaLease | undefined;
let loop: Promise<void> | undefined;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** Copies every whole-area read (the renewal read, §2.3 step 2) to the main thread. */
class AreaTap extends TimedDevice {
  constructor(inner: BlockDevice, private readonly areaOffset: number, private readonly areaSize: () => number) {
    super(inner);
  }

  override async read(offset: number, length: number): Promise<Uint8Array> {
    const data = await super.read(offset, length);
    if (offset === this.areaOffset && length === this.areaSize() && length > 0) {
      const copy = data.slice();
      post({ op: "area", bytes: copy.buffer as ArrayBuffer }, [copy.buffer as ArrayBuffer]);
    }
    return data;
  }
}

async function join(): Promise<void> {
  const { spec, hostName } = init;
  try {
    const opened = await openDirectDevice(spec.path, { ioTimeoutMs: Math.min(MAX_IO_TIMEOUT_MS, (8 * spec.ioTimeout + 60) * 1000) });
    device = opened;
    const offset = Number(spec.offset);
    const geometry = await detectAreaGeometry(opened, offset);
    if (geometry !== undefined && spec.hostId > geometry.maxHosts) {
      post({ op: "join-failed", result: -231, message: `host_id ${spec.hostId} exceeds max_hosts ${geometry.maxHosts}` });
      return;
    }
    timed = new AreaTap(opened, offset, areaSize);
    delta = new DeltaLease({ lockspace: spec.name, hostId: spec.hostId, hostName, ioTimeout: spec.ioTimeout, device: timed, offset, clock: DAEMON_CLOCK });
    const joined = await delta.acquire(stop.signal);
    status.recordSuccess(Number(joined.timestamp));
    status.recordAttempt(Number(joined.timestamp), 0);
    const g = delta.geometry;
    post({ op: "joined", generation: joined.generation, timestamp: joined.timestamp, sectorSize: g.sectorSize, alignSize: g.alignSize, maxHosts: g.maxHosts });
  } catch (error) {
    const result = stop.signal.aborted ? -1 : joinResult(error);
    post({ op: "join-failed", result, message: (error as Error).message });
    return;
  }
  loop = renewLoop(delta);
}

/** The lockspace area size once the join found the geometry; 0 before (nothing to copy yet). */
function areaSize(): number {
  try {
    return delta?.geometry.alignSize ?? 0;
  } catch {
    return 0;
  }
}

function joinResult(error: unknown): number {
  if (error instanceof LeaseError && error.result === SanlockResult.ERROR && /exceeds max_hosts/.test(error.message)) return -231;
  return resultOf(error);
}

/** §2.3 scheduling, as the main-thread loop: every second; when 2N are due, 0.5 s more, then renew. */
async function renewLoop(lease: DeltaLease): Promise<void> {
  while (!stop.signal.aborted) {
    try {
      await DAEMON_CLOCK.sleep(TICK_SECONDS, stop.signal);
      if (DAEMON_CLOCK.now() - Number(lease.lastSuccess) < lease.timeouts.idRenewalSeconds) continue;
      await DAEMON_CLOCK.sleep(DUE_DELAY_SECONDS, stop.signal);
    } catch {
      return;
    }
    const startedAt = DAEMON_CLOCK.now();
    timed?.reset();
    try {
      const renewed = await lease.renew();
      status.recordSuccess(Number(renewed.timestamp));
      status.recordAttempt(startedAt, 0);
      post({ op: "renewed", timestamp: renewed.timestamp, readMs: timed?.lastReadMs ?? 0, writeMs: timed?.lastWriteMs ?? 0 });
    } catch (error) {
      const result = resultOf(error);
      status.recordAttempt(startedAt, result);
      post({ op: "renew-failed", result, corrupt: isCorruptRenewalError(error), message: (error as Error).message });
    }
  }
}

/** §2.5: stop renewing, wait for an attempt in flight, release only after a successful last attempt. */
async function leave(): Promise<void> {
  stop.abort(new Error("lockspace removed"));
  await loop;
  if (delta !== undefined && delta.lastAttemptSucceeded) {
    try {
      await delta.release();
    } catch (error) {
      post({ op: "log", level: "error", message: `delta release failed: ${(error as Error).message}` });
    }
  }
  await device?.close().catch(() => undefined);
}

port.on("message", (message: ToWorker) => {
  switch (message.op) {
    case "join":
      void join();
      return;
    case "abort":
      stop.abort(new Error("add aborted by remove"));
      return;
    case "notify":
      delta?.notifyHost(message.hostId);
      return;
    case "set-event": {
      let result = 0;
      try {
        if (delta === undefined) throw new LeaseError("ERROR", "not joined");
        delta.setEvent(message.hostId, { generation: message.generation, event: message.event, data: message.data }, message.flags);
      } catch (error) {
        result = error instanceof LeaseError ? error.result : -22;
      }
      post({ op: "reply", id: message.id, result });
      return;
    }
    case "leave":
      void leave().then(() => post({ op: "reply", id: message.id, result: 0 }));
      return;
  }
});
