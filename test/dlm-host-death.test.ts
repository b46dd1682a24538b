// DLM locks when a host dies, and a DLM volume beside the real sanlock (docs/dlm.md §5.11, §9
// tests 25, 32, 33). Two sanlock-ts daemons (processes) share a volume with io_timeout 1, so a
// dead host's locks are ignored 8·1 + 60 = 68 s after its last renewal, never earlier.
import t from "tap";
import { spawnSync } from "node:child_process";
import { HAVE_REAL_SANLOCK, daemonSkipReason, dlmVolumeWithTwoHosts, environmentSkip, joinBoth, startDaemon, until } from "./support/index.js";

const IO_TIMEOUT = 1;
/** docs/algorithms.md §3.4: host_dead_seconds = 8·io_timeout + 60. */
const DEAD_SECONDS = 8 * IO_TIMEOUT + 60;
/** A renewal every 2·io_timeout: the last one came at most this long before the kill (plus scheduling). */
const RENEWAL_INTERVAL = 2 * IO_TIMEOUT;
const POLL_MS = 500;
const enc = (s: string): Uint8Array => {
  const out = new Uint8Array(32);
  out.set(new TextEncoder().encode(s));
  return out;
};
const dec = (b: Uint8Array | undefined): string => new TextDecoder().decode(b ?? new Uint8Array()).replace(/\0+$/, "");

t.test(
  "a host killed while it holds EX: the other host's EX waits 68 s, then is granted with VALNOTVALID",
  { skip: daemonSkipReason("sanlock-ts"), timeout: 240_000 },
  async (t) => {
    const setup = await dlmVolumeWithTwoHosts(t, { ioTimeout: IO_TIMEOUT, pollMs: POLL_MS });
    const host1 = setup.hosts[0];
    const recovery: string[] = [];
    const {
      spaces: [ls1, ls2],
    } = await joinBoth(t, setup, {
      prep: () => recovery.push("prep"),
      slot: (s) => recovery.push(`slot ${s.nodeId}`),
      done: (d) => recovery.push(`done ${d.slots.map((x) => x.nodeId).join(",")} generation ${d.generation}`),
    });
    const writer = await ls1.lock("lv1", "EX", { valueBlock: true });
    writer.setLvb(enc("before the crash"));
    await writer.convert("PW"); // the value is written with this conversion (a W transition)
    let grantedAt = 0;
    const waiting = ls2.lock("lv1", "EX", { valueBlock: true }).then((l) => {
      grantedAt = performance.now();
      return l;
    });
    await new Promise((r) => setTimeout(r, 3000)); // host 2's request is queued and published
    t.equal(grantedAt, 0, "host 2 waits while host 1 holds PW");
    const killedAt = performance.now();
    await host1.kill9();
    const lock = await waiting;
    const waited = (grantedAt - killedAt) / 1000;
    t.ok(
      waited >= DEAD_SECONDS - RENEWAL_INTERVAL - 1,
      `granted ${waited.toFixed(1)} s after the kill: not before 68 s after host 1's last renewal (at most ${RENEWAL_INTERVAL} s before the kill)`,
    );
    t.ok(waited <= DEAD_SECONDS + POLL_MS / 1000 + 10, `granted ${waited.toFixed(1)} s after the kill: within 68 s + poll + 10 s`);
    t.equal(lock.sb.valNotValid, true, "VALNOTVALID: a PW holder with a value block died");
    t.equal(dec(lock.lvb), "before the crash", "the value kept is the last one written");
    t.same(recovery, ["prep", "slot 1", "done 2 generation 2"], "host 2's recovery callbacks: prep, slot(1), done with the live hosts, generation + 1");
    await lock.unlock();
    await ls2.release();
    void ls1;
  },
);

t.test(
  "the real sanlock beside a DLM volume: direct dump reads it, a sanlock daemon joins its lockspace",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "the real sanlock is not installed") || daemonSkipReason(["sanlock", "sanlock-ts"]), timeout: 180_000 },
  async (t) => {
    const setup = await dlmVolumeWithTwoHosts(t, { ioTimeout: IO_TIMEOUT, pollMs: POLL_MS });
    const { dir, volume } = setup;
    const host1 = setup.hosts[0];
    const {
      clients: [c1],
      spaces: [ls1, ls2],
    } = await joinBoth(t, setup);
    const a = await ls1.lock("lv1", "PR");
    const b = await ls2.lock("lv1", "PR");
    await a.unlock();
    await b.unlock();

    const dump = spawnSync("sanlock", ["direct", "dump", `${volume}:0:8M`], { encoding: "utf8" });
    t.equal(dump.status, 0, `sanlock direct dump exits 0: ${dump.stderr}`);
    t.match(dump.stdout, /^\s*0+ +vg1 +/m, "it shows the lockspace's delta records");
    t.match(dump.stdout, /rindex_header|rentry|lv1/, "and the rindex or the resource lv1");

    const real = await startDaemon(t, { kind: "sanlock", dir, label: "real sanlock" });
    const add = spawnSync("sanlock", ["client", "add_lockspace", "-s", `vg1:3:${volume}:0`, "-o", String(IO_TIMEOUT)], {
      encoding: "utf8",
      env: real.env,
      timeout: 60_000,
    });
    t.equal(add.status, 0, `the real sanlock joins the DLM volume's lockspace as host 3: ${add.stdout}${add.stderr}`);
    // Host 3 renews its delta lease (seen by host 1's watcher: its timestamp moves) but writes no
    // DLM host record: it is not a DLM member (docs/dlm.md §3.1).
    const seen = await until(
      "host 1's daemon sees host 3's delta lease",
      async () => {
        const r = spawnSync("sanlock", ["client", "host_status", "-s", "vg1"], { encoding: "utf8", env: host1.env });
        return /^3 timestamp [1-9]/m.test(r.stdout) ? r.stdout : undefined;
      },
      30_000,
      500,
    );
    t.match(seen, /^3 timestamp [1-9]/m, "host 3 is live in the lockspace");
    t.same((await c1.listLockspaces())[0]?.members, [1, 2], "DLM members: hosts 1 and 2, not the sanlock-only host 3");
    const x = await ls1.lock("lv2", "EX");
    await t.rejects(ls2.lock("lv2", "PR", { noQueue: true }), { code: "ERR_DLM_EAGAIN" }, "DLM locks keep working beside it");
    await x.unlock();
    const rem = spawnSync("sanlock", ["client", "rem_lockspace", "-s", `vg1:3:${volume}:0`], { encoding: "utf8", env: real.env, timeout: 60_000 });
    t.equal(rem.status, 0, "the real sanlock leaves again");
    await ls1.release();
    await ls2.release();
  },
);
