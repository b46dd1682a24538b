// Public API of the DLM engine (docs/dlm.md): lock modes, flags and status codes, the on-disk
// records of a DLM volume, and the engine that grants locks between hosts sharing one disk.
export * from "./modes.js";
export * from "./status.js";
export { DLM_RECORD_VERSION, DlmRecordErrors } from "./record-frame.js";
export * from "./slot-record.js";
export * from "./lockspace-header.js";
export * from "./resource-header.js";
export * from "./host-record.js";
