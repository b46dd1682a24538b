// sanlock's CRC-32C variant (docs/ondisk.md §3.1): reflected Castagnoli polynomial 0x82F63B78,
// register starts at 0xFFFFFFFE, no final XOR. Not the common CRC-32C value.

const POLY_REFLECTED = 0x82f63b78;
const INITIAL_REGISTER = 0xfffffffe;

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
}

const TABLE = buildTable();

/** sanlock checksum of data[start, end): "123456789" -> 0xE8C7BB34, empty -> 0xFFFFFFFE. */
export function sanlockCrc32c(data: Uint8Array, start = 0, end = data.length): number {
  if (start < 0 || end > data.length || start > end) {
    throw new RangeError(`crc range [${start}, ${end}) is outside a buffer of ${data.length} bytes`);
  }
  let crc = INITIAL_REGISTER;
  for (let i = start; i < end; i++) {
    crc = (TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  }
  return crc >>> 0;
}
