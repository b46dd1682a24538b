// `client status` text from the STATUS stream recorded from sanlock 3.8.5
// (docs/wire.md §12.10 bytes) must equal what the real CLI printed for it (docs/wire.md §11.1).
import t from "tap";
import { Cmd, MessageReader, type StateRecord } from "@sanlock-ts/client";
import { capture, loadCaptures, stream } from "../../../test/support/wire-captures.js";
import { recordJson, recordLines, sortRecords } from "../src/commands/client/status-format.js";

function recordedStatus(): StateRecord[] {
  const bytes = stream(capture(loadCaptures(), "12.10"), "D→C");
  const reader = new MessageReader({ side: "client" });
  reader.expectReply(Cmd.STATUS);
  const events = [...reader.push(bytes), ...reader.end()];
  return events.flatMap((e) => (e.type === "record" ? [e.record] : []));
}

const RECORDED_OUTPUT = [
  "daemon c6c4dd97-58ce-460c-9640-21c15f2b8ebd.vm",
  "p -1 helper",
  "p -1 listener",
  "p 29972 ",
  "p -1 status",
  "s LS:1:/var/tmp/ls.lease:0",
  "r LS:RES2:/var/tmp/res.lease:1048576:SH p 29972",
  "r LS:RES:/var/tmp/res.lease:0:1 p 29972",
];

t.test("status lines equal sanlock's output for the recorded stream", async (t) => {
  const records = recordedStatus();
  t.same(
    records.flatMap((r) => recordLines(r, false)),
    RECORDED_OUTPUT,
  );
});

t.test("-D adds each state token indented by four spaces", async (t) => {
  const records = recordedStatus();
  const lines = records.flatMap((r) => recordLines(r, true));
  const at = lines.indexOf("r LS:RES:/var/tmp/res.lease:0:1 p 29972");
  t.same(lines.slice(at, at + 9), [
    "r LS:RES:/var/tmp/res.lease:0:1 p 29972",
    "    list=held",
    "    flags=0",
    "    sector_size=512",
    "    align_size=1048576",
    "    lver=1",
    "    reused=0",
    "    res_id=2",
    "    token_id=1",
  ]);
});

t.test("-o p groups resources under their client; -o s under their lockspace (§11.1)", async (t) => {
  const records = recordedStatus();
  const text = (sort: "p" | "s"): string[] => sortRecords(records, sort).flatMap((r) => (r === "-" ? ["-"] : recordLines(r, false)));
  t.same(text("p"), [
    "daemon c6c4dd97-58ce-460c-9640-21c15f2b8ebd.vm",
    "p -1 helper",
    "p -1 listener",
    "p -1 status",
    "s LS:1:/var/tmp/ls.lease:0",
    "p 29972 ",
    "r LS:RES2:/var/tmp/res.lease:1048576:SH p 29972",
    "r LS:RES:/var/tmp/res.lease:0:1 p 29972",
  ]);
  t.same(text("s"), [
    "daemon c6c4dd97-58ce-460c-9640-21c15f2b8ebd.vm",
    "p -1 helper",
    "p -1 listener",
    "p -1 status",
    "p 29972 ",
    "s LS:1:/var/tmp/ls.lease:0",
    "r LS:RES2:/var/tmp/res.lease:1048576:SH p 29972",
    "r LS:RES:/var/tmp/res.lease:0:1 p 29972",
  ]);
});

t.test("the JSON form carries the same facts", async (t) => {
  const json = recordedStatus().map(recordJson);
  const res = json.find((r) => r.type === "resource" && r.name === "RES2");
  t.match(res, { lockspace: "LS", pid: 29972, shared: true, disks: [{ path: "/var/tmp/res.lease", offset: 1048576n }] });
  t.match(
    json.find((r) => r.type === "lockspace"),
    { name: "LS", hostId: 1n, path: "/var/tmp/ls.lease" },
  );
});
