// BASTs across hosts through the DLM host area (docs/dlm.md §4.3, §5.9): a host that queues a
// request publishes it in its host record; a holder that wants BASTs reads the area every poll.
import tap from "tap";
import { LKM, MODE_IV, WaitKind, decodeHostRecord } from "../src/dlm/index.js";
import type { DlmEngineOptions } from "../src/dlm/index.js";
import { AREA, Req, SECTOR, World } from "./dlm-harness.js";

const { PR, EX, NL } = LKM;
const R = "r1";
const LOCKSPACE_ID = 0x51n;

/** A DLM volume's layout in the harness: host area at area 1, resource r1 = rindex entry 0 at area 4. */
function hintOptions(w: World): Partial<DlmEngineOptions> {
  return {
    hostArea: { offset: AREA, lockspaceId: LOCKSPACE_ID },
    locate: (name) => (new TextDecoder().decode(name) === R ? { sanlockName: R, offset: w.firstArea * AREA, index: 0 } : undefined),
  };
}

function hostRecord(w: World, hostId: number): ReturnType<typeof decodeHostRecord> {
  return decodeHostRecord(w.device.contents.subarray(AREA + (hostId - 1) * SECTOR, AREA + hostId * SECTOR), 0);
}

tap.test("a remote waiter's host record gives the holder its BAST within one poll", async (t) => {
  const w = new World([R], { volume: true });
  const a = w.addHost(1, hintOptions(w));
  const b = w.addHost(2, hintOptions(w));
  const basts: number[] = [];
  const held = new Req(a, { pid: 1, mode: PR, resource: R, bast: (m) => basts.push(m) });
  await w.settle();
  t.equal(held.status, 0, "host 1 holds PR");
  const waiting = new Req(b, { pid: 1, mode: EX, resource: R });
  await w.settle();
  t.equal(waiting.status, undefined, "host 2's EX waits");
  await w.pass(1); // host 2 publishes at its tick
  const record = hostRecord(w, 2);
  t.same(
    record.waits.map((x) => ({ index: x.resourceIndex, rq: x.rq, kind: x.kind, gr: x.gr })),
    [{ index: 0, rq: EX, kind: WaitKind.NEW, gr: MODE_IV }],
    "host 2's record holds its queued EX",
  );
  await w.pass(2);
  t.same(basts, [EX], "host 1 got BAST(EX) once");
  await w.pass(3);
  t.same(basts, [EX], "and not again at later polls");
  await a.unlock({ lkid: held.lkid });
  await w.pass(2);
  t.equal(waiting.status, 0, "host 2 granted after the unlock");
  await w.pass(1);
  t.same(hostRecord(w, 2).waits, [], "a granted request leaves the host record");
});

tap.test("without the host area, an idle holder learns of a remote waiter only when it reads a view", async (t) => {
  const w = new World([R], { volume: true });
  const locate = hintOptions(w).locate;
  const a = w.addHost(1, { ...(locate ? { locate } : {}) });
  const b = w.addHost(2, { ...(locate ? { locate } : {}) });
  const basts: number[] = [];
  new Req(a, { pid: 1, mode: PR, resource: R, bast: (m) => basts.push(m) });
  await w.settle();
  new Req(b, { pid: 1, mode: EX, resource: R });
  await w.pass(4);
  t.same(basts, [], "no BAST: the hint path is what delivers it");
});

tap.test("a holder with no BAST callback never reads the host area", async (t) => {
  const w = new World([R], { volume: true });
  const a = w.addHost(1, hintOptions(w));
  const b = w.addHost(2, hintOptions(w));
  new Req(a, { pid: 1, mode: NL, resource: R });
  await w.settle();
  new Req(b, { pid: 1, mode: EX, resource: R });
  await w.settle();
  const before = w.ioCount(1);
  await w.pass(5);
  const after = w.ioCount(1);
  t.equal(after.reads - before.reads, 0, "no reads by host 1 while it holds NL without a BAST callback");
});

tap.test("a record of another lockspace or an older generation gives no BAST", async (t) => {
  const w = new World([R], { volume: true });
  const a = w.addHost(1, hintOptions(w));
  const b = w.addHost(2, { ...hintOptions(w), hostArea: { offset: AREA, lockspaceId: LOCKSPACE_ID + 1n } });
  const basts: number[] = [];
  new Req(a, { pid: 1, mode: EX, resource: R, bast: (m) => basts.push(m) });
  await w.settle();
  new Req(b, { pid: 1, mode: EX, resource: R });
  await w.pass(4);
  t.same(basts, [], "host 2's record names another lockspace id");
});

tap.test("a stale wait entry (a request that has ended) gives no BAST to a lock granted after it", async (t) => {
  const w = new World([R], { volume: true });
  const a = w.addHost(1, hintOptions(w));
  const b = w.addHost(2, hintOptions(w));
  const first = new Req(a, { pid: 1, mode: PR, resource: R });
  await w.settle();
  const waiting = new Req(b, { pid: 1, mode: EX, resource: R });
  await w.settle();
  await w.pass(1);
  const sector = AREA + SECTOR; // host 2's record
  const stale = w.device.contents.slice(sector, sector + SECTOR);
  t.equal(decodeHostRecord(stale, 0).waits.length, 1, "host 2's record shows its waiting EX");
  await a.unlock({ lkid: first.lkid });
  await w.pass(2);
  t.equal(waiting.status, 0, "host 2 got EX");
  await b.unlock({ lkid: waiting.lkid });
  await w.pass(1);
  const basts: number[] = [];
  const again = new Req(a, { pid: 2, mode: PR, resource: R, bast: (m) => basts.push(m) });
  await w.settle();
  t.equal(again.status, 0, "host 1 holds PR again, granted in a new round");
  w.device.contents.set(stale, sector); // the old record, as if host 2's rewrite had not landed
  await w.pass(4);
  t.same(basts, [], "the old entry's ticket is older than host 1's round: no BAST");
});
