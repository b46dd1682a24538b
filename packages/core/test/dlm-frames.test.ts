// The DLM socket's frames (docs/dlm-wire.md): golden bytes written by hand, every split point,
// and the errors that close a connection.
import tap from "tap";
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from "../src/dlm/index.js";

/** {"op":"hello","id":1} as a frame, built byte by byte (not by the encoder). */
const HELLO_TEXT = '{"op":"hello","id":1}';
const HELLO = new Uint8Array([HELLO_TEXT.length, 0, 0, 0, ...Array.from(HELLO_TEXT, (c) => c.charCodeAt(0))]);

tap.test("encodeFrame gives a u32 LE length and the JSON text", async (t) => {
  t.same(encodeFrame({ op: "hello", id: 1 }), HELLO);
});

tap.test("two frames decode whatever the chunk boundaries", async (t) => {
  const second = encodeFrame({ id: 2, status: 0, lkid: 7 });
  const stream = new Uint8Array([...HELLO, ...second]);
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b += 5) {
      const d = new FrameDecoder();
      const got = [...d.push(stream.subarray(0, a)), ...d.push(stream.subarray(a, b)), ...d.push(stream.subarray(b))];
      if (got.length !== 2 || got[0]?.op !== "hello" || got[1]?.lkid !== 7 || d.pending !== 0) {
        t.fail(`split at ${a}/${b}: ${JSON.stringify(got)}`);
        return;
      }
    }
  }
  t.pass("every split point of two frames");
});

tap.test("a zero or oversized length, bad UTF-8 and a non-object are FrameErrors", async (t) => {
  const cases: [string, number[]][] = [
    ["length 0", [0, 0, 0, 0]],
    ["length above 1 MiB", [1, 0, 0x10, 0]],
    ["bad UTF-8", [3, 0, 0, 0, 0x22, 0xff, 0x22]],
    ["a JSON array", [2, 0, 0, 0, 0x5b, 0x5d]],
    ["not JSON", [2, 0, 0, 0, 0x7b, 0x7b]],
  ];
  for (const [what, bytes] of cases) t.throws(() => new FrameDecoder().push(new Uint8Array(bytes)), { code: "ERR_DLM_FRAME" }, what);
  t.throws(() => encodeFrame({ pad: "x".repeat(MAX_FRAME_BYTES) }), { code: "ERR_DLM_FRAME" }, "the encoder refuses an oversized frame");
});

tap.test("an incomplete frame waits for the rest", async (t) => {
  const d = new FrameDecoder();
  t.same(d.push(HELLO.subarray(0, 6)), []);
  t.equal(d.pending, 6);
  t.same(d.push(HELLO.subarray(6)), [{ op: "hello", id: 1 }]);
});
