/**
 * What the watchdog tester needs from a hardware watchdog (docs/algorithms.md §7.5,
 * the operations wdmd performs on /dev/watchdog).
 */
export interface WatchdogDevice {
  /** Names the device in log lines and errors. */
  readonly description: string;
  /** True between a successful arm/reopen and the next close. */
  readonly isOpen: boolean;
  /**
   * Open the device and make sure it fires exactly `fireTimeoutSeconds` after
   * the last keepalive; otherwise disarm it and throw ERR_WATCHDOG_TIMEOUT
   * (sanlock refuses a join when the timeout is not the expected 60 s).
   * Opening starts the countdown; a keepalive is sent once the timeout is verified.
   */
  arm(fireTimeoutSeconds: number): void;
  /** Open again after an unclean close, and keep alive (wdmd "reopen"). */
  reopen(): void;
  /** One keepalive: the countdown restarts at its full timeout. */
  keepalive(): void;
  /**
   * Close without the disarm code: the countdown keeps running (on common
   * drivers the close itself counts as one last keepalive, docs/algorithms.md §7.5.4).
   */
  closeUnclean(): void;
  /** Write the magic 'V' and close: the watchdog is stopped (clean shutdown only). */
  disarm(): void;
}

/** Linux <linux/watchdog.h> ioctl numbers: _IOR/_IOWR('W', nr, int). */
export const WDIOC_KEEPALIVE = 0x80045705;
export const WDIOC_SETTIMEOUT = 0xc0045706;
export const WDIOC_GETTIMEOUT = 0x80045707;
/** Byte written before close to stop the watchdog ("magic close"). */
export const WATCHDOG_MAGIC_CLOSE = 0x56; // 'V'
