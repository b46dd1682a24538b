/**
 * Choosing the watchdog from the daemon options (-w): the Linux device, or
 * none. With -w 1 a missing device is a startup error, never a silent
 * downgrade to "no watchdog".
 */
import { statSync } from "node:fs";
import { DevWatchdogDevice, systemWatchdogIo, type WatchdogIo } from "./dev-watchdog.js";
import type { WatchdogDevice } from "./device.js";
import { WatchdogError } from "./errors.js";
import { NoWatchdog } from "./none.js";
import { RealScheduler, type Scheduler } from "./scheduler.js";
import { WatchdogTester } from "./tester.js";
import type { Watchdog } from "./watchdog.js";

/** The standard Linux watchdog device node. */
export const DEFAULT_WATCHDOG_DEVICE = "/dev/watchdog";

export interface WatchdogSelection {
  /** Daemon option -w. */
  readonly useWatchdog: boolean;
  /** Device node; defaults to /dev/watchdog. */
  readonly devicePath?: string;
  /** A device to use instead of the node (the reset model in tests). */
  readonly device?: WatchdogDevice;
  readonly scheduler?: Scheduler;
  readonly io?: WatchdogIo;
  readonly log?: (line: string) => void;
  /** See WatchdogTesterOptions.testIntervalSeconds (default 10, as wdmd). */
  readonly testIntervalSeconds?: number;
  /** Existence check of the device node; injected in tests. */
  readonly deviceExists?: (path: string) => boolean;
}

function characterDeviceExists(path: string): boolean {
  try {
    return statSync(path).isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * Build the watchdog. Throws ERR_NO_WATCHDOG_DEVICE when -w 1 and the device
 * node is missing: the caller reports it and exits. The device itself is
 * opened (armed) only when the first lockspace joins, as wdmd does.
 */
export function createWatchdog(selection: WatchdogSelection): Watchdog {
  if (!selection.useWatchdog) return new NoWatchdog();
  const scheduler = selection.scheduler ?? new RealScheduler();
  let device = selection.device;
  if (device === undefined) {
    const path = selection.devicePath ?? DEFAULT_WATCHDOG_DEVICE;
    const exists = selection.deviceExists ?? characterDeviceExists;
    if (!exists(path)) {
      throw new WatchdogError(
        "ERR_NO_WATCHDOG_DEVICE",
        `watchdog device ${path} does not exist; load a watchdog driver (e.g. softdog) or start with -w 0`,
      );
    }
    device = new DevWatchdogDevice(path, selection.io ?? systemWatchdogIo);
  }
  return new WatchdogTester({ device, scheduler, log: selection.log, testIntervalSeconds: selection.testIntervalSeconds });
}
