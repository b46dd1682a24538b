/**
 * Choosing the watchdog from the daemon options (-w): the Linux device, or
 * none. With -w 1 a missing device is a startup error, never a silent
 * downgrade to "no watchdog". The device and its test loop run on a thread of
 * their own (thread.ts) unless a test injects objects of this thread.
 */
import { statSync } from "node:fs";
import { DevWatchdogDevice, systemWatchdogIo, type WatchdogIo } from "./dev-watchdog.js";
import type { WatchdogDevice } from "./device.js";
import { WatchdogError } from "./errors.js";
import { NoWatchdog } from "./none.js";
import { RealScheduler, type Scheduler } from "./scheduler.js";
import { WatchdogTester } from "./tester.js";
import { ThreadedWatchdog } from "./thread.js";
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
  /**
   * Run the test loop and the device on the watchdog thread (thread.ts), so that a busy
   * main thread cannot delay the close before an expiry. Default: yes, unless `device`,
   * `scheduler`, `io` or `deviceExists` is given — test doubles that live on this thread,
   * with which the tester runs here as before. `device` cannot go to a thread (build the
   * reset model there with `resetModel`).
   */
  readonly thread?: boolean;
  /**
   * Tests: the reset model (reset-model.ts) as the device, built on the watchdog thread.
   * With `killOnReset` its reset SIGKILLs the pids given to ThreadedWatchdog.setResetPids and
   * this process; otherwise `onReset` is told.
   */
  readonly resetModel?: {
    readonly hardwareTimeoutSeconds?: number;
    readonly killOnReset?: boolean;
    readonly onReset?: (firedAt: number) => void;
  };
}

function characterDeviceExists(path: string): boolean {
  try {
    return statSync(path).isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * Build the watchdog. Throws ERR_WATCHDOG_NO_DEVICE when -w 1 and the device
 * node is missing: the caller reports it and exits. The device itself is
 * opened (armed) only when the first lockspace joins, as wdmd does.
 */
export function createWatchdog(selection: WatchdogSelection): Watchdog {
  if (!selection.useWatchdog) return new NoWatchdog();
  const injected = selection.device !== undefined || selection.scheduler !== undefined || selection.io !== undefined;
  const thread = selection.thread ?? (!injected && selection.deviceExists === undefined);
  if (selection.resetModel !== undefined) {
    if (injected || selection.thread === false) {
      throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", "resetModel builds the device on the watchdog thread: give no device, scheduler, io or thread: false");
    }
    const { onReset, ...model } = selection.resetModel;
    return new ThreadedWatchdog({
      device: { kind: "reset-model", ...model },
      log: selection.log,
      onReset,
      testIntervalSeconds: selection.testIntervalSeconds,
    });
  }
  if (thread && injected) {
    throw new WatchdogError("ERR_WATCHDOG_ARGUMENT", "an injected device, scheduler or io cannot run on the watchdog thread");
  }
  const scheduler = selection.scheduler ?? new RealScheduler();
  let device = selection.device;
  if (device === undefined) {
    const path = selection.devicePath ?? DEFAULT_WATCHDOG_DEVICE;
    const exists = selection.deviceExists ?? characterDeviceExists;
    if (!exists(path)) {
      throw new WatchdogError("ERR_WATCHDOG_NO_DEVICE", `watchdog device ${path} does not exist; load a watchdog driver (e.g. softdog) or start with -w 0`);
    }
    if (thread) return new ThreadedWatchdog({ device: { kind: "dev", path }, log: selection.log, testIntervalSeconds: selection.testIntervalSeconds });
    device = new DevWatchdogDevice(path, selection.io ?? systemWatchdogIo);
  }
  return new WatchdogTester({ device, scheduler, log: selection.log, testIntervalSeconds: selection.testIntervalSeconds });
}
