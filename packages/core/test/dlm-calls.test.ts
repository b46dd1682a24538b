// docs/dlm.md §9 tests 14-18 and the I/O of §6 on the engine: orphans and purge, cancel, unlock
// errors, TIMEOUT, argument checks, and the I/O a grant costs — a round under the mutex, or none
// when the host's published mode covers it — counted by the engine's I/O hook.
import t from "tap";
import { DlmStatus, LKF, LKM } from "../src/dlm/index.js";
import { Req, World, enc } from "./dlm-harness.js";

const { NL, CR, CW, PR, EX } = LKM;
const R = "r1";

t.test("14. orphans: adopt, purge", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const a = new Req(h, { pid: 1, mode: PR, resource: R, flags: LKF.PERSISTENT });
  const b = new Req(h, { pid: 2, mode: CR, resource: R, flags: LKF.PERSISTENT });
  await w.settle();
  h.processExit(1);
  h.processExit(2);
  await w.settle();
  tt.throws(
    () => h.lock({ pid: 5, mode: EX, resource: R, flags: LKF.PERSISTENT | LKF.ORPHAN }),
    { code: "ERR_DLM_EAGAIN" },
    "orphans of other modes only: EAGAIN",
  );
  tt.throws(() => h.lock({ pid: 5, mode: PR, resource: "r2", flags: LKF.PERSISTENT | LKF.ORPHAN }), { code: "ERR_DLM_ENOENT" }, "no orphan: ENOENT");
  const adopted = h.lock({ pid: 5, mode: PR, resource: R, flags: LKF.PERSISTENT | LKF.ORPHAN });
  tt.equal(adopted.lkid, a.lkid, "adopt of the same name and mode: the same lock id");
  tt.equal((await adopted.done).status, 0);
  tt.throws(() => h.purgeOrphans(2, 0), { code: "ERR_DLM_EOPNOTSUPP" }, "another node's orphans: EOPNOTSUPP");
  const c = new Req(h, { pid: 3, mode: CR, resource: R, flags: LKF.PERSISTENT });
  await w.settle();
  h.processExit(3);
  tt.equal(h.purgeOrphans(1, 2), 1, "purge of pid 2 unlocks only its orphan");
  tt.same(
    h
      .lockInfo()
      .filter((l) => l.orphan)
      .map((l) => l.lkid),
    [c.lkid],
    "pid 3's orphan remains",
  );
  tt.equal(h.purgeOrphans(1, 0), 1, "pid 0 purges all");
  tt.equal(h.lockInfo().filter((l) => l.orphan).length, 0);
  void b;
});

t.test("15. cancel", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const a = new Req(h, { pid: 1, mode: EX, resource: R });
  await w.settle();
  const waiting = new Req(h, { pid: 2, mode: PR, resource: R });
  await w.settle();
  const c1 = await h.unlock({ lkid: waiting.lkid, flags: LKF.CANCEL });
  tt.equal(c1.status, DlmStatus.ECANCEL, "cancel of a waiting request");
  tt.equal(waiting.status, DlmStatus.ECANCEL, "lock() completes ECANCEL");
  tt.throws(() => h.unlock({ lkid: waiting.lkid }), { code: "ERR_DLM_ENOENT" }, "the request is gone");
  const b = new Req(h, { pid: 3, mode: NL, resource: R });
  await w.settle();
  const conv = new Req(h, { pid: 3, mode: PR, lkid: b.lkid, flags: LKF.CONVERT });
  await w.settle();
  tt.equal(conv.status, undefined, "NL→PR waits for EX");
  tt.equal((await h.unlock({ lkid: b.lkid, flags: LKF.CANCEL })).status, DlmStatus.ECANCEL);
  tt.same([conv.status, conv.result?.mode], [DlmStatus.ECANCEL, NL], "a cancelled conversion reverts to NL");
  tt.equal((await h.unlock({ lkid: a.lkid, flags: LKF.CANCEL })).status, 0, "cancel of a granted lock is a no-op");
  const conv2 = new Req(h, { pid: 3, mode: PR, lkid: b.lkid, flags: LKF.CONVERT });
  await w.settle();
  tt.equal(h.cancel(b.lkid, { deadlock: true }).status, DlmStatus.EDEADLK, "deadlock cancel");
  await w.settle();
  tt.equal(conv2.status, DlmStatus.EDEADLK, "the conversion completes EDEADLK");
});

t.test("16. unlock errors", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const a = new Req(h, { pid: 1, mode: EX, resource: R });
  await w.settle();
  const b = new Req(h, { pid: 2, mode: EX, resource: R });
  await w.settle();
  tt.throws(() => h.unlock({ lkid: b.lkid }), { code: "ERR_DLM_EBUSY" }, "waiting: EBUSY");
  tt.throws(() => h.unlock({ lkid: b.lkid, flags: LKF.CANCEL | LKF.FORCEUNLOCK }), { code: "ERR_DLM_EINVAL" }, "CANCEL|FORCEUNLOCK");
  tt.throws(() => h.unlock({ lkid: a.lkid, flags: LKF.NOQUEUE }), { code: "ERR_DLM_EINVAL" }, "a flag unlock does not take");
  tt.throws(() => h.unlock({ lkid: 999 }), { code: "ERR_DLM_ENOENT" }, "unknown lock id");
  const forced = await h.unlock({ lkid: b.lkid, flags: LKF.FORCEUNLOCK });
  tt.equal(forced.status, DlmStatus.EUNLOCK, "FORCEUNLOCK unlocks a waiting request");
  tt.equal(b.status, DlmStatus.EUNLOCK);
  const first = h.unlock({ lkid: a.lkid });
  tt.throws(() => h.unlock({ lkid: a.lkid }), { code: "ERR_DLM_EBUSY" }, "second unlock while the first is written: EBUSY (the kernel's answer)");
  tt.equal((await first).status, DlmStatus.EUNLOCK);
  await w.settle();
  tt.throws(() => h.unlock({ lkid: a.lkid }), { code: "ERR_DLM_ENOENT" }, "after it: ENOENT");
});

t.test("17. TIMEOUT", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const a = new Req(h, { pid: 1, mode: EX, resource: R });
  const n = new Req(h, { pid: 2, mode: NL, resource: R });
  await w.settle();
  const start = w.clock.now();
  const r = new Req(h, { pid: 3, mode: PR, resource: R, flags: LKF.TIMEOUT, timeoutMs: 500 });
  const conv = new Req(h, { pid: 2, mode: PR, lkid: n.lkid, flags: LKF.CONVERT | LKF.TIMEOUT, timeoutMs: 500 });
  await w.settle();
  for (let i = 0; i < 5 && r.status === undefined; i++) {
    w.clock.advance(0.25);
    h.tick();
    await w.settle();
  }
  tt.equal(r.status, DlmStatus.ETIMEDOUT, "the blocked request times out");
  tt.ok(w.clock.now() - start >= 0.5, "not before 0.5 s");
  tt.same([conv.status, conv.result?.mode], [DlmStatus.ETIMEDOUT, NL], "a timed-out conversion keeps its mode");
  void a;
});

t.test("18. argument checks", async (tt) => {
  const w = new World();
  const h = w.addHost(1);
  const g = new Req(h, { pid: 1, mode: EX, resource: R });
  await w.settle();
  const waiting = new Req(h, { pid: 2, mode: PR, resource: R });
  await w.settle();
  const cases: [string, Parameters<typeof h.lock>[0]][] = [
    ["mode 6", { pid: 1, mode: 6, resource: R }],
    ["65-byte name", { pid: 1, mode: NL, resource: new Uint8Array(65).fill(65) }],
    ["empty name", { pid: 1, mode: NL, resource: "" }],
    ["CANCEL on lock", { pid: 1, mode: NL, resource: R, flags: LKF.CANCEL }],
    ["CONVDEADLK without CONVERT", { pid: 1, mode: NL, resource: R, flags: LKF.CONVDEADLK }],
    ["CONVDEADLK with NOQUEUE", { pid: 1, mode: PR, lkid: g.lkid, flags: LKF.CONVERT | LKF.CONVDEADLK | LKF.NOQUEUE }],
    ["EXPEDITE with CONVERT", { pid: 1, mode: NL, lkid: g.lkid, flags: LKF.CONVERT | LKF.EXPEDITE }],
    ["EXPEDITE with NOQUEUE", { pid: 1, mode: NL, resource: R, flags: LKF.EXPEDITE | LKF.NOQUEUE }],
    ["EXPEDITE not NL", { pid: 1, mode: PR, resource: R, flags: LKF.EXPEDITE }],
    ["VALBLK without a buffer", { pid: 1, mode: NL, resource: R, flags: LKF.VALBLK }],
    ["CONVERT without a lock id", { pid: 1, mode: NL, flags: LKF.CONVERT }],
    ["unknown flag bit", { pid: 1, mode: NL, resource: R, flags: 0x80000 }],
  ];
  for (const [what, req] of cases) tt.throws(() => h.lock(req), { code: "ERR_DLM_EINVAL" }, what);
  tt.throws(() => h.lock({ pid: 2, mode: PR, lkid: waiting.lkid, flags: LKF.CONVERT }), { code: "ERR_DLM_EBUSY" }, "CONVERT of a waiting lock");
  tt.doesNotThrow(() => h.lock({ pid: 1, mode: NL, resource: R, flags: LKF.VALBLK, lvb: enc("") }), "a well-formed request");
});

t.test("I/O: a grant under the mutex, a covered local grant, a refusal (docs/dlm.md §6)", async (tt) => {
  const w = new World();
  const h1 = w.addHost(1);
  const h2 = w.addHost(2);
  const warm = new Req(h2, { pid: 9, mode: NL, resource: R });
  await w.settle();
  await h2.unlock({ lkid: warm.lkid });
  await w.settle();
  const base = w.ioCount(2);
  const a = new Req(h2, { pid: 1, mode: PR, resource: R });
  await w.settle();
  const afterRound = w.ioCount(2);
  tt.equal(a.status, 0);
  tt.same(
    { reads: afterRound.reads - base.reads, writes: afterRound.writes - base.writes },
    { reads: 6, writes: 5 },
    "a grant needing the mutex: pre-check, area, 2 ballot reads, view, leader read; phase 1, phase 2, leader, slot, leader free",
  );
  const b = new Req(h2, { pid: 2, mode: PR, resource: R });
  const c = new Req(h2, { pid: 3, mode: CR, resource: R });
  await w.settle();
  tt.same([b.status, c.status], [0, 0], "PR and CR on the same host");
  tt.same(w.ioCount(2), afterRound, "covered by the published PR: no I/O at all");
  const x = new Req(h1, { pid: 4, mode: EX, resource: R, flags: LKF.NOQUEUE });
  await w.settle();
  tt.equal(x.status, DlmStatus.EAGAIN, "host 1's EX refused by host 2's PR");
  void CW;
});
