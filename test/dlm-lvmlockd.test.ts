// lvmlockd's use of the DLM across two hosts (docs/dlm.md §5.10; spec §9 test 30), through the
// libdlm-named shim a port of lvmlockd's C code would use: NL with EXPEDITE and a value block,
// NL→EX with NOQUEUE|PERSISTENT, "unlock" by converting to NL with the value written, the other
// host's NL→PR reading it, and after a crash of the process the orphaned EX adopted with
// PERSISTENT|ORPHAN under the same lock id.
import t from "tap";
import { DlmStatus, LKF, LKM } from "../packages/client/src/dlm/index.js";
import * as libdlm from "../packages/client/src/dlm/libdlm.js";
import { daemonSkipReason, dlmVolumeWithTwoHosts, joinBoth, until } from "./support/index.js";

const LVB = 32;
const value = (s: string): Uint8Array => {
  const out = new Uint8Array(LVB);
  out.set(new TextEncoder().encode(s));
  return out;
};
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b ?? new Uint8Array()).replace(/\0+$/, "");

t.test("lvmlockd's pattern across two hosts, through the libdlm shim", { skip: daemonSkipReason("sanlock-ts"), timeout: 120_000 }, async (t) => {
  const setup = await dlmVolumeWithTwoHosts(t, { ioTimeout: 1, pollMs: 500 });
  const {
    spaces: [, host2],
  } = await joinBoth(t, setup);
  // The shim's one connection is host 1's "lvmlockd" process (libdlm: run dir from SANLOCK_RUN_DIR).
  const saved = process.env.SANLOCK_RUN_DIR;
  process.env.SANLOCK_RUN_DIR = setup.hosts[0].runDir;
  t.teardown(async () => {
    await libdlm.dlm_shutdown();
    if (saved === undefined) delete process.env.SANLOCK_RUN_DIR;
    else process.env.SANLOCK_RUN_DIR = saved;
  });
  const ls = await libdlm.dlm_new_lockspace("vg1", 0o600, 0);
  t.ok(ls, "dlm_new_lockspace on a lockspace this host joined (its volume is known to the daemon)");
  if (!ls) return;

  const lksb: libdlm.Lksb = { sb_status: -1, sb_lkid: 0, sb_flags: 0, sb_lvbptr: new Uint8Array(LVB) };
  t.equal(await libdlm.dlm_ls_lock_wait(ls, LKM.NL, lksb, LKF.EXPEDITE | LKF.VALBLK, "lv_vg1"), 0, "NL with EXPEDITE|VALBLK");
  t.equal(lksb.sb_status, 0);
  const lkid = lksb.sb_lkid;
  t.equal(await libdlm.dlm_ls_lock_wait(ls, LKM.EX, lksb, LKF.CONVERT | LKF.NOQUEUE | LKF.PERSISTENT | LKF.VALBLK, null), 0, "NL→EX with NOQUEUE|PERSISTENT");
  t.equal(lksb.sb_status, 0, "granted EX");
  lksb.sb_lvbptr?.set(value("seqno 7"));
  t.equal(await libdlm.dlm_ls_lock_wait(ls, LKM.NL, lksb, LKF.CONVERT | LKF.VALBLK, null), 0, "'unlock': convert to NL writing the value block");

  const reader = await host2.lock("lv_vg1", "NL", { valueBlock: true });
  await reader.convert("PR", { valueBlock: true });
  t.equal(text(reader.lvb), "seqno 7", "host 2's NL→PR reads the value host 1 wrote");
  await reader.unlock();

  // An unlock completes before its slot write lands on the disk (docs/dlm.md §11): another host's
  // NOQUEUE request right after may still see it and get EAGAIN. lvmlockd retries EAGAIN; so do we.
  let tries = 0;
  do {
    if (tries > 0) await new Promise((r) => setTimeout(r, 200));
    t.equal(await libdlm.dlm_ls_lock_wait(ls, LKM.EX, lksb, LKF.CONVERT | LKF.NOQUEUE | LKF.PERSISTENT | LKF.VALBLK, null), 0, "NL→EX again");
  } while (lksb.sb_status === DlmStatus.EAGAIN && ++tries < 20);
  t.equal(lksb.sb_status, 0, `granted EX (after ${tries} EAGAIN)`);
  await libdlm.dlm_shutdown(); // lvmlockd crashes: its PERSISTENT EX becomes an orphan
  await t.rejects(host2.lock("lv_vg1", "PR", { noQueue: true }), { code: "ERR_DLM_EAGAIN" }, "the orphan still blocks host 2");

  const ls2 = await libdlm.dlm_open_lockspace("vg1"); // the restarted lvmlockd (a new connection)
  t.ok(ls2, "dlm_open_lockspace after the restart");
  if (!ls2) return;
  const adopt: libdlm.Lksb = { sb_status: -1, sb_lkid: 0, sb_flags: 0, sb_lvbptr: new Uint8Array(LVB) };
  t.equal(await libdlm.dlm_ls_lock_wait(ls2, LKM.PR, adopt, LKF.PERSISTENT | LKF.ORPHAN, "lv_vg1"), -1, "adopting in another mode is refused by the call...");
  t.equal(libdlm.errno, DlmStatus.EAGAIN, "...with errno EAGAIN (the orphan is EX), as dlm_user_adopt_orphan");
  t.equal(await libdlm.dlm_ls_lock_wait(ls2, LKM.EX, adopt, LKF.PERSISTENT | LKF.ORPHAN, "lv_vg1"), 0, "adopt EX with PERSISTENT|ORPHAN");
  t.same({ status: adopt.sb_status, lkid: adopt.sb_lkid }, { status: 0, lkid }, "the orphan is ours again, same lock id");
  t.equal(await libdlm.dlm_ls_unlock_wait(ls2, adopt.sb_lkid, 0, adopt), 0, "dlm_ls_unlock_wait");
  t.equal(adopt.sb_status, DlmStatus.EUNLOCK, "lksb says EUNLOCK");
  // The unlock's slot write lands after its completion (see above): host 2 may need a second try.
  const granted = await until("host 2 gets PR", () => host2.lock("lv_vg1", "PR", { noQueue: true }).catch(() => undefined), 10_000, 200);
  t.equal(granted.mode, "PR", "host 2 gets PR now");
  await granted.unlock();
  t.equal(await libdlm.dlm_ls_unlock_wait(ls2, 4242, 0, adopt), -1, "an unknown lock id: −1...");
  t.equal(libdlm.errno, DlmStatus.ENOENT, "...with errno ENOENT");
});
