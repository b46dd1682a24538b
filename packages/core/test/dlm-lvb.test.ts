// docs/dlm.md §9 tests 11-13 on the engine: the LVB operation of every transition (§1.4),
// IVVALBLK and VALNOTVALID, and what a process exit does to the value block; plus the LVB across
// two hosts and after a holder's death (§3.6).
import t from "tap";
import { DlmStatus, LKF, LKM, MODE_NAMES, decodeSlot, lvbOperation } from "../src/dlm/index.js";
import { Req, World, dec, enc } from "./dlm-harness.js";

const { NL, PR, PW, EX } = LKM;
const R = "r1";

/** A world whose resource value is "base" (written by an EX→NL conversion, then unlocked). */
async function withBase(): Promise<{ w: World; h: ReturnType<World["addHost"]>; baseSeq: bigint }> {
  const w = new World();
  const h = w.addHost(1);
  const writer = new Req(h, { pid: 9, mode: EX, resource: R, flags: LKF.VALBLK, lvb: enc("base") });
  await w.settle();
  const down = new Req(h, { pid: 9, mode: NL, lkid: writer.lkid, flags: LKF.CONVERT | LKF.VALBLK, lvb: enc("base") });
  await w.settle();
  await h.unlock({ lkid: writer.lkid });
  await w.settle();
  return { w, h, baseSeq: down.result?.lvbSeq ?? -1n };
}

async function read(w: World, h: ReturnType<World["addHost"]>): Promise<{ value: string; seq: bigint; valNotValid: boolean }> {
  const r = new Req(h, { pid: 8, mode: NL, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  await h.unlock({ lkid: r.lkid });
  await w.settle();
  return { value: dec(r.result?.lvb), seq: r.result?.lvbSeq ?? -1n, valNotValid: r.result?.sb.valNotValid ?? false };
}

t.test("11. every cell of the LVB table", async (tt) => {
  for (let gr = NL; gr <= EX; gr++) {
    for (let rq = NL; rq <= EX; rq++) {
      const { w, h, baseSeq } = await withBase();
      const l = new Req(h, { pid: 1, mode: gr, resource: R, flags: LKF.VALBLK, lvb: enc("mine") });
      await w.settle();
      tt.equal(dec(l.result?.lvb), "base", `new → ${MODE_NAMES[gr]}: R`);
      const c = new Req(h, { pid: 1, mode: rq, lkid: l.lkid, flags: LKF.CONVERT | LKF.VALBLK, lvb: enc("new") });
      await w.settle();
      tt.equal(c.status, 0, `${MODE_NAMES[gr]}→${MODE_NAMES[rq]} granted`);
      const op = lvbOperation(gr, rq);
      await h.unlock({ lkid: l.lkid });
      await w.settle();
      const after = await read(w, h);
      const cell = `${MODE_NAMES[gr]}→${MODE_NAMES[rq]} (${op})`;
      if (op === "read") {
        tt.equal(dec(c.result?.lvb), "base", `${cell}: the caller gets the resource value`);
        tt.equal(c.result?.lvbSeq, baseSeq, `${cell}: and its sequence`);
        tt.equal(after.value, "base", `${cell}: the resource keeps its value`);
      } else if (op === "write") {
        tt.equal(after.value, "new", `${cell}: the next reader gets the written value`);
        tt.ok(after.seq > baseSeq, `${cell}: with a larger sequence`);
      } else {
        tt.equal(dec(c.result?.lvb), "new", `${cell}: the caller's block is left alone`);
        tt.equal(after.value, "base", `${cell}: the resource keeps its value`);
        tt.equal(after.seq, baseSeq, `${cell}: and its sequence`);
      }
    }
  }
  for (const gr of [NL, LKM.CR, LKM.CW, PR, PW, EX]) {
    const { w, h } = await withBase();
    const l = new Req(h, { pid: 1, mode: gr, resource: R, flags: LKF.VALBLK, lvb: enc("x") });
    await w.settle();
    await h.unlock({ lkid: l.lkid, flags: LKF.VALBLK, lvb: enc("bye") });
    await w.settle();
    tt.equal((await read(w, h)).value, gr >= PW ? "bye" : "base", `unlock from ${MODE_NAMES[gr]} ${gr >= PW ? "writes" : "does not write"}`);
  }
});

t.test("12. IVVALBLK marks the value invalid until the next write", async (tt) => {
  const { w, h } = await withBase();
  const l = new Req(h, { pid: 1, mode: EX, resource: R, flags: LKF.VALBLK, lvb: enc("x") });
  await w.settle();
  await h.unlock({ lkid: l.lkid, flags: LKF.IVVALBLK });
  await w.settle();
  const r1 = await read(w, h);
  tt.equal(r1.valNotValid, true, "next grant reports valNotValid");
  tt.equal(r1.value, "base", "the stale contents are kept");
  const p = new Req(h, { pid: 2, mode: PW, resource: R, flags: LKF.VALBLK, lvb: enc("fresh") });
  await w.settle();
  tt.equal(p.result?.sb.valNotValid, true, "a PW grant still sees it invalid");
  await h.unlock({ lkid: p.lkid, flags: LKF.VALBLK, lvb: enc("fresh") });
  await w.settle();
  const r2 = await read(w, h);
  tt.same([r2.value, r2.valNotValid], ["fresh", false], "a PW write clears it");
});

t.test("13. process exit: EX+VALBLK invalidates; PERSISTENT becomes an orphan", async (tt) => {
  const { w, h } = await withBase();
  new Req(h, { pid: 1, mode: EX, resource: R, flags: LKF.VALBLK, lvb: enc("x") });
  await w.settle();
  h.processExit(1);
  await w.settle();
  tt.equal((await read(w, h)).valNotValid, true, "non-persistent EX+VALBLK: unlocked, next reader valNotValid");

  const o = new Req(h, { pid: 2, mode: PR, resource: R, flags: LKF.PERSISTENT });
  new Req(h, { pid: 3, mode: PR, resource: R });
  await w.settle();
  const conv = new Req(h, { pid: 2, mode: EX, lkid: o.lkid, flags: LKF.CONVERT | LKF.PERSISTENT });
  await w.settle();
  tt.equal(conv.status, undefined, "the conversion waits (blocked by pid 3)");
  h.processExit(2);
  await w.settle();
  tt.equal(conv.status, DlmStatus.ECANCEL, "its pending conversion is cancelled");
  const info = h.lockInfo().find((l) => l.lkid === o.lkid);
  tt.same([info?.orphan, info?.gr], [true, PR], "the lock stays, orphaned, at PR");
  const ex = new Req(h, { pid: 4, mode: EX, resource: R, flags: LKF.NOQUEUE });
  await w.settle();
  tt.equal(ex.status, DlmStatus.EAGAIN, "the orphan still blocks EX");
});

t.test("LVB across hosts and after a writer's death (docs/dlm.md §3.6)", async (tt) => {
  const w = new World();
  const h1 = w.addHost(1);
  const h2 = w.addHost(2);
  const a = new Req(h1, { pid: 1, mode: EX, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  const before = a.result?.lvbSeq ?? 0n;
  new Req(h1, { pid: 1, mode: NL, lkid: a.lkid, flags: LKF.CONVERT | LKF.VALBLK, lvb: enc("v1") });
  await w.settle();
  const b = new Req(h2, { pid: 2, mode: PR, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  await w.pass(1);
  tt.equal(dec(b.result?.lvb), "v1", "host 2 reads host 1's value");
  tt.ok((b.result?.lvbSeq ?? 0n) > before, "with a larger sequence");
  await h2.unlock({ lkid: b.lkid });
  await w.settle();
  // host 1 takes EX with VALBLK and dies holding it
  new Req(h1, { pid: 1, mode: EX, lkid: a.lkid, flags: LKF.CONVERT | LKF.VALBLK, lvb: enc("v2") });
  await w.settle();
  await w.pass(1);
  const events: string[] = [];
  const h3 = w.addHost(3, {
    recovery: { prep: () => events.push("prep"), slot: (s) => events.push(`slot ${s.nodeId}`), done: (d) => events.push(`done g${d.generation}`) },
  });
  w.kill(1);
  const diedAt = w.clock.now();
  const c = new Req(h3, { pid: 3, mode: EX, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  let grantedAt: number | undefined;
  for (let s = 0; s < 200 && grantedAt === undefined; s++) {
    await w.pass(1);
    if (c.status === 0) grantedAt = w.clock.now();
  }
  tt.ok(
    grantedAt !== undefined && grantedAt - diedAt > 8 * 10 + 60,
    `granted only after 8N+60 s (${grantedAt === undefined ? "never" : (grantedAt - diedAt).toFixed(0)} s)`,
  );
  tt.equal(c.result?.sb.valNotValid, true, "the dead EX+VALBLK holder leaves the value invalid");
  tt.same(events, ["prep", "slot 1", "done g2"], "recovery callbacks in order, generation + 1");
});

t.test("a new generation's first ballot carries the handed-over LVB, not a zero slot (soak seed 1684)", async (tt) => {
  const w = new World();
  const old = w.addHost(1);
  const a = new Req(old, { pid: 1, mode: EX, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  new Req(old, { pid: 1, mode: NL, lkid: a.lkid, flags: LKF.CONVERT | LKF.VALBLK, lvb: enc("kept") });
  await w.settle();
  w.kill(1);
  const sectorAt = 1048576 + 2 * 512; // r1, host 1's dblock sector
  const firstWrite: Uint8Array[] = [];
  const inner = w.device.write.bind(w.device);
  w.device.write = async (offset: number, data: Uint8Array) => {
    if (offset === sectorAt && firstWrite.length === 0) firstWrite.push(data.slice());
    return inner(offset, data);
  };
  const again = w.addHost(1);
  new Req(again, { pid: 2, mode: PR, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  const slot = decodeSlot(firstWrite[0] as Uint8Array, 256);
  tt.equal(dec(slot?.lvb), "kept", "the ballot's slot keeps the earlier generation's value");
  tt.equal(slot?.generation, 2n, "written as generation 2");
});
