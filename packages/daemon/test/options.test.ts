import t from "tap";
import { DEFAULT_SETTINGS, DaemonOptionError, applyOptionValues, readDaemonEnvironment, splitDaemonArgs } from "../src/options.js";

function settingsFor(argv: string[]) {
  return applyOptionValues(DEFAULT_SETTINGS, splitDaemonArgs(argv).values);
}

t.test("defaults are those printed by `sanlock daemon -h` (3.8.5)", async (t) => {
  const s = settingsFor([]);
  t.equal(s.foreground, false);
  t.equal(s.quietFail, true, "-Q (1)");
  t.equal(s.debugRenew, false, "-R (0)");
  t.equal(s.renewalHistorySize, 180, "-H (180)");
  t.equal(s.logfilePriority, 4, "-L (4 LOG_WARNING)");
  t.equal(s.syslogPriority, 3, "-S (3 LOG_ERR)");
  t.equal(s.maxWorkerThreads, 8, "-t (8)");
  t.equal(s.killGraceSeconds, 40, "-g (40)");
  t.equal(s.useWatchdog, true, "-w (1)");
  t.equal(s.highPriority, false, "-h (0)");
  t.equal(s.mlockLevel, 1, "-l (1)");
  t.equal(s.setBitmapSeconds, 0, "-b: 0 means 6 * io_timeout");
  t.equal(s.ourHostName, undefined, "-e: generated");
});

t.test("every daemon option is read; -D takes no value", async (t) => {
  const s = settingsFor([
    "-D",
    "-Q",
    "0",
    "-R",
    "1",
    "-H",
    "0",
    "-L",
    "-1",
    "-S",
    "7",
    "-U",
    "root",
    "-G",
    "disk",
    "-t",
    "4",
    "-g",
    "0",
    "-w",
    "0",
    "-h",
    "1",
    "-l",
    "2",
    "-b",
    "30",
    "-e",
    "host-a",
  ]);
  t.same(
    [
      s.foreground,
      s.quietFail,
      s.debugRenew,
      s.renewalHistorySize,
      s.logfilePriority,
      s.syslogPriority,
      s.socketUser,
      s.socketGroup,
      s.maxWorkerThreads,
      s.killGraceSeconds,
      s.useWatchdog,
      s.highPriority,
      s.mlockLevel,
      s.setBitmapSeconds,
      s.ourHostName,
    ],
    [true, false, true, 0, -1, 7, "root", "disk", 4, 0, false, true, 2, 30, "host-a"],
  );
});

t.test("-t below the minimum is raised to 2, as sanlock does", async (t) => {
  t.equal(settingsFor(["-t", "1"]).maxWorkerThreads, 2);
});

t.test("a bad value is rejected with a message naming the option", async (t) => {
  const cases: [string[], RegExp][] = [
    [["-w", "yes"], /-w: "yes" is not an integer/],
    [["-w", "2"], /-w: 2 is outside 0\.\.1/],
    [["-g", "61"], /-g: 61 is outside 0\.\.60/],
    [["-l", "3"], /-l: 3 is outside 0\.\.2/],
    [["-e", "x".repeat(49)], /-e: host name must be 1\.\.48 bytes/],
    [["-H", "1e3"], /-H: "1e3" is not an integer/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => settingsFor(argv), { name: "DaemonOptionError", code: "ERR_DAEMON_BAD_OPTION_VALUE", message }, argv.join(" "));
  }
});

t.test("unknown options and missing values are errors", async (t) => {
  t.throws(() => splitDaemonArgs(["-X", "1"]), { code: "ERR_DAEMON_UNKNOWN_OPTION", message: /"-X"/ });
  t.throws(() => splitDaemonArgs(["-w"]), { code: "ERR_DAEMON_MISSING_OPTION_VALUE", message: "option 'w' requires arg" });
  t.throws(() => splitDaemonArgs(["--config"]), DaemonOptionError);
});

t.test("--config selects the sanlock.conf path, default /etc/sanlock/sanlock.conf", async (t) => {
  t.equal(splitDaemonArgs([]).configPath, "/etc/sanlock/sanlock.conf");
  t.equal(splitDaemonArgs(["--config", "/x/s.conf", "-D"]).configPath, "/x/s.conf");
});

t.test("SANLOCK_RUN_DIR and SANLOCK_PRIVILEGED (wire.md §2.1, §2.2)", async (t) => {
  t.same(readDaemonEnvironment({}), { runDir: "/run/sanlock", privileged: true });
  t.same(readDaemonEnvironment({ SANLOCK_RUN_DIR: "/tmp/r", SANLOCK_PRIVILEGED: "1" }), { runDir: "/tmp/r", privileged: true });
  t.equal(readDaemonEnvironment({ SANLOCK_PRIVILEGED: "0" }).privileged, false);
  t.equal(readDaemonEnvironment({ SANLOCK_PRIVILEGED: "yes" }).privileged, false, "only the exact string 1 is privileged");
});
