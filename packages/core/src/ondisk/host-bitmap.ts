// Host-id bitmap in bytes 256..511 of every delta sector, for both 512 and 4096-byte sectors
// (docs/ondisk.md §5.5, §11). Host H is bit (H-1)%8 of byte 256 + (H-1)/8, LSB first.
import { ErrorCodes, SanlockTsError } from "../errors.js";
import { requireBytes } from "./bytes.js";

export const HOSTID_BITMAP_OFFSET = 256;
export const HOSTID_BITMAP_SIZE = 256;
/** Host ids representable in the bitmap (only 1..2000 are used by sanlock). */
export const HOSTID_BITMAP_BITS = HOSTID_BITMAP_SIZE * 8;

function bitPosition(hostId: number): { byte: number; mask: number } {
  return { byte: hostBitByte(hostId), mask: 1 << ((hostId - 1) % 8) };
}

/** Offset in a delta sector of the bitmap byte that holds hostId's bit. */
export function hostBitByte(hostId: number): number {
  if (!Number.isInteger(hostId) || hostId < 1 || hostId > HOSTID_BITMAP_BITS) {
    throw new SanlockTsError(ErrorCodes.OUT_OF_RANGE, `host_id ${hostId} is outside the bitmap range 1..${HOSTID_BITMAP_BITS}`, { hostId });
  }
  return HOSTID_BITMAP_OFFSET + Math.floor((hostId - 1) / 8);
}

/** Is the bit for hostId set in the delta sector `sector`? */
export function testHostBit(sector: Uint8Array, hostId: number): boolean {
  requireBytes(sector, 0, HOSTID_BITMAP_OFFSET + HOSTID_BITMAP_SIZE, "delta sector bitmap");
  const { byte, mask } = bitPosition(hostId);
  return (sector[byte]! & mask) !== 0;
}

/** Sets or clears the bit for hostId in the delta sector `sector` (in place). */
export function setHostBit(sector: Uint8Array, hostId: number, on = true): void {
  requireBytes(sector, 0, HOSTID_BITMAP_OFFSET + HOSTID_BITMAP_SIZE, "delta sector bitmap");
  const { byte, mask } = bitPosition(hostId);
  sector[byte] = on ? sector[byte]! | mask : sector[byte]! & ~mask;
}

/** Zeroes the whole bitmap of the delta sector (in place). */
export function clearHostBitmap(sector: Uint8Array): void {
  requireBytes(sector, 0, HOSTID_BITMAP_OFFSET + HOSTID_BITMAP_SIZE, "delta sector bitmap");
  sector.fill(0, HOSTID_BITMAP_OFFSET, HOSTID_BITMAP_OFFSET + HOSTID_BITMAP_SIZE);
}

/** Host ids 1..maxHosts whose bit is set, ascending (what `direct dump -f 1` prints). */
export function hostBitsSet(sector: Uint8Array, maxHosts: number): number[] {
  const limit = Math.min(maxHosts, HOSTID_BITMAP_BITS);
  const hosts: number[] = [];
  for (let h = 1; h <= limit; h++) if (testHostBit(sector, h)) hosts.push(h);
  return hosts;
}
