// docs/dlm.md §9 tests 19-20 on the engine: lockspace handles on a formatted DLM volume — create
// counts, NEWEXCL, open, EPROTO/EBADR against the volume's header, release with locks (EBUSY) and
// with force (locks dropped, the host's slots free at once for peers), close of one handle.
import t from "tap";
import { DlmLockspaces, DlmStatus, LKF, LKM, formatVolume, readVolumeHeader, type LockspaceHost } from "../src/dlm/index.js";
import { GEOMETRY, LOCKSPACE, NUM_HOSTS, Req, World, dec, enc } from "./dlm-harness.js";

const R = "r1";

async function setup(): Promise<{ w: World; table: DlmLockspaces; peer: ReturnType<World["addHost"]>; left: boolean[] }> {
  const w = new World([R], { volume: true });
  const header = await formatVolume(w.device, { offset: 0, name: LOCKSPACE, geometry: GEOMETRY, lockspaceId: 0x1234n, numHosts: NUM_HOSTS, cluster: "c1" });
  // the format writes areas 0..3 only: r1 at area 4 stays as the harness placed it
  const left: boolean[] = [];
  const host: LockspaceHost = {
    readHeader: async (name) => (name === header.name ? readVolumeHeader(w.device, 0, GEOMETRY) : undefined),
    join: async () => ({
      engine: w.addHost(1),
      leave: async (force) => {
        left.push(force);
        w.free(1);
      },
    }),
  };
  const peer = w.addHost(2);
  return { w, table: new DlmLockspaces(host), peer, left };
}

t.test("19. create, open, release", async (tt) => {
  const { w, table, peer, left } = await setup();
  await tt.rejects(table.create("x".repeat(49), 1), { code: "ERR_DLM_EINVAL" }, "a 49-byte name");
  await tt.rejects(table.create("other", 1), { code: "ERR_DLM_ENOENT" }, "no such lockspace on the volume");
  await tt.rejects(table.create(LOCKSPACE, 1, { lvbLength: 64 }), { code: "ERR_DLM_EPROTO" }, "lvblen mismatch");
  await tt.rejects(table.create(LOCKSPACE, 1, { noDir: true }), { code: "ERR_DLM_EPROTO" }, "NODIR mismatch");
  await tt.rejects(table.create(LOCKSPACE, 1, { cluster: "c2" }), { code: "ERR_DLM_EBADR" }, "cluster mismatch");
  tt.throws(() => table.open(LOCKSPACE, 1), { code: "ERR_DLM_ENOENT" }, "open of a lockspace not joined here");
  const h1 = await table.create(LOCKSPACE, 1, { fs: true, cluster: "c1" });
  const h2 = await table.create(LOCKSPACE, 2);
  tt.same(table.list(), [{ name: LOCKSPACE, count: 2 }], "created twice: one lockspace, count 2");
  await tt.rejects(table.create(LOCKSPACE, 3, { exclusive: true }), { code: "ERR_DLM_EEXIST" }, "NEWEXCL on a joined one");
  const opened = table.open(LOCKSPACE, 4);
  tt.equal(opened.engine, h1.engine, "open gives the same lockspace");
  await table.release(h2, false);
  tt.same(table.list(), [{ name: LOCKSPACE, count: 1 }], "release: still joined");
  const lock = new Req(h1.engine, { pid: 1, mode: LKM.EX, resource: R, flags: LKF.VALBLK, lvb: enc("v") });
  await w.settle();
  tt.equal(lock.status, 0);
  await tt.rejects(table.release(h1, false), { code: "ERR_DLM_EBUSY" }, "release with locks: EBUSY");
  const waiter = new Req(peer, { pid: 9, mode: LKM.EX, resource: R, flags: LKF.VALBLK, lvb: enc("") });
  await w.settle();
  await w.pass(1);
  tt.equal(waiter.status, undefined, "the peer waits for EX");
  await table.release(h1, true);
  tt.same(left, [true], "force: left the lockspace");
  tt.same(table.list(), [], "no lockspace joined");
  await w.pass(2);
  tt.equal(waiter.status, 0, "the peer's waiter is granted at once (our delta record is free)");
  tt.equal(waiter.result?.sb.valNotValid, true, "and sees the value invalid: EX+VALBLK was held");
  void dec;
});

t.test("20. close of one handle: its process's locks go, the lockspace stays", async (tt) => {
  const { w, table } = await setup();
  const a = await table.create(LOCKSPACE, 1);
  const b = await table.create(LOCKSPACE, 2);
  const plain = new Req(a.engine, { pid: 1, mode: LKM.PR, resource: R });
  const kept = new Req(a.engine, { pid: 1, mode: LKM.CR, resource: R, flags: LKF.PERSISTENT });
  const other = new Req(b.engine, { pid: 2, mode: LKM.CR, resource: R });
  await w.settle();
  tt.same([plain.status, kept.status, other.status], [0, 0, 0]);
  table.close(a);
  await w.settle();
  const locks = b.engine.lockInfo();
  tt.notOk(
    locks.some((l) => l.lkid === plain.lkid),
    "the non-persistent lock is unlocked",
  );
  tt.ok(locks.find((l) => l.lkid === kept.lkid)?.orphan, "the persistent one is an orphan");
  tt.ok(
    locks.some((l) => l.lkid === other.lkid),
    "the other handle's lock stays",
  );
  tt.same(table.list(), [{ name: LOCKSPACE, count: 2 }], "still joined");
  tt.equal(DlmStatus.EUNLOCK, 0x10002);
});
