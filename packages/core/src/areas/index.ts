// Area-level operations of `sanlock direct` (docs/ondisk.md §5-§10). Re-exported from the package root.
export * from "./layout.js";
export * from "./detect.js";
export * from "./lockspace-area.js";
export * from "./resource-area.js";
export * from "./rindex-area.js";
export * from "./dump.js";
