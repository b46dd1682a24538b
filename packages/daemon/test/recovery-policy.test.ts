// The kill decision of docs/algorithms.md §7.3 (sanlock kill_pids) and the killpath argument
// vector of docs/algorithms.md §6.3 (sanlock helper.c run_path), as pure functions.
import t from "tap";
import {
  KILL_ATTEMPTS_MAX,
  NO_KILL_PROGRESS,
  killpathArgv,
  planKill,
  restrictSignal,
  type KillAction,
  type KillContext,
  type KillProgress,
  type KillTarget,
} from "../src/recovery/index.js";

// docs/wire.md §4.12
const RESTRICT_SIGKILL = 0x2;
const RESTRICT_SIGTERM = 0x4;

const plain: KillTarget = { pid: 4242, restrictFlags: 0 };
const withKillpath: KillTarget = { pid: 4242, restrictFlags: 0, killpath: { path: "/bin/kp", args: "", appendPid: false } };

function ctx(now: number, extra: Partial<KillContext> = {}): KillContext {
  return { now, lastSuccess: 40, ioTimeout: 10, killGraceSeconds: 40, forced: false, ...extra };
}

/** Run one attempt per tick at the given times, returning the actions. */
function run(times: number[], target: KillTarget, extra: Partial<KillContext> = {}): { actions: KillAction[]; progress: KillProgress } {
  let progress = NO_KILL_PROGRESS;
  const actions: KillAction[] = [];
  for (const now of times) {
    const d = planKill(ctx(now, extra), target, progress);
    actions.push(d.action);
    progress = d.progress;
  }
  return { actions, progress };
}

t.test("N = 10, grace 40: SIGTERM until last_success + 8N + grace, SIGKILL from then", async (t) => {
  // last_success 40: recovery at 120, SIGKILL from 160 (docs/algorithms.md §7.6).
  const { actions } = run([120, 121, 159, 160, 161], plain);
  t.same(actions, ["SIGTERM", "SIGTERM", "SIGTERM", "SIGKILL", "SIGKILL"]);
});

t.test("a killpath runs once in the grace period, nothing else until SIGKILL", async (t) => {
  const times = Array.from({ length: 45 }, (_, i) => 120 + i);
  const { actions, progress } = run(times, withKillpath);
  t.equal(actions[0], "killpath");
  t.ok(
    actions.slice(1, 40).every((a) => a === "none"),
    "121..159: no further action",
  );
  t.same(actions.slice(40), ["SIGKILL", "SIGKILL", "SIGKILL", "SIGKILL", "SIGKILL"]);
  t.equal(progress.attempts, 45, "the silent seconds still count as attempts");
});

t.test("grace 0: no killpath even when recovery starts early (corrupt renewal)", async (t) => {
  const { actions } = run([50, 51], withKillpath, { killGraceSeconds: 0 });
  t.same(actions, ["SIGTERM", "SIGTERM"], "in 'grace' (now < last + 8N) but killpath needs grace > 0");
  t.same(run([120], withKillpath, { killGraceSeconds: 0 }).actions, ["SIGKILL"]);
});

t.test("removal / forced shutdown: SIGKILL at once, SIGTERM if SIGKILL is restricted", async (t) => {
  t.same(run([60], withKillpath, { forced: true }).actions, ["SIGKILL"]);
  t.same(run([60], { pid: 7, restrictFlags: RESTRICT_SIGKILL }, { forced: true }).actions, ["SIGTERM"]);
});

t.test("restrictions swap signals in sanlock's order", async (t) => {
  t.equal(restrictSignal("SIGTERM", RESTRICT_SIGTERM), "SIGKILL");
  t.equal(restrictSignal("SIGKILL", RESTRICT_SIGKILL), "SIGTERM");
  t.equal(restrictSignal("SIGKILL", RESTRICT_SIGKILL | RESTRICT_SIGTERM), "SIGKILL", "KILL→TERM, then TERM→KILL");
  t.equal(restrictSignal("SIGTERM", RESTRICT_SIGKILL | RESTRICT_SIGTERM), "SIGKILL");
  t.equal(restrictSignal("SIGTERM", 0x1), "SIGTERM", "RESTRICT_ALL has no effect on signals");
  t.same(run([120, 160], { pid: 7, restrictFlags: RESTRICT_SIGTERM }).actions, ["SIGKILL", "SIGKILL"]);
  t.same(run([120, 160], { pid: 7, restrictFlags: RESTRICT_SIGKILL }).actions, ["SIGTERM", "SIGTERM"]);
});

t.test("at most one attempt per whole second", async (t) => {
  const { actions, progress } = run([120, 120.2, 120.8, 121, 121.4, 122.9], plain);
  t.same(actions, ["SIGTERM", "none", "none", "SIGTERM", "none", "SIGTERM"]);
  t.equal(progress.attempts, 3);
  t.equal(progress.lastAttemptAt, 122);
});

t.test("gives up after 100 attempts", async (t) => {
  const times = Array.from({ length: KILL_ATTEMPTS_MAX + 5 }, (_, i) => 120 + i);
  const { actions, progress } = run(times, plain);
  t.equal(KILL_ATTEMPTS_MAX, 100);
  t.equal(actions.filter((a) => a !== "none").length, 100);
  t.same(actions.slice(100), ["none", "none", "none", "none", "none"]);
  t.equal(progress.attempts, 100);
});

t.test("a renewal during recovery extends the grace period (last_success moves)", async (t) => {
  const later = planKill(ctx(165, { lastSuccess: 60 }), plain, NO_KILL_PROGRESS);
  t.equal(later.action, "SIGTERM", "165 < 60 + 80 + 40");
});

t.test("killpath argument vector (helper.c run_path rules)", async (t) => {
  t.same(killpathArgv("/bin/kp", ""), ["/bin/kp"]);
  t.same(killpathArgv("/bin/kp", "", 99), ["/bin/kp", "99"], "pid appended when requested");
  t.same(killpathArgv("/bin/kp", "  a b\tc  "), ["/bin/kp", "a", "b", "c"], "white space separates, runs collapse");
  t.same(killpathArgv("kp", "a\\ b c\\\\d"), ["kp", "a b", "c\\d"], "backslash escapes space and backslash");
  t.same(killpathArgv("kp", "a \\x b"), ["kp", "a"], "any other escape ends parsing");
  t.same(killpathArgv("kp", "ab\\"), ["kp", "ab"], "a trailing backslash ends parsing");
  t.same(killpathArgv("kp", "ab\u0001cd ef"), ["kp", "ab"], "a control character ends parsing");
  t.same(killpathArgv("kp", "ab\u00e9 cd"), ["kp", "ab"], "a non-ASCII character ends parsing");
  t.same(killpathArgv("kp", "1 2 3 4 5 6 7 8 9", 5), ["kp", "1", "2", "3", "4", "5", "6", "7"], "at most 8 entries, pid dropped");
  t.same(killpathArgv("kp", "1 2 3 4 5 6", 5), ["kp", "1", "2", "3", "4", "5", "6", "5"], "pid fills the 8th entry");
  t.throws(() => killpathArgv("", "a"), RangeError);
  t.throws(() => killpathArgv("kp", "x".repeat(128)), RangeError);
});
