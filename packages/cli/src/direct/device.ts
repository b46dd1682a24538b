/**
 * Opening the storage named on the command line, and the checks that keep
 * `direct` commands from writing anywhere but a whole, existing lease area.
 *
 * Deliberately stricter than sanlock 3.8.5, which writes at any offset and
 * silently extends a regular file that is too small: an init at a wrong
 * offset or on the wrong file destroys whatever leases were there.
 */
import type { DirectDevice } from "@sanlock-ts/daemon/device";
import { CliArgError } from "../args/errors.js";

/** Generous deadline for one direct I/O: sanlock's longest (initialising writes) is 60 s. */
export const DIRECT_IO_TIMEOUT_MS = 60_000;

export async function openDevice(path: string, sectorSize?: number): Promise<DirectDevice> {
  if (path === "") throw new CliArgError("ERR_CLI_PATH_MISSING", "no path given (expected NAME:...:PATH:OFFSET)");
  const { openDirectDevice } = await import("@sanlock-ts/daemon/device");
  return openDirectDevice(path, {
    ioTimeoutMs: DIRECT_IO_TIMEOUT_MS,
    ...(sectorSize === undefined ? {} : { sectorSize }),
  });
}

/**
 * Run `body` with the device open; always closes it. Errors that do not say
 * which device they are about get the path put in front of their message.
 */
export async function withDevice<T>(path: string, sectorSize: number | undefined, body: (device: DirectDevice) => Promise<T>): Promise<T> {
  const device = await openDevice(path, sectorSize);
  try {
    return await body(device);
  } catch (error) {
    if (error instanceof Error && !error.message.includes(path)) error.message = `${path}: ${error.message}`;
    throw error;
  } finally {
    await device.close();
  }
}
