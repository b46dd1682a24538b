// Several DLM engines ("hosts") on one in-memory device with resource areas, one virtual clock,
// and a delta-lease stand-in the test controls (which hosts are alive). Used by the dlm-*.test.ts files.
import { MemoryDevice, VirtualClock, SeededRandom, geometryFor, type HostLiveness, type HostStatusEntry } from "../src/index.js";
import { buildResourceArea } from "../src/areas/resource-area.js";
import { DlmEngine, type Completion, type DlmEngineOptions, type DlmIo, type LockRequest } from "../src/dlm/index.js";

export const SECTOR = 512;
export const AREA = 1048576;
export const GEOMETRY = geometryFor(SECTOR, AREA);
export const NUM_HOSTS = 8;
export const LVB_LEN = 32;
export const LOCKSPACE = "LS";

/** What the test says about a host's delta lease. */
export interface FakeHost {
  generation: bigint;
  timestamp: bigint;
  alive: boolean;
  /** Virtual time of its last renewal once dead. */
  diedAt: number;
}

const flushTasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class World {
  readonly clock = new VirtualClock(1000);
  readonly device: MemoryDevice;
  readonly resources: string[];
  readonly deltas = new Map<number, FakeHost>();
  readonly engines: DlmEngine[] = [];
  readonly io: { host: number; io: DlmIo }[] = [];

  /** Area index of the first resource: 1 on a bare device, 4 on a DLM volume (docs/dlm.md §4.1). */
  readonly firstArea: number;

  constructor(resources: string[] = ["r1", "r2"], options: { volume?: boolean } = {}) {
    this.resources = resources;
    this.firstArea = options.volume ? 4 : 1;
    this.device = new MemoryDevice({ size: (resources.length + this.firstArea) * AREA, sectorSize: SECTOR });
    resources.forEach((name, i) => {
      this.device.contents.set(buildResourceArea({ spaceName: LOCKSPACE, resourceName: name, numHosts: NUM_HOSTS }, GEOMETRY), (i + this.firstArea) * AREA);
    });
  }

  /** The host left its lockspace: its delta record is free (timestamp 0). */
  free(hostId: number): void {
    const d = this.deltas.get(hostId);
    if (d) {
      d.alive = false;
      d.timestamp = 0n;
      d.diedAt = this.clock.now();
    }
  }

  /** The watcher's view: alive hosts renewed just now; dead ones long ago (or freed). */
  private liveness(): HostLiveness {
    const world = this;
    return {
      snapshot(hostId: number): HostStatusEntry | undefined {
        const d = world.deltas.get(hostId);
        if (!d) return undefined;
        const now = world.clock.now();
        const lastLive = d.alive ? now : d.diedAt;
        return {
          hostId,
          firstCheck: now - 20000,
          lastCheck: now,
          lastLive,
          lastReq: 0,
          ownerId: hostId,
          ownerGeneration: d.generation,
          ownerName: "",
          ioTimeout: 10,
          timestamp: d.timestamp,
        };
      },
      isSharedHolderAlive: () => true,
    };
  }

  addHost(hostId: number, extra: Partial<DlmEngineOptions> = {}): DlmEngine {
    const generation = (this.deltas.get(hostId)?.generation ?? 0n) + 1n;
    this.deltas.set(hostId, { generation, timestamp: 1n, alive: true, diedAt: 0 });
    const engine = new DlmEngine({
      lockspace: LOCKSPACE,
      hostId,
      generation,
      ioTimeout: 10,
      clock: this.clock,
      random: new SeededRandom(hostId),
      liveness: this.liveness(),
      readDeltaRecord: async (id) => {
        const d = this.deltas.get(id);
        return { ownerId: id, ownerGeneration: d?.generation ?? 0n, timestamp: d ? d.timestamp : 0n, ioTimeout: 10 };
      },
      device: this.device,
      geometry: GEOMETRY,
      numHosts: NUM_HOSTS,
      lvbLen: LVB_LEN,
      pollMs: 1000,
      locate: (name) => {
        const i = this.resources.indexOf(new TextDecoder().decode(name));
        return i < 0 ? undefined : { sanlockName: this.resources[i] as string, offset: (i + this.firstArea) * AREA };
      },
      onIo: (io) => this.io.push({ host: hostId, io }),
      ...extra,
    });
    this.engines.push(engine);
    return engine;
  }

  /** The host died: its delta record stops changing (its watchdog fired). */
  kill(hostId: number): void {
    const d = this.deltas.get(hostId);
    if (d) {
      d.alive = false;
      d.diedAt = this.clock.now();
    }
    for (const e of this.engines) if (e.hostId === hostId) e.stop();
  }

  /** Runs every engine until nothing is queued, moving virtual time only when all work sleeps. */
  async settle(maxSteps = 20000): Promise<void> {
    for (let step = 0; step < maxSteps; step++) {
      await flushTasks();
      if (!this.engines.some((e) => e.busy)) return;
      if (this.clock.pendingSleeps() > 0) this.clock.advanceToNextWakeup();
    }
    throw new Error("engines did not settle");
  }

  /** `seconds` of virtual time with a poll of every engine each second. */
  async pass(seconds: number): Promise<void> {
    for (let s = 0; s < seconds; s++) {
      this.clock.advance(1);
      for (const e of this.engines) e.tick();
      await this.settle();
    }
  }

  ioCount(host?: number): { reads: number; writes: number } {
    const list = this.io.filter((x) => host === undefined || x.host === host);
    return { reads: list.filter((x) => x.io.kind === "read").length, writes: list.filter((x) => x.io.kind === "write").length };
  }
}

/** A lock call and a view of its completion as it arrives. */
export class Req {
  result: Completion | undefined;
  readonly lkid: number;
  constructor(engine: DlmEngine, req: LockRequest) {
    const handle = engine.lock(req);
    this.lkid = handle.lkid;
    void handle.done.then((c) => {
      this.result = c;
    });
  }
  get status(): number | undefined {
    return this.result?.status;
  }
}

export const enc = (s: string): Uint8Array => {
  const out = new Uint8Array(LVB_LEN);
  out.set(new TextEncoder().encode(s));
  return out;
};
export const dec = (b: Uint8Array | undefined): string => (b ? new TextDecoder().decode(b).replace(/\0+$/, "") : "");
