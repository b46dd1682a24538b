// A BlockDevice that reports every I/O the DLM engine issues to a hook: how tests count the I/O
// of an operation (docs/dlm.md §6) without looking inside the engine.
import type { BlockDevice } from "../block-device.js";

export interface DlmIo {
  readonly kind: "read" | "write";
  readonly offset: number;
  readonly length: number;
}

export class CountingDevice implements BlockDevice {
  constructor(
    private readonly inner: BlockDevice,
    private readonly onIo: (io: DlmIo) => void,
  ) {}

  get sectorSize(): number {
    return this.inner.sectorSize;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    this.onIo({ kind: "read", offset, length });
    return this.inner.read(offset, length);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    this.onIo({ kind: "write", offset, length: data.length });
    return this.inner.write(offset, data);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
