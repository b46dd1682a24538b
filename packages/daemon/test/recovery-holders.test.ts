// HolderKiller: the docs/algorithms.md §7.3 kill sequence over the daemon's client records (one attempt per
// client per second however many leases it holds, orphans skipped, kill_count/kill_last
// kept on the client as sanlock's STATUS shows them, KILLPATH_PID honoured).
import t from "tap";
import { HolderKiller, type KillableClient, type KillExecutor, type KillSignal } from "../src/recovery/index.js";

function recorder(): { executor: KillExecutor; log: string[] } {
  const log: string[] = [];
  return {
    log,
    executor: {
      signal: (pid: number, signal: KillSignal) => void log.push(`${signal} ${pid}`),
      runKillpath: (path: string, args: string, pid: number | undefined) => {
        log.push(`killpath ${path} [${args}] ${pid ?? "-"}`);
        return true;
      },
    },
  };
}

function client(pid: number, extra: Partial<KillableClient> = {}): KillableClient {
  return { pid, restricted: 0, killpath: undefined, killCount: 0, killLast: 0, ...extra };
}

const lockspace = (lastSuccess: number, removeRequested = false) => ({
  name: "ls",
  renewal: { lastSuccess },
  spec: { ioTimeout: 10 },
  removeRequested,
});

t.test("one attempt per client per second, orphans and unregistered clients skipped", async (t) => {
  let now = 120;
  const { executor, log } = recorder();
  const killer = new HolderKiller({ killGraceSeconds: 40, executor, now: () => now });
  const a = client(11);
  const holders = [{ conn: a }, { conn: a }, { conn: undefined }, { conn: client(-1) }];
  killer.killHolders(lockspace(40), holders, "recovery");
  now = 120.6;
  killer.killHolders(lockspace(40), holders, "recovery");
  now = 121;
  killer.killHolders(lockspace(40), holders, "recovery");
  t.same(log, ["SIGTERM 11", "SIGTERM 11"]);
  t.equal(a.killCount, 2);
  t.equal(a.killLast, 121);
  now = 160;
  killer.killHolders(lockspace(40), holders, "recovery");
  t.equal(log.at(-1), "SIGKILL 11", "grace over at 40 + 80 + 40");
});

t.test("removal (or a removal requested during recovery) sends SIGKILL at once", async (t) => {
  const { executor, log } = recorder();
  const killer = new HolderKiller({ killGraceSeconds: 40, executor, now: () => 50 });
  killer.killHolders(lockspace(40), [{ conn: client(12) }], "remove");
  killer.killHolders(lockspace(40, true), [{ conn: client(13) }], "recovery");
  killer.killHolders(lockspace(40, true), [{ conn: client(14, { restricted: 0x2 }) }], "remove");
  t.same(log, ["SIGKILL 12", "SIGKILL 13", "SIGTERM 14"]);
});

t.test("killpath once, with the pid when KILLPATH_PID is set", async (t) => {
  let now = 120;
  const { executor, log } = recorder();
  const killer = new HolderKiller({ killGraceSeconds: 40, executor, now: () => now });
  const c = client(15, { killpath: { path: "/usr/bin/kp", args: "a b", flags: 0x1 } });
  for (; now < 162; now++) killer.killHolders(lockspace(40), [{ conn: c }], "recovery");
  t.same(log, ["killpath /usr/bin/kp [a b] 15", "SIGKILL 15", "SIGKILL 15"]);
  const d = client(16, { killpath: { path: "kp", args: "", flags: 0 } });
  killer.killHolders(lockspace(40), [{ conn: d }], "recovery");
  t.equal(log.at(-1), "SIGKILL 16", "after the grace period the killpath is not used");
  now = 120;
  const e = client(17, { killpath: { path: "kp", args: "", flags: 0 } });
  killer.killHolders(lockspace(40), [{ conn: e }], "recovery");
  t.equal(log.at(-1), "killpath kp [] -", "no pid without KILLPATH_PID");
});

t.test("a killpath that could not be started is tried again next second", async (t) => {
  let now = 120;
  const calls: number[] = [];
  let accept = false;
  const killer = new HolderKiller({
    killGraceSeconds: 40,
    now: () => now,
    executor: {
      signal: () => {},
      runKillpath: () => {
        calls.push(now);
        return accept;
      },
    },
  });
  const c = client(18, { killpath: { path: "kp", args: "", flags: 0 } });
  killer.killHolders(lockspace(40), [{ conn: c }], "recovery");
  now = 121;
  accept = true;
  killer.killHolders(lockspace(40), [{ conn: c }], "recovery");
  now = 122;
  killer.killHolders(lockspace(40), [{ conn: c }], "recovery");
  t.same(calls, [120, 121]);
});

t.test("a client whose kill state was cleared gets its killpath again in a later recovery", async (t) => {
  let now = 120;
  const { executor, log } = recorder();
  const killer = new HolderKiller({ killGraceSeconds: 40, executor, now: () => now });
  const c = client(19, { killpath: { path: "kp", args: "", flags: 0 } });
  killer.killHolders(lockspace(40), [{ conn: c }], "recovery");
  c.killCount = 0; // the daemon clears it once the client holds no lease
  c.killLast = 0;
  now = 500;
  killer.killHolders(lockspace(420), [{ conn: c }], "recovery");
  t.same(log, ["killpath kp [] -", "killpath kp [] -"]);
});
