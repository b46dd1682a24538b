// Golden tests: the captured exchanges of docs/wire.md §12 (test/vectors/wire-captures.json) (bytes written by the
// real sanlock 3.8.5 daemon, libsanlock and CLI) decode to the values the spec
// annotates, and re-encoding the decoded messages reproduces the bytes exactly.
import t from "tap";
import {
  Cmd,
  HostState,
  MessageReader,
  ResFlag,
  SetEventFlag,
  StateType,
  WIRE_MAGIC,
  DAEMON_VERSION_3_8_5,
  encodeEndEventValue,
  encodeEventRecord,
  encodeReply,
  isEndEventValue,
  encodeRequest,
  encodeStateRecord,
  type CmdNumber,
  type WireEvent,
  type WireReply,
  type WireRequest,
  type StateRecord,
} from "../src/wire/index.js";
import { capture, loadCaptures, stream, type CapturedWrite } from "../../../test/support/wire-captures.js";

const captures = loadCaptures();

function requestsOf(bytes: Uint8Array): WireRequest[] {
  const reader = new MessageReader({ side: "daemon" });
  const events = [...reader.push(bytes), ...reader.end()];
  return events.map((e) => {
    if (e.type !== "request") throw new Error(`expected a request, got ${JSON.stringify(e.type)}`);
    return e.request;
  });
}

function repliesOf(cmds: CmdNumber[], bytes: Uint8Array): WireEvent[] {
  const reader = new MessageReader({ side: "client" });
  for (const cmd of cmds) reader.expectReply(cmd);
  return [...reader.push(bytes), ...reader.end()];
}

function onlyReply(events: WireEvent[]): WireReply {
  const replies = events.filter((e): e is Extract<WireEvent, { type: "reply" }> => e.type === "reply");
  if (replies.length !== 1 || events.some((e) => e.type === "error")) throw new Error("expected exactly one reply");
  return replies[0]!.reply;
}

/** Writes of one connection: from index `from` up to (not including) `to`. */
const slice = (writes: CapturedWrite[], from: number, to?: number): CapturedWrite[] => writes.slice(from, to);

t.test("12.1 REGISTER: header only, no reply", (t) => {
  const writes = capture(captures, "12.1");
  const [req] = requestsOf(stream(writes, "C→D"));
  t.equal(req?.cmd, Cmd.REGISTER);
  t.match(req?.header, { magic: WIRE_MAGIC, version: 1, length: 32, data: 0, data2: 0 });
  t.same(encodeRequest(req!), stream(writes, "C→D"));
  t.equal(stream(writes, "D→C").byteLength, 0, "the daemon sends nothing");
  t.end();
});

t.test("12.2 ADD_LOCKSPACE request and reply", (t) => {
  const writes = capture(captures, "12.2");
  const cd = stream(writes, "C→D");
  const [req] = requestsOf(cd);
  if (req?.cmd !== Cmd.ADD_LOCKSPACE) throw new Error("not ADD_LOCKSPACE");
  t.equal(req.header.length, 1136);
  t.equal(req.body.lockspace.name, "LS");
  t.equal(req.body.lockspace.hostId, 1n);
  t.equal(req.body.lockspace.hostIdDisk.path, "/var/tmp/ls.lease");
  t.equal(req.body.lockspace.hostIdDisk.offset, 0n);
  t.same(encodeRequest(req), cd);
  const dc = stream(writes, "D→C");
  const reply = onlyReply(repliesOf([Cmd.ADD_LOCKSPACE], dc));
  t.match(reply.header, { cmd: 2, length: 32, data: 0, data2: 0 });
  t.same(encodeReply(reply), dc);
  t.end();
});

t.test("12.3/12.4 ACQUIRE self, exclusive then shared, on the registered connection", (t) => {
  const w3 = capture(captures, "12.3");
  const w4 = capture(captures, "12.4");
  // The registered connection carries REGISTER, then both ACQUIREs.
  const cd = Uint8Array.from([...stream(capture(captures, "12.1"), "C→D"), ...stream(w3, "C→D"), ...stream(w4, "C→D")]);
  const reqs = requestsOf(cd);
  t.same(
    reqs.map((r) => r.cmd),
    [Cmd.REGISTER, Cmd.ACQUIRE, Cmd.ACQUIRE],
  );
  const [, a, b] = reqs;
  if (a?.cmd !== Cmd.ACQUIRE || b?.cmd !== Cmd.ACQUIRE) throw new Error("not ACQUIRE");
  t.match(a.header, { length: 1256, data: 1, data2: -1, cmdFlags: 0 });
  const res = a.body.resources[0]!;
  t.match(res, { lockspaceName: "LS", name: "RES", lver: 0n, flags: 0, numDisks: 1 });
  t.match(res.disks[0], { path: "/var/tmp/res.lease", offset: 0n });
  t.same(a.body.options, { ownerName: "", flags: 0, len: 0 });
  const shared = b.body.resources[0]!;
  t.equal(shared.name, "RES2");
  t.equal(shared.flags, ResFlag.SHARED);
  t.equal(shared.disks[0]?.offset, 0x100000n);
  t.same(encodeRequest(a), stream(w3, "C→D"));
  t.same(encodeRequest(b), stream(w4, "C→D"));
  for (const w of [w3, w4]) {
    const reply = onlyReply(repliesOf([Cmd.ACQUIRE], stream(w, "D→C")));
    t.match(reply.header, { cmd: 7, data: 0, length: 32 });
  }
  t.end();
});

t.test("12.5 INQUIRE self: state string with NUL, data2 = lease count", (t) => {
  const writes = capture(captures, "12.5");
  const [req] = requestsOf(stream(writes, "C→D"));
  t.match(req?.header, { cmd: 9, length: 32, data2: -1 });
  const dc = stream(writes, "D→C");
  const reply = onlyReply(repliesOf([Cmd.INQUIRE], dc));
  if (reply.cmd !== Cmd.INQUIRE) throw new Error("not INQUIRE");
  t.match(reply.header, { length: 100, data: 0, data2: 2 });
  t.equal(reply.body.state, "LS:RES:/var/tmp/res.lease:0:1 LS:RES2:/var/tmp/res.lease:1048576:SH");
  t.same(encodeReply(reply), dc);
  t.end();
});

t.test("12.6 GET_HOSTS: −EAGAIN, then one LIVE host", (t) => {
  const writes = capture(captures, "12.6");
  const first = slice(writes, 0, 3);
  const second = slice(writes, 3);
  for (const conn of [first, second]) {
    const [req] = requestsOf(stream(conn, "C→D"));
    if (req?.cmd !== Cmd.GET_HOSTS) throw new Error("not GET_HOSTS");
    t.equal(req.body.lockspace.name, "LS");
    t.equal(req.body.lockspace.hostId, 0n);
    t.same(encodeRequest(req), stream(conn, "C→D"));
  }
  const again = onlyReply(repliesOf([Cmd.GET_HOSTS], stream(first, "D→C")));
  t.equal(again.header.data, -11, "−EAGAIN");
  const ok = onlyReply(repliesOf([Cmd.GET_HOSTS], stream(second, "D→C")));
  if (ok.cmd !== Cmd.GET_HOSTS) throw new Error("not GET_HOSTS");
  t.match(ok.header, { length: 64, data: 0, data2: 1 });
  t.same(ok.body.hosts, [{ hostId: 1n, generation: 1n, timestamp: 1287n, ioTimeout: 10, flags: HostState.LIVE }]);
  t.same(encodeReply(ok), stream(second, "D→C"));
  t.end();
});

t.test("12.7 GET_LOCKSPACES: one active lockspace", (t) => {
  const writes = capture(captures, "12.7");
  const reply = onlyReply(repliesOf([Cmd.GET_LOCKSPACES], stream(writes, "D→C")));
  if (reply.cmd !== Cmd.GET_LOCKSPACES) throw new Error("not GET_LOCKSPACES");
  t.match(reply.header, { length: 1136, data: 0, data2: 1 });
  t.equal(reply.body.lockspaces.length, 1);
  t.match(reply.body.lockspaces[0], { name: "LS", hostId: 1n, flags: 0, hostIdDisk: { path: "/var/tmp/ls.lease", offset: 0n } });
  t.same(encodeReply(reply), stream(writes, "D→C"));
  t.end();
});

t.test("12.8 RELEASE self: 128-byte resource, no disks although num_disks = 1", (t) => {
  const writes = capture(captures, "12.8");
  const [req] = requestsOf(stream(writes, "C→D"));
  if (req?.cmd !== Cmd.RELEASE) throw new Error("not RELEASE");
  t.match(req.header, { length: 160, data: 1, data2: -1 });
  t.equal(req.body.resources.length, 1);
  t.match(req.body.resources[0], { lockspaceName: "LS", name: "RES", numDisks: 1, disks: [] });
  t.same(encodeRequest(req), stream(writes, "C→D"));
  t.end();
});

t.test("12.9 REM_LOCKSPACE", (t) => {
  const writes = capture(captures, "12.9");
  const [req] = requestsOf(stream(writes, "C→D"));
  if (req?.cmd !== Cmd.REM_LOCKSPACE) throw new Error("not REM_LOCKSPACE");
  t.equal(req.header.cmdFlags, 0);
  t.equal(req.body.lockspace.name, "LS");
  t.same(encodeRequest(req), stream(writes, "C→D"));
  t.end();
});

t.test("12.10 STATUS: record stream until EOF", (t) => {
  const writes = capture(captures, "12.10");
  const dc = stream(writes, "D→C");
  const events = repliesOf([Cmd.STATUS], dc);
  t.same(
    events.map((e) => e.type),
    ["reply", ...Array<string>(8).fill("record"), "stream-end"],
  );
  const records = events.flatMap((e) => (e.type === "record" ? [e.record] : []));
  t.same(
    records.map((r) => r.type),
    [1, 2, 2, 2, 2, 3, 4, 4],
  );
  t.same(
    records.map((r) => r.name),
    ["c6c4dd97-58ce-460c-9640-21c15f2b8ebd.vm", "helper", "listener", "", "status", "LS", "RES2", "RES"],
  );
  t.same(
    records.map((r) => r.data32),
    [0, -1, -1, 29972, -1, 0, 29972, 29972],
  );
  const daemon = records[0]!;
  t.ok(daemon.str.startsWith("our_host_name=c6c4dd97"));
  t.ok(daemon.str.endsWith("smproto_hex=00000001"));
  const ls = records[5]!;
  t.equal(ls.data64, 1n, "LOCKSPACE data64 = host_id");
  t.match(ls.lockspace, { name: "LS", hostId: 1n, hostIdDisk: { path: "/var/tmp/ls.lease", pad1: 0x200, pad2: 0x0b } });
  const res2 = records[6]!;
  t.equal(res2.data64, 1n, "RESOURCE data64 = lver");
  t.match(res2.resource, { name: "RES2", flags: ResFlag.SHARED, lver: 0n, numDisks: 1 });
  t.match(res2.resource?.disks[0], { offset: 0x100000n, pad1: 0x200, pad2: 0xffffffff });
  t.equal(records[7]?.str, "list=held flags=0 sector_size=512 align_size=1048576 lver=1 reused=0 res_id=2 token_id=1");
  // Re-encode: reply header then each record.
  const reply = events[0]!;
  if (reply.type !== "reply") throw new Error("no reply");
  t.match(reply.reply.header, { length: 32, data: 0 });
  const rebuilt = Uint8Array.from([...encodeReply(reply.reply), ...records.flatMap((r: StateRecord) => [...encodeStateRecord(r)])]);
  t.same(rebuilt, dc);
  t.end();
});

t.test("12.11 HOST_STATUS: CLI sends length 32 and the struct anyway", (t) => {
  const writes = capture(captures, "12.11");
  const cd = stream(writes, "C→D");
  t.equal(cd.byteLength, 32 + 1104);
  const [req] = requestsOf(cd);
  if (req?.cmd !== Cmd.HOST_STATUS) throw new Error("not HOST_STATUS");
  t.equal(req.header.length, 32, "length not used for framing");
  t.equal(req.body.lockspace.name, "LS");
  t.same(encodeRequest(req), cd);
  const events = repliesOf([Cmd.HOST_STATUS], stream(writes, "D→C"));
  t.same(
    events.map((e) => e.type),
    ["reply", "record", "stream-end"],
  );
  const host = events[1];
  if (host?.type !== "record") throw new Error("no record");
  t.match(host.record, { type: StateType.HOST, data32: 1, data64: 0x507n, name: "" });
  t.ok(host.record.str.startsWith("last_check=1308 "));
  t.end();
});

t.test("12.12 VERSION: daemon version in data2", (t) => {
  const writes = capture(captures, "12.12");
  const reply = onlyReply(repliesOf([Cmd.VERSION], stream(writes, "D→C")));
  t.match(reply.header, { cmd: 28, version: 1, length: 32, data: 0, data2: DAEMON_VERSION_3_8_5 });
  t.same(encodeReply(reply), stream(writes, "D→C"));
  t.end();
});

t.test("12.13 events: REG_EVENT, SET_EVENT, callback record, END_EVENT", (t) => {
  const writes = capture(captures, "12.13");
  const reg = slice(writes, 0, 4);
  const set = slice(writes, 4, 8);
  const callback = writes[8]!;
  const endValue = writes[9]!;
  const end = slice(writes, 10);
  const [regReq] = requestsOf(stream(reg, "C→D"));
  if (regReq?.cmd !== Cmd.REG_EVENT) throw new Error("not REG_EVENT");
  t.equal(regReq.header.length, 0x490);
  t.same(regReq.body.event, { hostId: 0n, generation: 0n, event: 0n, data: 0n });
  t.same(encodeRequest(regReq), stream(reg, "C→D"));
  const [setReq] = requestsOf(stream(set, "C→D"));
  if (setReq?.cmd !== Cmd.SET_EVENT) throw new Error("not SET_EVENT");
  t.equal(setReq.header.cmdFlags, SetEventFlag.CUR_GENERATION);
  t.same(setReq.body.event, { hostId: 1n, generation: 0n, event: 7n, data: 0x1234n });
  t.same(encodeRequest(setReq), stream(set, "C→D"));
  const setReply = onlyReply(repliesOf([Cmd.SET_EVENT], stream(set, "D→C")));
  t.match(setReply.header, { cmd: 32, cmdFlags: 1, data: 0 });
  const eventReader = new MessageReader({ side: "event" });
  const [ev] = eventReader.push(callback.bytes);
  if (ev?.type !== "event") throw new Error("no event record");
  t.match(ev.record.header, { cmd: 1, length: 80 });
  t.same(ev.record.he, { hostId: 1n, generation: 1n, event: 7n, data: 0x1234n });
  t.equal(ev.record.fromHostId, 2n);
  t.equal(ev.record.fromGeneration, 1n);
  t.same(encodeEventRecord(ev.record), callback.bytes);
  t.ok(isEndEventValue(endValue.bytes), "end-event value is u32 1");
  t.same(encodeEndEventValue(), endValue.bytes);
  const [endReq] = requestsOf(stream(end, "C→D"));
  t.equal(endReq?.cmd, Cmd.END_EVENT);
  t.same(encodeRequest(endReq!), stream(end, "C→D"));
  t.end();
});

t.test("12.14 INQUIRE −ELIBSCN: length 33 and one stray byte are consumed", (t) => {
  const writes = capture(captures, "12.14");
  const [req] = requestsOf(stream(writes, "C→D"));
  t.equal(req?.header.data2, 0x6eee);
  const dc = stream(writes, "D→C");
  const reply = onlyReply(repliesOf([Cmd.INQUIRE], dc));
  if (reply.cmd !== Cmd.INQUIRE) throw new Error("not INQUIRE");
  t.match(reply.header, { length: 33, data: -81, data2: 2 });
  t.same([...reply.body.raw], [0x4c]);
  t.same(encodeReply(reply), dc);
  t.end();
});

t.test("12.15 LOOKUP_RINDEX: length 1264 but only 1200 bytes; daemon must not wait", (t) => {
  const writes = capture(captures, "12.15");
  const cd = stream(writes, "C→D");
  t.equal(cd.byteLength, 1200);
  const [req] = requestsOf(cd);
  if (req?.cmd !== Cmd.LOOKUP_RINDEX) throw new Error("not LOOKUP_RINDEX");
  t.equal(req.header.length, 1264);
  t.match(req.body.rindex, { lockspaceName: "LS3", disk: { path: "/var/tmp/wsrx", offset: 0n } });
  t.match(req.body.rentry, { name: "R1", offset: 0n });
  t.same(encodeRequest(req), cd);
  const dc = stream(writes, "D→C");
  const reply = onlyReply(repliesOf([Cmd.LOOKUP_RINDEX], dc));
  if (reply.cmd !== Cmd.LOOKUP_RINDEX) throw new Error("not LOOKUP_RINDEX");
  t.match(reply.header, { length: 96, data: 0 });
  t.match(reply.body.rentry, { name: "R1", offset: 0x200000n });
  t.same(encodeReply(reply), dc);
  t.end();
});
