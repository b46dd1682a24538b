// Struct codecs: every structure round-trips with non-trivial values at the
// spec's sizes and offsets (docs/wire.md §4), encoders refuse values that do not fit, and
// the constant/result tables carry the spec's numbers.
import t from "tap";
import {
  Cmd,
  DISK_SIZE,
  HOST_SIZE,
  KILLPATH_SIZE,
  LOCKSPACE_SIZE,
  OPTIONS_SIZE,
  RENTRY_SIZE,
  RESOURCE_SIZE,
  RINDEX_SIZE,
  EVENT_RECORD_SIZE,
  StateType,
  WireError,
  WireErrorCode,
  buildReply,
  buildRequest,
  cmdClass,
  cmdName,
  decodeDisk,
  decodeEventRecord,
  decodeHeader,
  decodeHost,
  decodeHostEvent,
  decodeKillpath,
  decodeLockspace,
  decodeOptions,
  decodeRentry,
  decodeReply,
  decodeRequest,
  decodeResource,
  decodeRindex,
  decodeStateRecord,
  disk,
  encodeDisk,
  encodeEventRecord,
  encodeHeader,
  encodeHost,
  encodeHostEvent,
  encodeKillpath,
  encodeLockspace,
  encodeOptions,
  encodeRentry,
  encodeResource,
  encodeRindex,
  encodeStateRecord,
  errnoResult,
  joinKillpathArgs,
  lockspace,
  requestHeader,
  resource,
  resultMessage,
  resultName,
  type StateRecord,
} from "../src/wire/index.js";

const BIG = 0xfedcba9876543210n; // exercises all 64 bits

t.test("sanlk_disk: 1040 bytes, offset at 1024, pads at 1032/1036", (t) => {
  const d = { path: "/dev/mapper/vg-lv:with:colons", offset: BIG, pad1: 0x200, pad2: 0xffffffff };
  const bytes = encodeDisk(d);
  t.equal(bytes.byteLength, DISK_SIZE);
  const view = new DataView(bytes.buffer);
  t.equal(view.getBigUint64(1024, true), BIG);
  t.equal(view.getUint32(1032, true), 0x200);
  t.same(decodeDisk(bytes), d);
  t.end();
});

t.test("sanlk_resource: with and without disks", (t) => {
  const res = resource("lockspace-name-of-exactly-48-bytes-0123456789abc", "R", [disk("/a", 1n), disk("/b", 2n)], {
    lver: BIG,
    data64: 7n,
    data32: 9,
    flags: 0x3ff,
  });
  t.equal(res.lockspaceName.length, 48);
  const withDisks = encodeResource(res, true);
  t.equal(withDisks.byteLength, RESOURCE_SIZE + 2 * DISK_SIZE);
  t.same(decodeResource(withDisks, true), res);
  const alone = encodeResource(res, false);
  t.equal(alone.byteLength, RESOURCE_SIZE);
  t.same(decodeResource(alone, false), { ...res, disks: [] });
  t.equal(new DataView(alone.buffer).getUint32(124, true), 2, "num_disks kept without disks");
  t.end();
});

t.test("sanlk_options, sanlk_lockspace, sanlk_host, sanlk_host_event, sanlk_rindex, sanlk_rentry, killpath", (t) => {
  const options = { ownerName: "owner", flags: 1, len: 2 };
  t.equal(encodeOptions(options).byteLength, OPTIONS_SIZE);
  t.same(decodeOptions(encodeOptions(options)), options);

  const ls = lockspace("LS", { hostId: 2000n, flags: 0x110, path: "/var/tmp/ls", offset: 1048576n });
  const lsBytes = encodeLockspace(ls);
  t.equal(lsBytes.byteLength, LOCKSPACE_SIZE);
  t.same(decodeLockspace(lsBytes), ls);
  const stale = lsBytes.slice();
  stale.set([0x74, 0x6f, 0x72, 0x79], 60); // GET_LOCKSPACES leaves stale padding (docs/wire.md §13.5)
  t.same(decodeLockspace(stale), ls, "padding bytes 60..63 ignored on receipt");

  const host = { hostId: 5n, generation: BIG, timestamp: 1287n, ioTimeout: 10, flags: 3 };
  t.equal(encodeHost(host).byteLength, HOST_SIZE);
  t.same(decodeHost(encodeHost(host)), host);

  const he = { hostId: 1n, generation: 2n, event: BIG, data: 0x1234n };
  t.same(decodeHostEvent(encodeHostEvent(he)), he);

  const rindex = { flags: 0x120, maxResources: 4096, unused: 0n, lockspaceName: "LS3", disk: disk("/var/tmp/rx", 0n) };
  t.equal(encodeRindex(rindex).byteLength, RINDEX_SIZE);
  t.same(decodeRindex(encodeRindex(rindex)), rindex);

  const rentry = { name: "R1", offset: 0x200000n, flags: 0, unused: 0 };
  t.equal(encodeRentry(rentry).byteLength, RENTRY_SIZE);
  t.same(decodeRentry(encodeRentry(rentry)), rentry);

  const kp = { path: "/usr/bin/kill-helper", args: joinKillpathArgs(["a b", "c\\d"]) };
  t.equal(kp.args, "a\\ b c\\\\d", "Python's escaping (§7.16)");
  t.equal(encodeKillpath(kp).byteLength, KILLPATH_SIZE);
  t.same(decodeKillpath(encodeKillpath(kp)), kp);
  t.end();
});

t.test("sanlk_state records: 80-byte fixed part, text with NUL, trailing structs", (t) => {
  const records: StateRecord[] = [
    { type: StateType.CLIENT, flags: 0, data32: -1, data64: 0n, name: "listener", str: "ci=1 fd=7" },
    { type: StateType.LOCKSPACE, flags: 0, data32: 0, data64: 1n, name: "LS", str: "list=spaces", lockspace: lockspace("LS", { hostId: 1n, path: "/p" }) },
    { type: StateType.RESOURCE, flags: 0, data32: 42, data64: 3n, name: "R", str: "list=held", resource: resource("LS", "R", [disk("/p", 0n)]) },
    { type: StateType.RENEWAL, flags: 0, data32: 0, data64: 99n, name: "", str: "" },
  ];
  for (const record of records) {
    const bytes = encodeStateRecord(record);
    const view = new DataView(bytes.buffer);
    t.equal(view.getUint32(72, true), new TextEncoder().encode(record.str).byteLength + 1, "str_len includes NUL");
    t.equal(bytes[80 + record.str.length], 0, "text NUL-terminated at 80 + len");
    t.same(decodeStateRecord(bytes), record);
  }
  t.end();
});

t.test("event callback record: 80 bytes", (t) => {
  const header = { ...requestHeader(1, 48), version: 1 };
  const ev = { header, he: { hostId: 1n, generation: 1n, event: 7n, data: 0x1234n }, fromHostId: 2n, fromGeneration: 1n };
  t.equal(header.length, EVENT_RECORD_SIZE);
  t.same(decodeEventRecord(encodeEventRecord(ev)), ev);
  t.end();
});

t.test("header: data/data2 are i32 (−1 pid, negative results)", (t) => {
  const h = requestHeader(Cmd.ACQUIRE, 0, { data: 1, data2: -1 });
  const bytes = encodeHeader(h);
  t.same([...bytes.subarray(28, 32)], [0xff, 0xff, 0xff, 0xff]);
  t.same(decodeHeader(bytes), h);
  t.end();
});

t.test("every command's request and reply round-trips through build/decode", (t) => {
  const ls = lockspace("LS", { hostId: 1n, path: "/p" });
  const res = resource("LS", "R", [disk("/p", 512n)]);
  const resOnly = resource("LS", "R", [], { numDisks: 1 });
  const rindex = { flags: 0, maxResources: 0, unused: 0n, lockspaceName: "LS", disk: disk("/x") };
  const rentry = { name: "R", offset: 0n, flags: 0, unused: 0 };
  const he = { hostId: 1n, generation: 0n, event: 1n, data: 0n };
  const bodies: Record<number, unknown> = {
    2: { lockspace: ls },
    3: { lockspace: ls },
    7: { resources: [res, res], options: { ownerName: "", flags: 0, len: 0 } },
    8: { resources: [resOnly] },
    11: { resource: res },
    12: { disk: disk("/p") },
    13: { lockspace: ls },
    14: { resource: resOnly },
    15: { lockspace: ls },
    16: { lockspace: ls },
    17: { killpath: { path: "/k", args: "x" } },
    18: { lockspace: ls },
    19: { resource: res },
    20: { lockspace: ls },
    21: { resource: res },
    23: { lockspace: ls },
    24: { resource: res },
    25: { resource: resOnly, lvb: new Uint8Array([1, 2, 3]) },
    26: { resource: resOnly },
    27: { resource: resOnly },
    30: { lockspace: ls, event: he },
    31: { lockspace: ls },
    32: { lockspace: ls, event: he },
    33: { lockspace: ls },
    34: { lockspace: ls },
    35: { rindex },
    36: { rindex, rentry },
    37: { rindex, rentry },
    38: { rindex, rentry },
    39: { rindex, rentry },
    40: { rindex },
  };
  for (let cmd = 1; cmd <= 40; cmd++) {
    const body = (bodies[cmd] ?? {}) as never;
    const { header, bytes } = buildRequest(cmd as 1, body);
    const decoded = decodeRequest(header, bytes.subarray(32));
    t.same(decoded.body, body, `${cmdName(cmd)} request`);
    t.equal(header.length, bytes.byteLength, `${cmdName(cmd)} length = bytes sent`);
  }
  const replies: [number, unknown][] = [
    [Cmd.INQUIRE, { state: "LS:R:/p:0:1", raw: new TextEncoder().encode("LS:R:/p:0:1\0") }],
    [Cmd.READ_LOCKSPACE, { lockspace: ls }],
    [Cmd.READ_RESOURCE, { resource: resOnly }],
    [Cmd.GET_LOCKSPACES, { lockspaces: [ls, ls] }],
    [Cmd.GET_HOSTS, { hosts: [{ hostId: 1n, generation: 1n, timestamp: 5n, ioTimeout: 10, flags: 3 }] }],
    [Cmd.READ_RESOURCE_OWNERS, { resource: resOnly, hosts: [{ hostId: 2n, generation: 3n, timestamp: 0n, ioTimeout: 0, flags: 0 }] }],
    [Cmd.GET_LVB, { lvb: new Uint8Array(512).fill(7) }],
    [Cmd.CREATE_RESOURCE, { rentry }],
    [Cmd.ADD_LOCKSPACE, {}],
  ];
  for (const [cmd, body] of replies) {
    const req = requestHeader(cmd, 0);
    const { header, bytes } = buildReply(req, cmd as 2, 0, body as never, { data2: 2 });
    t.equal(header.length, bytes.byteLength, `${cmdName(cmd)} reply length`);
    t.same(decodeReply(cmd as 2, header, bytes.subarray(32)).body, body, `${cmdName(cmd)} reply`);
  }
  t.end();
});

t.test("encoders refuse what the wire cannot carry", (t) => {
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (err) {
      return err instanceof WireError ? err.code : "not a WireError";
    }
    return undefined;
  };
  t.equal(
    code(() => encodeLockspace(lockspace("x".repeat(49)))),
    WireErrorCode.BAD_VALUE,
    "49-byte name",
  );
  t.equal(
    code(() => encodeLockspace(lockspace("x".repeat(48)))),
    undefined,
    "48-byte name fills the field",
  );
  t.equal(
    code(() => encodeDisk(disk("p".repeat(1024)))),
    WireErrorCode.BAD_VALUE,
    "path needs room for NUL",
  );
  t.equal(
    code(() => encodeDisk(disk("a\0b"))),
    WireErrorCode.BAD_VALUE,
    "embedded NUL",
  );
  t.equal(
    code(() => encodeDisk(disk("/p", -1n))),
    WireErrorCode.BAD_VALUE,
    "negative u64",
  );
  t.equal(
    code(() => encodeResource(resource("L", "R", []), true)),
    WireErrorCode.BAD_COUNT,
    "no disks",
  );
  t.equal(
    code(() => encodeResource(resource("L", "R", [], { numDisks: 2 }), true)),
    WireErrorCode.BAD_VALUE,
    "count mismatch",
  );
  const r = resource("L", "R", [disk("/p")]);
  t.equal(
    code(() => buildRequest(Cmd.ACQUIRE, { resources: Array<typeof r>(9).fill(r), options: { ownerName: "", flags: 0, len: 0 } })),
    WireErrorCode.BAD_COUNT,
    "9 resources",
  );
  t.equal(
    code(() => encodeKillpath({ path: "k".repeat(128), args: "" })),
    WireErrorCode.BAD_VALUE,
    "killpath 128",
  );
  t.equal(
    code(() => decodeLockspace(new Uint8Array(100))),
    WireErrorCode.TRUNCATED,
    "short struct",
  );
  t.end();
});

t.test("constants and result tables match the spec", (t) => {
  t.equal(Cmd.ACQUIRE, 7);
  t.equal(Cmd.REBUILD_RINDEX, 40);
  t.equal(cmdName(22), "GET_LOCKSPACES");
  t.equal(cmdName(41), "CMD41");
  t.same(
    [4, 5, 6, 15, 22, 23, 30, 31, 33, 34].map((c) => cmdClass(c as 4)),
    Array(10).fill("A"),
  );
  t.same(
    [1, 10, 28].map((c) => cmdClass(c as 1)),
    ["B", "B", "B"],
  );
  t.same(
    [7, 8, 9, 17, 27].map((c) => cmdClass(c as 7)),
    Array(5).fill("D"),
  );
  t.equal(cmdClass(Cmd.LOOKUP_RINDEX), "C");
  t.equal(errnoResult("EAGAIN"), -11);
  t.equal(errnoResult("ENOTCONN"), -107);
  t.equal(errnoResult("EUCLEAN"), -117);
  t.equal(resultName(-11), "-EAGAIN");
  t.equal(resultName(-243), "SANLK_ACQUIRE_IDLIVE");
  t.equal(resultMessage(-243), "Lease is held by another host");
  t.equal(resultName(-223), "SANLK_LEADER_MAGIC");
  t.equal(resultMessage(-223), "Lease does not exist on storage");
  t.equal(resultMessage(-230), "Unknown error");
  t.equal(resultName(-999), "RESULT-999");
  t.equal(resultName(0), "OK");
  t.end();
});
