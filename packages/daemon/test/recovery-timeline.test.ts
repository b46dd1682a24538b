// The worked timelines of docs/algorithms.md §7.6 (and docs/algorithms.md §7.2-7.4, §7.11) in virtual time: the
// recovery state machine, the wdmd-style tester and the reset model together, with
// processes that cannot be killed (recorded signals only) or that die when told to.
import t from "tap";
import { LockspaceRecovery, startRecoveryTicks, type KillExecutor, type KillSignal, type RecoveryHolder, type RecoveryPhase } from "../src/recovery/index.js";
import { ResetModelDevice, VirtualScheduler, WatchdogTester, type WatchdogConnection } from "../src/watchdog/index.js";

interface KillRecord {
  at: number;
  pid: number;
  action: KillSignal | "killpath";
}

interface World {
  scheduler: VirtualScheduler;
  recovery: LockspaceRecovery;
  device: ResetModelDevice;
  kills: KillRecord[];
  events: { at: number; what: string }[];
  phases: { at: number; phase: RecoveryPhase }[];
  resets: number[];
  holders: RecoveryHolder[];
  connection: WatchdogConnection;
}

interface WorldOptions {
  T: number;
  n: number;
  grace: number;
  holders: RecoveryHolder[];
  /** A process dies this long after receiving one of these. */
  diesOn?: (KillSignal | "killpath")[];
  testIntervalSeconds?: number;
  blocked?: boolean;
}

function world(o: WorldOptions): World {
  const scheduler = new VirtualScheduler(o.T);
  const kills: KillRecord[] = [];
  const events: { at: number; what: string }[] = [];
  const phases: { at: number; phase: RecoveryPhase }[] = [];
  const resets: number[] = [];
  const holders = [...o.holders];
  let stopTicks = (): void => {};
  const device = new ResetModelDevice({
    scheduler,
    onReset: (at) => {
      // The host is reset: the daemon and every process stop here.
      resets.push(at);
      stopTicks();
    },
  });
  const tester = new WatchdogTester({ device, scheduler, testIntervalSeconds: o.testIntervalSeconds });
  const registered = tester.register("ls", o.T, o.n);
  const note = (what: string): void => {
    events.push({ at: scheduler.now(), what });
  };
  const connection: WatchdogConnection = {
    name: registered.name,
    get expire() {
      return registered.expire;
    },
    renewed: (s) => registered.renewed(s),
    clearExpiry: () => {
      note("clearExpiry");
      registered.clearExpiry();
    },
    close: () => {
      note("closeWatchdog");
      registered.close();
    },
  };
  let recovery: LockspaceRecovery | undefined;
  const die = (pid: number): void => {
    scheduler.after(0.1, () => {
      const i = holders.findIndex((h) => h.pid === pid);
      if (i >= 0) holders.splice(i, 1);
      recovery?.holdersGone();
    });
  };
  const killer: KillExecutor = {
    signal(pid, signal) {
      kills.push({ at: scheduler.now(), pid, action: signal });
      if (o.diesOn?.includes(signal)) die(pid);
    },
    runKillpath(_path, _args, pid) {
      kills.push({ at: scheduler.now(), pid: pid ?? -1, action: "killpath" });
      if (o.diesOn?.includes("killpath") && pid !== undefined) die(pid);
      return true;
    },
  };
  recovery = new LockspaceRecovery({
    name: "ls",
    ioTimeout: o.n,
    killGraceSeconds: o.grace,
    lastSuccess: o.T,
    watchdog: connection,
    killer,
    hooks: {
      holders: () => holders,
      blocked: () => o.blocked === true,
      stopRenewals: async () => note("stopRenewals"),
      releaseDeltaLease: async () => note("releaseDeltaLease"),
      onPhase: (phase) => phases.push({ at: scheduler.now(), phase }),
    },
  });
  stopTicks = startRecoveryTicks(scheduler, recovery);
  return { scheduler, recovery, device, kills, events, phases, resets, holders, connection };
}

/** Renewals at T + each of `okAt`, failures every 2N from `failFrom` on. */
function renewals(w: World, T: number, n: number, okAt: number[], failFrom: number, until: number): void {
  for (const at of okAt) w.scheduler.after(at, () => w.recovery.onRenewalResult({ ok: true, lastSuccess: T + at }));
  for (let at = failFrom; at <= until; at += 2 * n) {
    w.scheduler.after(at, () => w.recovery.onRenewalResult({ ok: false, corrupt: false }));
  }
}

function secondsOf(kills: KillRecord[], pid: number, action: string, T: number): number[] {
  return kills.filter((k) => k.pid === pid && k.action === action).map((k) => k.at - T);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

t.test("§7.6, N = 10, grace 40, processes that cannot be killed", async (t) => {
  const T = 1000;
  const n = 10;
  const w = world({
    T,
    n,
    grace: 40,
    holders: [
      { key: 1, pid: 501, restrictFlags: 0 },
      { key: 2, pid: 502, restrictFlags: 0 },
    ],
  });
  renewals(w, T, n, [20, 40], 60, 200);
  w.scheduler.advanceTo(T + 300);

  const lastSuccess = T + 40;
  t.same(w.phases, [{ at: T + 120, phase: "recovery" }], "recovery at last_success + 8N = 120, never left");
  for (const pid of [501, 502]) {
    t.same(secondsOf(w.kills, pid, "SIGTERM", T), range(120, 160), `pid ${pid}: SIGTERM once a second in 120..159`);
    t.same(secondsOf(w.kills, pid, "SIGKILL", T), range(160, 170), `pid ${pid}: SIGKILL once a second from 160 until the reset`);
  }
  t.same(w.resets, [T + 170], "watchdog fires at 170 (last ping at the 110 test)");
  const expire = lastSuccess + 8 * n;
  const fired = w.resets[0] ?? NaN;
  t.ok(fired >= expire + 50 && fired < expire + 60, "within [expire + 50, expire + 60)");
  t.ok(fired < lastSuccess + 8 * n + 60, "before other hosts may take the leases (180)");
  t.same(w.events, [], "the expiry was never cleared while holders lived");
  t.equal(w.connection.expire, expire);
});

t.test("§7.6, N = 10 with a killpath: run once at 120, silence, SIGKILL from 160", async (t) => {
  const T = 1000;
  const w = world({
    T,
    n: 10,
    grace: 40,
    holders: [{ key: 1, pid: 601, restrictFlags: 0, killpath: { path: "kp", args: "", appendPid: true } }],
  });
  renewals(w, T, 10, [20, 40], 60, 200);
  w.scheduler.advanceTo(T + 300);
  t.same(secondsOf(w.kills, 601, "killpath", T), [120]);
  t.same(secondsOf(w.kills, 601, "SIGTERM", T), []);
  t.same(secondsOf(w.kills, 601, "SIGKILL", T), range(160, 170));
  t.same(w.resets, [T + 170]);
});

t.test("N = 1, grace 40 (wdmd 10 s interval): the kill sequence, and the watchdog fires 60 s after join", async (t) => {
  const T = 1000;
  const n = 1;
  const w = world({ T, n, grace: 40, holders: [{ key: 1, pid: 701, restrictFlags: 0 }] });
  renewals(w, T, n, [2, 4], 6, 100);
  w.scheduler.advanceTo(T + 200);
  t.same(w.phases, [{ at: T + 12, phase: "recovery" }], "recovery at 4 + 8N");
  t.same(secondsOf(w.kills, 701, "SIGTERM", T), range(12, 52), "SIGTERM in 12..51");
  t.same(secondsOf(w.kills, 701, "SIGKILL", T), range(52, 60), "SIGKILL from 4 + 8 + 40 = 52");
  // 8N = 8 < 10: every wdmd test fails, the device was closed at the join's first test.
  t.same(w.resets, [T + 60]);
  t.ok((w.resets[0] ?? Infinity) < T + 4 + 8 + 60, "still before last_success + 8N + 60");
});

t.test("N = 1, grace 40, 1 s test interval: SIGKILL from 52, watchdog fires in [expire + 59, expire + 60)", async (t) => {
  const T = 1000;
  const n = 1;
  const w = world({ T, n, grace: 40, holders: [{ key: 1, pid: 702, restrictFlags: 0 }], testIntervalSeconds: 1 });
  renewals(w, T, n, [2, 4], 6, 100);
  w.scheduler.advanceTo(T + 200);
  const expire = T + 4 + 8 * n;
  t.same(w.phases, [{ at: T + 12, phase: "recovery" }]);
  t.same(secondsOf(w.kills, 702, "SIGTERM", T), range(12, 52));
  t.same(secondsOf(w.kills, 702, "SIGKILL", T), range(52, 71));
  t.same(w.resets, [T + 71], "last ping at the test at 11 (>= 12 - 1)");
  const fired = w.resets[0] ?? NaN;
  t.ok(fired >= expire + 50 && fired < expire + 60);
  t.same(w.events, []);
});

t.test("holders that die at SIGKILL: expiry cleared only after the last one, no delta release after failed renewals", async (t) => {
  const T = 1000;
  const w = world({
    T,
    n: 10,
    grace: 40,
    holders: [
      { key: 1, pid: 801, restrictFlags: 0 },
      { key: 2, pid: 802, restrictFlags: 0x4 /* RESTRICT_SIGTERM */ },
    ],
    diesOn: ["SIGKILL"],
  });
  renewals(w, T, 10, [20, 40], 60, 200);
  await advanceAndSettle(w, T + 300);
  t.same(secondsOf(w.kills, 802, "SIGKILL", T), [120], "RESTRICT_SIGTERM: SIGKILL at once");
  t.same(secondsOf(w.kills, 801, "SIGKILL", T), [160]);
  t.same(
    w.events.map((e) => [e.what, Math.round((e.at - T) * 10) / 10]),
    [
      ["clearExpiry", 160.1],
      ["stopRenewals", 160.1],
      ["closeWatchdog", 160.1],
    ],
    "clear → stop renewals → (no release: last attempt failed)",
  );
  t.same(
    w.phases.map((p) => p.phase),
    ["recovery", "leaving", "left"],
  );
  t.same(w.resets, [], "watchdog did not fire: the expiry was cleared before 170");
  t.equal(w.device.isOpen, false, "no users left: disarmed with the magic close");
  t.equal(w.device.deadline, undefined);
});

t.test("removal with healthy renewals: SIGKILL at once, then clear, stop, delta release", async (t) => {
  const T = 1000;
  const w = world({ T, n: 10, grace: 40, holders: [{ key: 1, pid: 901, restrictFlags: 0 }], diesOn: ["SIGKILL"] });
  renewals(w, T, 10, [20, 40, 60], 1000, 0);
  w.scheduler.after(65.5, () => w.recovery.requestRemoval());
  t.equal(w.recovery.usable, true);
  await advanceAndSettle(w, T + 100);
  t.same(w.phases[0], { at: T + 66, phase: "recovery" });
  t.same(secondsOf(w.kills, 901, "SIGKILL", T), [66]);
  t.same(
    w.events.map((e) => e.what),
    ["clearExpiry", "stopRenewals", "releaseDeltaLease", "closeWatchdog"],
  );
  t.same(await w.recovery.left, { deltaReleased: true });
  t.same(w.resets, []);
});

t.test("a corrupt renewal result starts recovery at the next check; later successes do not undo it", async (t) => {
  const T = 1000;
  const w = world({ T, n: 10, grace: 40, holders: [{ key: 1, pid: 1001, restrictFlags: 0 }] });
  w.scheduler.after(20.3, () => w.recovery.onRenewalResult({ ok: false, corrupt: true }));
  w.scheduler.after(40, () => w.recovery.onRenewalResult({ ok: true, lastSuccess: T + 40 }));
  w.scheduler.advanceTo(T + 50);
  t.same(w.phases, [{ at: T + 21, phase: "recovery" }]);
  t.equal(w.recovery.phase, "recovery", "one-way (§7.11.4)");
  t.equal(w.recovery.usable, false);
  t.equal(w.connection.expire, T + 40 + 80, "a renewal during recovery still advances the expiry");
  // Grace runs from the newest last_success (40 + 80 + 40 = 160, not 0 + 80 + 40 = 120);
  // the 100-attempt limit (21..120) ends the sequence first.
  w.scheduler.advanceTo(T + 200);
  t.same(secondsOf(w.kills, 1001, "SIGTERM", T), range(21, 121));
  t.same(secondsOf(w.kills, 1001, "SIGKILL", T), []);
  t.equal(w.recovery.killingStuck, true);
});

t.test("a lockspace held by USED is never left: the watchdog fires although no process is left", async (t) => {
  const T = 1000;
  const w = world({ T, n: 10, grace: 40, holders: [], blocked: true });
  renewals(w, T, 10, [20], 40, 200);
  w.scheduler.advanceTo(T + 300);
  t.same(w.phases, [{ at: T + 100, phase: "recovery" }]);
  t.same(w.events, []);
  t.equal(w.resets.length, 1);
  const fired = w.resets[0] ?? NaN;
  t.ok(fired >= T + 100 + 50 && fired < T + 100 + 60);
});

t.test("stuck holders: 100 attempts, then silence; expiry stays", async (t) => {
  const T = 1000;
  const w = world({ T, n: 10, grace: 40, holders: [{ key: 1, pid: 1101, restrictFlags: 0x2 | 0x4 }] });
  // Renewals keep succeeding (grace keeps moving), so only the attempt limit ends the kill loop.
  renewals(
    w,
    T,
    10,
    range(1, 40).map((k) => 20 * k),
    10_000,
    0,
  );
  w.recovery.forceShutdown();
  w.scheduler.advanceTo(T + 400);
  t.equal(w.kills.length, 100);
  t.equal(w.recovery.killingStuck, true);
  t.ok(w.connection.expire > 0, "expiry never cleared");
  t.equal(w.recovery.phase, "recovery");
});

/** Advance virtual time in small steps, letting the async leave sequence run between steps. */
async function advanceAndSettle(w: World, target: number): Promise<void> {
  while (w.scheduler.now() < target) {
    w.scheduler.advance(Math.min(0.1, target - w.scheduler.now()));
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}
