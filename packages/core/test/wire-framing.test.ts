// Stream framing: split-point tests over multi-message streams (every split
// index gives the same messages), the daemon's per-command framing quirks
// (docs/wire.md §5.4, §13) and the client-side reply rules.
import t from "tap";
import {
  Cmd,
  MessageReader,
  ReleaseFlag,
  WireErrorCode,
  buildReply,
  buildRequest,
  concatBytes,
  disk,
  lockspace,
  requestHeader,
  encodeHeader,
  resource,
  EMPTY_OPTIONS,
  EMPTY_HOST_EVENT,
  type CmdNumber,
  type WireEvent,
} from "../src/wire/index.js";
import { capture, loadCaptures, stream } from "../../../test/support/wire-captures.js";

const captures = loadCaptures();

/** Feeds `bytes` in the given pieces and returns every event, including those at EOF. */
function feed(side: "daemon" | "client" | "event", pieces: Uint8Array[], expect: CmdNumber[] = []): WireEvent[] {
  const reader = new MessageReader({ side });
  for (const cmd of expect) reader.expectReply(cmd);
  const events: WireEvent[] = [];
  for (const piece of pieces) events.push(...reader.push(piece));
  events.push(...reader.end());
  return events;
}

/** A stable summary of events for comparison (bigints made strings). */
const summary = (events: WireEvent[]): string =>
  JSON.stringify(events, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v));

t.test("every split index of a multi-request stream yields the same requests (daemon side)", (t) => {
  // Registered connection: REGISTER + 2 ACQUIRE + INQUIRE + RELEASE, then the CLI's HOST_STATUS quirk
  // and the LOOKUP_RINDEX quirk (their own connections in reality; concatenated to stress framing).
  const bytes = concatBytes([
    stream(capture(captures, "12.1"), "C→D"),
    stream(capture(captures, "12.3"), "C→D"),
    stream(capture(captures, "12.4"), "C→D"),
    stream(capture(captures, "12.5"), "C→D"),
    stream(capture(captures, "12.8"), "C→D"),
    stream(capture(captures, "12.11"), "C→D"),
    stream(capture(captures, "12.15"), "C→D"),
  ]);
  const whole = feed("daemon", [bytes]);
  t.same(
    whole.map((e) => (e.type === "request" ? e.request.cmd : e.type)),
    [Cmd.REGISTER, Cmd.ACQUIRE, Cmd.ACQUIRE, Cmd.INQUIRE, Cmd.RELEASE, Cmd.HOST_STATUS, Cmd.LOOKUP_RINDEX],
  );
  const expected = summary(whole);
  let mismatches = 0;
  for (let split = 0; split <= bytes.byteLength; split++) {
    if (summary(feed("daemon", [bytes.subarray(0, split), bytes.subarray(split)])) !== expected) mismatches++;
  }
  t.equal(mismatches, 0, `all ${bytes.byteLength + 1} two-piece splits agree`);
  const bytewise = Array.from({ length: bytes.byteLength }, (_, i) => bytes.subarray(i, i + 1));
  t.equal(summary(feed("daemon", bytewise)), expected, "one byte at a time");
  t.end();
});

t.test("every split index of a reply stream yields the same replies (client side)", (t) => {
  // GET_HOSTS −EAGAIN, GET_HOSTS ok, INQUIRE −ELIBSCN with a stray byte, then a STATUS stream to EOF.
  const hosts = capture(captures, "12.6");
  const bytes = concatBytes([
    stream(hosts.slice(0, 3), "D→C"),
    stream(hosts.slice(3), "D→C"),
    stream(capture(captures, "12.14"), "D→C"),
    stream(capture(captures, "12.10"), "D→C"),
  ]);
  const cmds = [Cmd.GET_HOSTS, Cmd.GET_HOSTS, Cmd.INQUIRE, Cmd.STATUS];
  const whole = feed("client", [bytes], cmds);
  t.same(
    whole.map((e) => e.type),
    ["reply", "reply", "reply", "reply", ...Array<string>(8).fill("record"), "stream-end"],
  );
  const expected = summary(whole);
  let mismatches = 0;
  for (let split = 0; split <= bytes.byteLength; split++) {
    if (summary(feed("client", [bytes.subarray(0, split), bytes.subarray(split)], cmds)) !== expected) mismatches++;
  }
  t.equal(mismatches, 0, `all ${bytes.byteLength + 1} two-piece splits agree`);
  t.end();
});

t.test("bad magic: 32 bytes dropped, no reply, next request still served (§5.4)", (t) => {
  const version = stream(capture(captures, "12.12"), "C→D");
  const bad = version.slice();
  bad[0] = 0x11;
  const events = feed("daemon", [concatBytes([bad, version])]);
  t.equal(events.length, 2);
  t.match(events[0], { type: "error", fatal: false, error: { code: WireErrorCode.BAD_MAGIC, result: undefined } });
  t.match(events[1], { type: "request", request: { cmd: Cmd.VERSION } });
  t.end();
});

t.test("protocol major ≠ 0 is dropped except for VERSION; minor versions are accepted (§3)", (t) => {
  const major2 = encodeHeader({ ...requestHeader(Cmd.GET_LOCKSPACES, 0), version: 0x00020000 });
  const minor5 = encodeHeader({ ...requestHeader(Cmd.GET_LOCKSPACES, 0), version: 0x00000005 });
  const zero = encodeHeader({ ...requestHeader(Cmd.GET_LOCKSPACES, 0), version: 0 });
  const versionMajor2 = encodeHeader({ ...requestHeader(Cmd.VERSION, 0), version: 0x00020000 });
  const events = feed("daemon", [concatBytes([major2, minor5, zero, versionMajor2])]);
  t.match(events, [
    { type: "error", error: { code: WireErrorCode.BAD_PROTOCOL, result: undefined } },
    { type: "request", request: { cmd: Cmd.GET_LOCKSPACES } },
    { type: "request", request: { cmd: Cmd.GET_LOCKSPACES } },
    { type: "request", request: { cmd: Cmd.VERSION } },
  ]);
  t.end();
});

t.test("unknown commands 0 and 41 are dropped header-only; their payload is read as the next header", (t) => {
  const cmd0 = encodeHeader({ ...requestHeader(0, 0) });
  const cmd41 = encodeHeader({ ...requestHeader(41, 32) });
  const payloadThatIsAHeader = encodeHeader(requestHeader(Cmd.VERSION, 0));
  const events = feed("daemon", [concatBytes([cmd0, cmd41, payloadThatIsAHeader])]);
  t.match(events, [
    { type: "error", error: { code: WireErrorCode.UNKNOWN_COMMAND } },
    { type: "error", error: { code: WireErrorCode.UNKNOWN_COMMAND } },
    { type: "request", request: { cmd: Cmd.VERSION } },
  ]);
  t.end();
});

t.test("ACQUIRE with 9 resources: −E2BIG before reading, rest of `length` drained (§7.7, §5.4)", (t) => {
  const res = resource("LS", "R", [disk("/d", 0n)]);
  const nine = buildRequest(Cmd.ACQUIRE, { resources: Array<typeof res>(8).fill(res), options: EMPTY_OPTIONS }, { data: 9 });
  const next = buildRequest(Cmd.VERSION, {});
  const events = feed("daemon", [concatBytes([nine.bytes, next.bytes])]);
  t.match(events, [
    { type: "error", fatal: false, error: { code: WireErrorCode.BAD_COUNT, result: -7 }, header: { cmd: Cmd.ACQUIRE } },
    { type: "request", request: { cmd: Cmd.VERSION } },
  ]);
  t.end();
});

t.test("ACQUIRE with num_disks 0 or 5: −ERANGE after the struct, rest drained", (t) => {
  for (const numDisks of [0, 5]) {
    const good = resource("LS", "R", [disk("/d", 0n)]);
    const req = buildRequest(Cmd.ACQUIRE, { resources: [good, good], options: EMPTY_OPTIONS });
    const bytes = req.bytes.slice();
    // second resource's num_disks field: after header + first resource (128 + 1040), at struct offset 124
    new DataView(bytes.buffer).setUint32(32 + 128 + 1040 + 124, numDisks, true);
    const events = feed("daemon", [bytes, buildRequest(Cmd.VERSION, {}).bytes]);
    t.match(
      events,
      [
        { type: "error", error: { code: WireErrorCode.BAD_COUNT, result: -34, details: { index: 1, value: numDisks } } },
        { type: "request", request: { cmd: Cmd.VERSION } },
      ],
      `num_disks ${numDisks}`,
    );
  }
  t.end();
});

t.test("RELEASE reads 0 / 1 / 2 / n structs by its flags, not by `length` (§7.8)", (t) => {
  const r = resource("LS", "R", [], { numDisks: 1 });
  const cases: [number, number, number][] = [
    [ReleaseFlag.ALL, 0, 0],
    [ReleaseFlag.ORPHAN, 5, 1],
    [ReleaseFlag.RENAME, 5, 2],
    [0, 3, 3],
  ];
  for (const [flags, n, structs] of cases) {
    const body = { resources: Array<typeof r>(structs).fill(r) };
    const req = buildRequest(Cmd.RELEASE, body, { cmdFlags: flags, data: n, length: 32 + 128 * n });
    const events = feed("daemon", [req.bytes, buildRequest(Cmd.VERSION, {}).bytes]);
    t.match(
      events,
      [
        { type: "request", request: { cmd: Cmd.RELEASE, body: { resources: { length: structs } } } },
        { type: "request", request: { cmd: Cmd.VERSION } },
      ],
      `flags ${flags} data ${n}`,
    );
  }
  t.end();
});

t.test("SET_LVB: the LVB size comes from `length`; > 4096 is −E2BIG (§7.24)", (t) => {
  const r = resource("LS", "R", [], { numDisks: 1 });
  const lvb = Uint8Array.from({ length: 100 }, (_, i) => i);
  const ok = buildRequest(Cmd.SET_LVB, { resource: r, lvb });
  const [event] = feed("daemon", [ok.bytes]);
  if (event?.type !== "request" || event.request.cmd !== Cmd.SET_LVB) throw new Error("no SET_LVB");
  t.same(event.request.body.lvb, lvb);
  const big = buildRequest(Cmd.SET_LVB, { resource: r, lvb: new Uint8Array(4097) });
  const events = feed("daemon", [big.bytes, buildRequest(Cmd.VERSION, {}).bytes]);
  t.match(events, [
    { type: "error", error: { code: WireErrorCode.TOO_LARGE, result: -7 } },
    { type: "request", request: { cmd: Cmd.VERSION } },
  ]);
  t.end();
});

t.test("a request cut short by EOF is −ENOTCONN; a short header gets no reply", (t) => {
  const add = stream(capture(captures, "12.2"), "C→D");
  const cut = feed("daemon", [add.subarray(0, 500)]);
  t.match(cut, [{ type: "error", fatal: true, error: { code: WireErrorCode.TRUNCATED, result: -107 } }]);
  const short = feed("daemon", [add.subarray(0, 20)]);
  t.match(short, [{ type: "error", error: { code: WireErrorCode.TRUNCATED, result: undefined } }]);
  t.end();
});

t.test("oversized RELEASE count fails fast without buffering", (t) => {
  const header = encodeHeader(requestHeader(Cmd.RELEASE, 0, { data: 100000 }));
  const reader = new MessageReader({ side: "daemon" });
  const events = reader.push(header);
  t.match(events, [{ type: "error", fatal: true, error: { code: WireErrorCode.TOO_LARGE } }]);
  t.equal(reader.buffered, 0);
  t.same(reader.push(new Uint8Array(64)), [], "a failed reader ignores further input");
  t.end();
});

t.test("client side: replies must answer the outstanding request", (t) => {
  const version = stream(capture(captures, "12.12"), "D→C");
  t.match(feed("client", [version]), [{ type: "error", error: { code: WireErrorCode.UNEXPECTED_REPLY } }]);
  t.match(feed("client", [version], [Cmd.GET_LOCKSPACES]), [{ type: "error", error: { code: WireErrorCode.UNEXPECTED_REPLY } }]);
  t.end();
});

t.test("client side: SHUTDOWN_WAIT success has cmd 0; GET_LVB errors carry no payload; LOG_DUMP size in data", (t) => {
  const sw = requestHeader(Cmd.SHUTDOWN_WAIT, 0);
  const swReply = encodeHeader({ ...requestHeader(0, 0), version: 1 });
  t.match(feed("client", [swReply], [Cmd.SHUTDOWN_WAIT]), [{ type: "reply", reply: { cmd: Cmd.SHUTDOWN_WAIT, header: { cmd: 0 } } }]);
  t.equal(sw.cmd, Cmd.SHUTDOWN_WAIT);

  const getLvb = requestHeader(Cmd.GET_LVB, 128, { data2: 512 });
  const lvbError = encodeHeader({ ...getLvb, length: 32 + 512, data: -2, data2: 0 });
  const version = buildRequest(Cmd.VERSION, {}).header;
  const versionReply = buildReply(version, Cmd.VERSION, 0, {}, { data2: 0x03080500 }).bytes;
  t.match(feed("client", [lvbError, versionReply], [Cmd.GET_LVB, Cmd.VERSION]), [
    { type: "reply", reply: { cmd: Cmd.GET_LVB, header: { data: -2 }, body: { lvb: { length: 0 } } } },
    { type: "reply", reply: { cmd: Cmd.VERSION } },
  ]);

  const logReq = requestHeader(Cmd.LOG_DUMP, 0);
  const text = new TextEncoder().encode("line one\nline two");
  const logReply = concatBytes([encodeHeader({ ...logReq, data: text.byteLength }), text]);
  t.match(feed("client", [logReply], [Cmd.LOG_DUMP]), [{ type: "reply", reply: { cmd: Cmd.LOG_DUMP, header: { length: 32 }, body: { log: text } } }]);
  t.end();
});

t.test("client side: HOST_STATUS error has no record stream; EOF inside a record is truncation", (t) => {
  const hs = buildRequest(Cmd.HOST_STATUS, { lockspace: lockspace("X") }).header;
  const notFound = buildReply(hs, Cmd.HOST_STATUS, -28, {}).bytes;
  t.match(feed("client", [notFound], [Cmd.HOST_STATUS]), [{ type: "reply", reply: { header: { data: -28 } } }]);
  const status = stream(capture(captures, "12.10"), "D→C");
  const cut = feed("client", [status.subarray(0, status.byteLength - 10)], [Cmd.STATUS]);
  t.match(cut.at(-1), { type: "error", error: { code: WireErrorCode.TRUNCATED } });
  t.end();
});

t.test("event side: records split anywhere; REG_EVENT request framing", (t) => {
  const callback = capture(captures, "12.13")[8]!.bytes;
  const two = concatBytes([callback, callback]);
  for (let split = 0; split <= two.byteLength; split++) {
    const events = feed("event", [two.subarray(0, split), two.subarray(split)]);
    if (events.length !== 2 || events.some((e) => e.type !== "event")) {
      t.fail(`split ${split}`);
      break;
    }
  }
  const reg = buildRequest(Cmd.REG_EVENT, { lockspace: lockspace("LS"), event: EMPTY_HOST_EVENT });
  t.equal(reg.header.length, 0x490);
  t.end();
});

t.test("a name that is not UTF-8 is refused with −EINVAL, the connection continues", (t) => {
  const req = buildRequest(Cmd.INQ_LOCKSPACE, { lockspace: lockspace("LS") }).bytes.slice();
  req[32] = 0xff; // first byte of the lockspace name
  const events = feed("daemon", [req, buildRequest(Cmd.VERSION, {}).bytes]);
  t.match(events, [
    { type: "error", fatal: false, error: { code: WireErrorCode.MALFORMED, result: -22 } },
    { type: "request", request: { cmd: Cmd.VERSION } },
  ]);
  t.end();
});

t.test("ACQUIRE count is a C int: data −1 reads no resources, only the options", (t) => {
  const req = buildRequest(Cmd.ACQUIRE, { resources: [], options: EMPTY_OPTIONS }, { data: -1 });
  t.equal(req.bytes.byteLength, 32 + 56);
  const events = feed("daemon", [req.bytes, buildRequest(Cmd.VERSION, {}).bytes]);
  t.match(events, [
    { type: "request", request: { cmd: Cmd.ACQUIRE, header: { data: -1 }, body: { resources: [] } } },
    { type: "request", request: { cmd: Cmd.VERSION } },
  ]);
  t.end();
});
