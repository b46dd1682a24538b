/**
 * One user's lease I/O on a shared device (lease-devices.ts) whose reuse is still being
 * confirmed.
 *
 * A device kept open after its last user is reused only if a stat shows that the path still
 * names the file that was opened: a lease written through a stale fd would be invisible to the
 * other hosts. That stat is one more trip through libuv's threadpool before an acquire's
 * first I/O. Reads and size checks change nothing on disk, so they start at once on the kept
 * device while the stat runs:
 *
 * - if the stat confirms the device, their results are the device's own;
 * - if the path names another file now, their results are dropped and they are issued again on
 *   the device opened for the new file.
 *
 * A write waits for the confirmation and goes only to the confirmed device. So the first lease
 * write, and anything decided from a read, uses the file the path names. With no confirmation
 * pending, every call goes straight to the device.
 *
 * The parse passed to readWith may thus also run on a read that is dropped: it must have no
 * effect but its result (core's area parsers have none).
 */
import type { BlockDevice } from "@sanlock-ts/core";
import type { DirectDevice } from "../device/index.js";
import type { PlacedDevice } from "./lease-placement.js";

export class ConfirmingDevice implements BlockDevice, PlacedDevice {
  /** Reads and writes asked of this user's device (a dropped speculative read is not counted twice): diagnostics' I/O count. */
  ioCount = 0;
  private device: DirectDevice;
  /** The device the path is confirmed to name (the same or a new one); undefined once settled. */
  private confirming: Promise<DirectDevice> | undefined;

  constructor(device: DirectDevice, confirming?: Promise<DirectDevice>) {
    this.device = device;
    this.confirming = confirming;
  }

  get sectorSize(): number {
    return this.device.sectorSize;
  }

  /** The device every I/O goes to once confirmed; rejects if opening the replacement failed. */
  async confirmed(): Promise<DirectDevice> {
    const confirming = this.confirming;
    if (confirming === undefined) return this.device;
    const device = await confirming;
    // A later call may have settled it already; both saw the same promise.
    this.device = device;
    this.confirming = undefined;
    return device;
  }

  size(): Promise<number> {
    return this.speculate((device) => device.size());
  }

  /**
   * While unconfirmed, a yes from the kept device's known size is answered at once, so the
   * acquire's placement check does not wait for the stat. Should the path name a new file, its
   * size was not checked: a lease beyond its end then fails at the first read, which comes back
   * short (ERR_DEVICE_OUT_OF_RANGE), instead of with the placement check's −EMSGSIZE.
   */
  reaches(end: number): Promise<boolean> {
    if (this.confirming !== undefined && this.device.knowsItReaches(end)) return Promise.resolve(true);
    return this.speculate((device) => device.reaches(end));
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    this.ioCount++;
    return this.speculate((device) => device.read(offset, length));
  }

  readWith<T>(offset: number, length: number, use: (bytes: Uint8Array) => T): Promise<T> {
    this.ioCount++;
    return this.speculate((device) => device.readWith(offset, length, use));
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.ioCount++;
    const device = await this.confirmed();
    return device.write(offset, data);
  }

  /** The shared device is closed by its last user's release (lease-devices.ts), not here. */
  async close(): Promise<void> {}

  /**
   * Runs `op` on the current device and, if a confirmation is pending, waits for it too: the
   * result stands if the device was confirmed, else `op` runs again on the new device at once,
   * without waiting for the first run (an I/O on a file no longer at the path may be stuck; it
   * ends by its own deadline and its result is dropped). `op` must not change the disk.
   */
  private async speculate<T>(op: (device: DirectDevice) => Promise<T>): Promise<T> {
    if (this.confirming === undefined) return op(this.device);
    const speculative = this.device;
    // Settled into a value at once, so a failure of the dropped run is never an unhandled rejection.
    const first = op(speculative).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const device = await this.confirmed();
    if (device !== speculative) return op(device);
    const result = await first;
    if (!result.ok) throw result.error;
    return result.value;
  }
}
