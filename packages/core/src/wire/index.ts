// Public surface of the wire codec (spec/wire.md). See README.md for the module map.
export * from "./constants.js";
// The result table lives in core (one definition for every package); the codec's users get it here too.
export { Errno, SanlkResult, errnoResult, isSanlkResult, resultMessage, resultName } from "@sanlock-ts/core/results";
export type { ErrnoName, SanlkResultName } from "@sanlock-ts/core/results";
export * from "./errors.js";
export { ByteReader, ByteWriter, concatBytes, decodeCString, decodeCText } from "./bytes.js";
export * from "./header.js";
export * from "./structs.js";
export * from "./messages.js";
export { MessageReader, planRequest, replyPayloadSize, stateRecordFrameSize } from "./framing.js";
export type { WireEvent, ReaderSide, MessageReaderOptions } from "./framing.js";
