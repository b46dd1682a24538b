// Public surface of the wire codec (docs/wire.md): pure bytes over Uint8Array, no Node imports. See README.md for the module map.
export * from "./constants.js";
// The result table (../results.ts) is part of the codec's surface: replies carry its numbers.
export { Errno, SanlkResult, errnoResult, isSanlkResult, resultMessage, resultName } from "../results.js";
export type { ErrnoName, SanlkResultName } from "../results.js";
export * from "./errors.js";
export * from "./extensions.js";
export { ByteReader, ByteWriter, concatBytes, decodeCString, decodeCText } from "./bytes.js";
export * from "./header.js";
export * from "./structs.js";
export * from "./messages.js";
export { MessageReader, planRequest, replyPayloadSize, stateRecordFrameSize } from "./framing.js";
export type { WireEvent, ReaderSide, MessageReaderOptions } from "./framing.js";
