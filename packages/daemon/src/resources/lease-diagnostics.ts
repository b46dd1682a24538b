/**
 * The acquire, release and convert channels (diagnostics.ts): one message per resource and
 * operation with its result, duration and the I/Os it issued on the lease's disks (the
 * ConfirmingDevices' counts before and after; an acquire that opens a device counts from 0).
 */
import { channels, type LeaseMode, type LeaseOperationMessage } from "../diagnostics.js";
import type { ConfirmingDevice } from "./confirming-device.js";

export type LeaseOperation = "acquire" | "release" | "convert";

export class LeaseOperationProbe {
  private readonly startedAt = performance.now();
  private devices: readonly ConfirmingDevice[] = [];
  private ioBefore = 0;

  constructor(
    private readonly operation: LeaseOperation,
    private readonly what: { readonly lockspace: string; readonly resource: string; readonly mode: LeaseMode; readonly pid: number },
  ) {}

  /** Counts these devices' I/O from now on (every disk of the lease that opened). */
  watch(devices: readonly ConfirmingDevice[]): void {
    this.devices = devices;
    this.ioBefore = ioSum(devices);
  }

  /** Publishes the operation's outcome (0 or a negative result). */
  done(result: number): void {
    const channel = channels[this.operation];
    if (!channel.hasSubscribers) return;
    const message: LeaseOperationMessage = {
      ...this.what,
      result,
      durationMs: performance.now() - this.startedAt,
      ioCount: ioSum(this.devices) - this.ioBefore,
    };
    channel.publish(message);
  }
}

/** A probe only when the operation's channel has subscribers: nothing is measured otherwise. */
export function probeLeaseOperation(operation: LeaseOperation, what: ConstructorParameters<typeof LeaseOperationProbe>[1]): LeaseOperationProbe | undefined {
  return channels[operation].hasSubscribers ? new LeaseOperationProbe(operation, what) : undefined;
}

export function modeOf(shared: boolean): LeaseMode {
  return shared ? "sh" : "ex";
}

function ioSum(devices: readonly ConfirmingDevice[]): number {
  return devices.reduce((sum, device) => sum + device.ioCount, 0);
}
