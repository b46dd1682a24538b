// docs/dlm.md §9 tests 1-10 on the engine: the 6×6 matrix, FIFO order, conversions first,
// in-place vs queued conversions, QUECVT, conversion deadlock, NODLCKWT, ALTPR/ALTCW and BASTs —
// several processes on one host, and the matrix, FIFO and deadlock again across two hosts.
import t from "tap";
import type { Test } from "tap";
import { DlmStatus, LKF, LKM, MODE_NAMES, compatible } from "../src/dlm/index.js";
import { Req, World } from "./dlm-harness.js";

const { NL, CR, CW, PR, PW, EX } = LKM;
const R = "r1";

t.test("1. the 36 cells of the matrix, one host and two hosts", async (tt) => {
  for (const twoHosts of [false, true]) {
    for (let held = NL; held <= EX; held++) {
      for (let req = NL; req <= EX; req++) {
        const w = new World();
        const a = w.addHost(1);
        const b = twoHosts ? w.addHost(2) : a;
        const ra = new Req(a, { pid: 1, mode: held, resource: R });
        await w.settle();
        if (twoHosts) {
          // host 2 opens the resource first (its own sector and geometry), so the refusal alone is counted
          const warm = new Req(b, { pid: 2, mode: NL, resource: R });
          await w.settle();
          await b.unlock({ lkid: warm.lkid });
          await w.settle();
        }
        const before = w.ioCount(2);
        const rb = new Req(b, { pid: 2, mode: req, resource: R, flags: LKF.NOQUEUE });
        await w.settle();
        const cell = `${MODE_NAMES[held]} held, ${MODE_NAMES[req]} requested${twoHosts ? " on another host" : ""}`;
        tt.equal(ra.status, 0, `${cell}: first lock granted`);
        tt.equal(rb.status, compatible(held, req) ? 0 : DlmStatus.EAGAIN, cell);
        if (twoHosts && !compatible(held, req)) {
          const after = w.ioCount(2);
          tt.same(
            { reads: after.reads - before.reads, writes: after.writes - before.writes },
            { reads: 1, writes: 0 },
            `${cell}: the refusal costs one read, no write`,
          );
        }
      }
    }
  }
});

// Across hosts C runs on a third host: a host whose published PR already covers a new PR request
// grants it without a read, so it may pass a remote waiter published since its last view (docs/dlm.md §5.6:
// stale knowledge delays remote waiters, never grants a conflict).
async function fifo(tt: Test, twoHosts: boolean): Promise<void> {
  const w = new World();
  const h1 = w.addHost(1);
  const h2 = twoHosts ? w.addHost(2) : h1;
  const h3 = twoHosts ? w.addHost(3) : h1;
  const a = new Req(h1, { pid: 1, mode: PR, resource: R });
  await w.settle();
  const b = new Req(h2, { pid: 2, mode: EX, resource: R });
  await w.settle();
  const c = new Req(h3, { pid: 3, mode: PR, resource: R });
  await w.settle();
  await w.pass(2);
  tt.equal(a.status, 0, "A PR granted");
  tt.equal(b.status, undefined, "B EX waits");
  tt.equal(c.status, undefined, "C PR waits behind B although compatible with A");
  await h1.unlock({ lkid: a.lkid });
  await w.settle();
  await w.pass(2);
  tt.equal(b.status, 0, "A unlocks: B granted");
  tt.equal(c.status, undefined, "C still waits");
  await h2.unlock({ lkid: b.lkid });
  await w.settle();
  await w.pass(2);
  tt.equal(c.status, 0, "B unlocks: C granted");
  void h3;
}

t.test("2. FIFO: a new compatible request waits behind a queued one", async (tt) => {
  await tt.test("one host", (t2) => fifo(t2, false));
  await tt.test("two hosts", (t2) => fifo(t2, true));
});

t.test("3. conversions before new requests; EXPEDITE", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const a = new Req(h, { pid: 1, mode: PR, resource: R });
  const b = new Req(h, { pid: 2, mode: PR, resource: R });
  await w.settle();
  const bx = new Req(h, { pid: 2, mode: EX, lkid: b.lkid, flags: LKF.CONVERT });
  await w.settle();
  const c = new Req(h, { pid: 3, mode: NL, resource: R });
  await w.settle();
  tt.equal(bx.status, undefined, "B PR→EX queued");
  tt.equal(c.status, undefined, "new NL waits behind the conversion");
  const d = new Req(h, { pid: 4, mode: NL, resource: R, flags: LKF.EXPEDITE });
  await w.settle();
  tt.equal(d.status, 0, "NL with EXPEDITE granted at once");
  tt.equal(a.status, 0);
});

t.test("4. in-place conversion bypasses the convert queue; QUECVT waits in it", async (tt) => {
  for (const quecvt of [false, true]) {
    const w = new World();
    const h = w.addHost(1);
    const d = new Req(h, { pid: 4, mode: PR, resource: R });
    const b = new Req(h, { pid: 2, mode: PR, resource: R });
    const a = new Req(h, { pid: 1, mode: NL, resource: R });
    await w.settle();
    const bx = new Req(h, { pid: 2, mode: EX, lkid: b.lkid, flags: LKF.CONVERT });
    await w.settle();
    tt.equal(bx.status, undefined, "B PR→EX blocked by D");
    const ac = new Req(h, { pid: 1, mode: CR, lkid: a.lkid, flags: LKF.CONVERT | (quecvt ? LKF.QUECVT : 0) });
    await w.settle();
    if (!quecvt) {
      tt.equal(ac.status, 0, "A NL→CR granted at once, ahead of B");
    } else {
      tt.equal(ac.status, undefined, "with QUECVT A NL→CR waits behind B");
      await h.unlock({ lkid: d.lkid });
      await w.settle();
      await w.pass(1);
      tt.equal(bx.status, 0, "D unlocks: B granted EX first");
      tt.equal(ac.status, undefined, "A still waits (CR vs EX)");
      await h.unlock({ lkid: b.lkid });
      await w.settle();
      await w.pass(1);
      tt.equal(ac.status, 0, "B unlocks: A granted CR after B");
    }
  }
});

t.test("5. QUECVT transitions outside the kernel's table are EINVAL", async (tt) => {
  const allowed: Record<number, number[]> = {
    [NL]: [CR, CW, PR, PW, EX],
    [CR]: [CW, PR, PW, EX],
    [CW]: [PR, PW, EX],
    [PR]: [CW, PW, EX],
    [PW]: [EX],
    [EX]: [],
  };
  for (let gr = NL; gr <= EX; gr++) {
    const w = new World();
    const h = w.addHost(1);
    const l = new Req(h, { pid: 1, mode: gr, resource: R });
    await w.settle();
    for (let rq = NL; rq <= EX; rq++) {
      const ok = (allowed[gr] as number[]).includes(rq);
      if (ok) continue;
      tt.throws(
        () => h.lock({ pid: 1, mode: rq, lkid: l.lkid, flags: LKF.CONVERT | LKF.QUECVT }),
        { code: "ERR_DLM_EINVAL" },
        `${MODE_NAMES[gr]}→${MODE_NAMES[rq]}`,
      );
    }
  }
  const w = new World();
  const h = w.addHost(1);
  tt.throws(() => h.lock({ pid: 1, mode: PR, resource: R, flags: LKF.QUECVT }), { code: "ERR_DLM_EINVAL" }, "QUECVT without CONVERT");
});

async function deadlock(tt: Test, twoHosts: boolean): Promise<void> {
  const w = new World();
  const h1 = w.addHost(1);
  const h2 = twoHosts ? w.addHost(2) : h1;
  const a = new Req(h1, { pid: 1, mode: PR, resource: R });
  const b = new Req(h2, { pid: 2, mode: PR, resource: R });
  await w.settle();
  await w.pass(1);
  const ax = new Req(h1, { pid: 1, mode: EX, lkid: a.lkid, flags: LKF.CONVERT });
  await w.settle();
  await w.pass(1);
  tt.equal(ax.status, undefined, "A PR→EX queued");
  const bx = new Req(h2, { pid: 2, mode: EX, lkid: b.lkid, flags: LKF.CONVERT });
  await w.settle();
  await w.pass(1);
  tt.equal(bx.status, DlmStatus.EDEADLK, "B PR→EX: EDEADLK");
  tt.equal(bx.result?.mode, PR, "B stays PR");
  const bd = new Req(h2, { pid: 2, mode: EX, lkid: b.lkid, flags: LKF.CONVERT | LKF.CONVDEADLK });
  await w.settle();
  await w.pass(2);
  tt.equal(ax.status, 0, "with CONVDEADLK B is demoted and A gets EX");
  tt.equal(bd.status, undefined, "B waits for EX");
  await h1.unlock({ lkid: a.lkid });
  await w.settle();
  await w.pass(2);
  tt.equal(bd.status, 0, "A unlocks: B granted EX");
  tt.equal(bd.result?.sb.demoted, true, "sb.demoted");
}

t.test("6. conversion deadlock: EDEADLK, CONVDEADLK", async (tt) => {
  await tt.test("one host", (t2) => deadlock(t2, false));
  await tt.test("two hosts", (t2) => deadlock(t2, true));
  await tt.test("QUECVT conversion ahead-of check", async (t2) => {
    const w = new World();
    const h = w.addHost(1);
    const a = new Req(h, { pid: 1, mode: CR, resource: R });
    const b = new Req(h, { pid: 2, mode: PR, resource: R });
    await w.settle();
    const bx = new Req(h, { pid: 2, mode: EX, lkid: b.lkid, flags: LKF.CONVERT });
    await w.settle();
    t2.equal(bx.status, undefined, "B PR→EX blocked by A's CR");
    const ap = new Req(h, { pid: 1, mode: PR, lkid: a.lkid, flags: LKF.CONVERT | LKF.QUECVT });
    await w.settle();
    t2.equal(ap.status, DlmStatus.EDEADLK, "A CR→PR with QUECVT: EDEADLK at once");
    t2.equal(ap.result?.mode, CR, "A keeps CR");
  });
});

t.test("7. NODLCKWT: the deadlocked conversion waits; cancel reverts it", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const a = new Req(h, { pid: 1, mode: PR, resource: R });
  const b = new Req(h, { pid: 2, mode: PR, resource: R });
  await w.settle();
  new Req(h, { pid: 1, mode: EX, lkid: a.lkid, flags: LKF.CONVERT });
  await w.settle();
  const bx = new Req(h, { pid: 2, mode: EX, lkid: b.lkid, flags: LKF.CONVERT | LKF.NODLCKWT });
  await w.settle();
  await w.pass(1);
  tt.equal(bx.status, undefined, "queued, no AST");
  const c = await h.unlock({ lkid: b.lkid, flags: LKF.CANCEL });
  await w.settle();
  tt.equal(c.status, DlmStatus.ECANCEL, "cancel → ECANCEL");
  tt.equal(bx.status, DlmStatus.ECANCEL, "the conversion completes ECANCEL");
  tt.equal(h.lockInfo().find((l) => l.lkid === b.lkid)?.gr, PR, "B still PR");
});

t.test("8. ALTPR and ALTCW", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  new Req(h, { pid: 1, mode: PR, resource: R });
  await w.settle();
  const b = new Req(h, { pid: 2, mode: CW, resource: R, flags: LKF.ALTPR });
  await w.settle();
  tt.equal(b.status, 0);
  tt.equal(b.result?.mode, PR, "granted PR");
  tt.equal(b.result?.sb.altMode, true, "altMode");
  const w2 = new World();
  const h2 = w2.addHost(1);
  new Req(h2, { pid: 1, mode: CW, resource: R });
  await w2.settle();
  const d = new Req(h2, { pid: 2, mode: PR, resource: R, flags: LKF.ALTCW });
  await w2.settle();
  tt.equal(d.result?.mode, CW, "granted CW");
  tt.equal(d.result?.sb.altMode, true, "altMode");
});

t.test("9-10. BASTs and their suppression", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const basts: number[] = [];
  const a = new Req(h, { pid: 1, mode: PR, resource: R, bast: (m) => basts.push(m) });
  await w.settle();
  new Req(h, { pid: 2, mode: EX, resource: R });
  await w.settle();
  tt.same(basts, [EX], "A PR gets BAST(EX) once");
  new Req(h, { pid: 3, mode: PW, resource: R });
  await w.settle();
  await w.pass(2);
  tt.same(basts, [EX], "a queued PW adds no second BAST");
  await h.unlock({ lkid: a.lkid });

  const w2 = new World();
  const h2 = w2.addHost(1);
  const b2: number[] = [];
  new Req(h2, { pid: 1, mode: PR, resource: R, bast: (m) => b2.push(m) });
  await w2.settle();
  new Req(h2, { pid: 2, mode: CW, resource: R });
  await w2.settle();
  tt.same(b2, [CW], "A PR, B CW → BAST(CW)");

  const w3 = new World();
  const h3 = w3.addHost(1);
  const b3: number[] = [];
  new Req(h3, { pid: 1, mode: EX, resource: R, bast: (m) => b3.push(m) });
  await w3.settle();
  const r1 = new Req(h3, { pid: 2, mode: EX, resource: R, flags: LKF.NOQUEUE });
  await w3.settle();
  tt.equal(r1.status, DlmStatus.EAGAIN);
  tt.same(b3, [], "NOQUEUE refusal: no BAST");
  const r2 = new Req(h3, { pid: 2, mode: EX, resource: R, flags: LKF.NOQUEUE | LKF.NOQUEUEBAST });
  await w3.settle();
  tt.equal(r2.status, DlmStatus.EAGAIN);
  tt.same(b3, [EX], "NOQUEUEBAST: the holder gets BAST(EX)");

  const w4 = new World();
  const h4 = w4.addHost(1);
  const b4: number[] = [];
  const c = new Req(h4, { pid: 1, mode: EX, resource: R, bast: (m) => b4.push(m) });
  await w4.settle();
  new Req(h4, { pid: 1, mode: CR, lkid: c.lkid, flags: LKF.CONVERT });
  await w4.settle();
  new Req(h4, { pid: 2, mode: PR, resource: R });
  await w4.settle();
  tt.same(b4, [], "10. a PR waiter is compatible with the CR just granted: no BAST");
});
