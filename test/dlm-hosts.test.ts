// DLM queue rules across hosts (docs/dlm.md §3.5, §5.2; spec §9 tests 22, 23, 28): two sanlock-ts
// daemons (processes) on one volume, each with its own DlmClient (one DLM process per host).
import t from "tap";
import type { Lock } from "../packages/client/src/dlm/index.js";
import { daemonSkipReason, dlmVolumeWithTwoHosts, joinBoth } from "./support/index.js";

const POLL_MS = 500;

/** Records the order in which promises of locks settle. */
function track(order: string[], name: string, p: Promise<Lock>): Promise<Lock> {
  return p.then(
    (l) => {
      order.push(name);
      return l;
    },
    (err: unknown) => {
      order.push(`${name} ${(err as { statusName?: string }).statusName ?? String(err)}`);
      throw err;
    },
  );
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test(
  "across hosts: FIFO, a conversion deadlock is EDEADLK, force release frees at once",
  { skip: daemonSkipReason("sanlock-ts"), timeout: 240_000 },
  async (t) => {
    const { spaces } = await joinBoth(t, await dlmVolumeWithTwoHosts(t, { ioTimeout: 1, pollMs: POLL_MS }));
    const [h1, h2] = spaces;

    // FIFO (test 22): host 1 EX; host 2 asks PR; then host 1 asks PR as a new lock. After the EX goes,
    // host 2's PR (queued first) is granted, and host 1's PR (compatible) after it.
    const order: string[] = [];
    const ex = await h1.lock("fifo", "EX");
    const first = track(order, "host 2 PR", h2.lock("fifo", "PR"));
    await settle(3 * POLL_MS); // published with its ticket
    const second = track(order, "host 1 PR", h1.lock("fifo", "PR"));
    await settle(3 * POLL_MS);
    t.same(order, [], "both wait while host 1 holds EX; host 1's own PR too, behind host 2's");
    await ex.unlock();
    const [a, b] = await Promise.all([first, second]);
    t.same(order, ["host 2 PR", "host 1 PR"], "granted in queue order across hosts");
    await a.unlock();
    await b.unlock();

    // Test 23: conversions before new requests, and a conversion deadlock. Both hold PR; host 1
    // converts to EX (queued behind host 2's PR); host 2 converting to EX is a deadlock: EDEADLK
    // at once, host 2 keeps PR; host 2's unlock lets host 1's conversion through.
    const p1 = await h1.lock("cvt", "PR");
    const p2 = await h2.lock("cvt", "PR");
    const up1 = p1.convert("EX");
    await settle(3 * POLL_MS);
    await t.rejects(p2.convert("EX"), { code: "ERR_DLM_EDEADLK" }, "host 2's conversion deadlocks with host 1's: EDEADLK");
    t.equal(p2.mode, "PR", "host 2 still holds PR");
    await p2.unlock();
    await up1;
    t.equal(p1.mode, "EX", "host 1's conversion completes once host 2 let go");
    await p1.unlock();

    // Test 28: force release of host 1 while it holds EX: host 2's waiter is granted without the
    // 68 s a dead host would cost (host 1's delta lease is released: its slots are dead at once).
    await h1.lock("forced", "EX");
    const waiter = h2.lock("forced", "EX");
    await settle(3 * POLL_MS);
    const started = performance.now();
    await h1.release({ force: true });
    const granted = await waiter;
    const seconds = (performance.now() - started) / 1000;
    t.ok(seconds < 30, `host 2 granted ${seconds.toFixed(1)} s after host 1's forced release (no 68 s wait)`);
    await granted.unlock();
  },
);
