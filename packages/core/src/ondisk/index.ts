// On-disk record codecs (ondisk.md). Re-exported from the package root.
export * from "./crc32c.js";
export * from "./geometry.js";
export * from "./names.js";
export * from "./decode-problem.js";
export * from "./leader-record.js";
export * from "./host-bitmap.js";
export * from "./delta-sector.js";
export * from "./request-record.js";
export * from "./dblock.js";
export * from "./mode-block.js";
export * from "./dblock-sector.js";
export * from "./lvb.js";
export * from "./rindex.js";
export { hex32 } from "./bytes.js";
export * from "./zero-bytes.js";
