/**
 * The -Z (sector size) and -A (alignment) options. Only the five pairs of
 * docs/ondisk.md §2.1 are valid; sanlock 3.8.5 also refuses any other pair, and a
 * -Z without -A (or the reverse) makes its init fail ("must both be set").
 */
import { CliArgError } from "./errors.js";

export type SectorSize = 512 | 4096;
export type AlignSize = 1048576 | 2097152 | 4194304 | 8388608;

export interface GeometryArg {
  readonly sectorSize: SectorSize;
  readonly alignSize: AlignSize;
}

const ALIGN_BY_NAME: Readonly<Record<string, AlignSize>> = {
  "1M": 1048576,
  "2M": 2097152,
  "4M": 4194304,
  "8M": 8388608,
};

const VALID_PAIRS = "512/1M, 4096/1M, 4096/2M, 4096/4M, 4096/8M";

export function parseSectorSize(text: string): SectorSize {
  if (text === "512") return 512;
  if (text === "4096") return 4096;
  throw new CliArgError("ERR_CLI_BAD_SIZES", `sector size -Z "${text}" is not 512 or 4096`);
}

export function parseAlignSize(text: string): AlignSize {
  const size = ALIGN_BY_NAME[text];
  if (size === undefined) throw new CliArgError("ERR_CLI_BAD_SIZES", `alignment -A "${text}" is not 1M, 2M, 4M or 8M`);
  return size;
}

/** Returns undefined when neither option was given (sizes then come from the device or the disk). */
export function parseGeometry(sector: string | undefined, align: string | undefined): GeometryArg | undefined {
  if (sector === undefined && align === undefined) return undefined;
  if (sector === undefined || align === undefined) {
    throw new CliArgError("ERR_CLI_BAD_SIZES", "-Z and -A must be given together");
  }
  const sectorSize = parseSectorSize(sector);
  const alignSize = parseAlignSize(align);
  if (sectorSize === 512 && alignSize !== 1048576) {
    throw new CliArgError("ERR_CLI_BAD_SIZES", `sector size 512 with alignment ${align} is not supported (use one of ${VALID_PAIRS})`);
  }
  return { sectorSize, alignSize };
}
