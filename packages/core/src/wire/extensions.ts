// sanlock-ts's one extension of the socket protocol: the metrics request (docs/wire.md §15).
//
// It is a SET_CONFIG (33, class A) whose lockspace name is empty and whose `data` is a config
// command sanlock 3.8.5 does not define (its are 1, 2, 4, 8). sanlock answers such a request
// with an error and closes the connection, as for any SET_CONFIG naming no lockspace (−ENOENT:
// no lockspace has an empty name), so a client asking a real sanlock daemon gets a prompt "not
// supported". A new command number would not do: sanlock drops an unknown command without a
// reply and keeps the connection open (docs/wire.md §5.4), so the client would wait.
//
// The sanlock-ts daemon replies data = 0, data2 echoed, and `length` − 32 bytes of UTF-8 JSON
// (the metrics snapshot), then closes the connection like every class A command.

import { MAX_LIST_PAYLOAD } from "./constants.js";

/** SET_CONFIG `data` of the metrics request: "TS" and 1. */
export const TS_METRICS_CONFIG_CMD = 0x54530001;
/** Largest metrics payload a daemon sends and a client accepts (the LOG_DUMP limit). */
export const TS_METRICS_MAX_PAYLOAD = MAX_LIST_PAYLOAD;
