/** Messages between a lockspace (main thread) and its renewal worker (renewal-worker.ts). */

export interface WorkerSpec {
  readonly name: string;
  readonly hostId: number;
  readonly path: string;
  readonly offset: bigint;
  readonly ioTimeout: number;
}

export interface WorkerInit {
  readonly spec: WorkerSpec;
  readonly hostName: string;
  /** RenewalStatus buffer shared with the main thread. */
  readonly status: SharedArrayBuffer;
}

export type ToWorker =
  | { readonly op: "join" }
  | { readonly op: "abort" }
  | { readonly op: "notify"; readonly hostId: number }
  | {
    readonly op: "set-event"; readonly id: number; readonly hostId: number;
    readonly generation: bigint; readonly event: bigint; readonly data: bigint; readonly flags: number;
  }
  | { readonly op: "leave"; readonly id: number };

export type FromWorker =
  | {
    readonly op: "joined"; readonly generation: bigint; readonly timestamp: bigint;
    readonly sectorSize: number; readonly alignSize: number; readonly maxHosts: number;
  }
  | { readonly op: "join-failed"; readonly result: number; readonly message: string }
  | { readonly op: "area"; readonly bytes: ArrayBuffer }
  | { readonly op: "renewed"; readonly timestamp: bigint; readonly readMs: number; readonly writeMs: number }
  | { readonly op: "renew-failed"; readonly result: number; readonly corrupt: boolean; readonly message: string }
  | { readonly op: "reply"; readonly id: number; readonly result: number }
  | { readonly op: "log"; readonly level: "error" | "warn" | "info" | "debug"; readonly message: string };
