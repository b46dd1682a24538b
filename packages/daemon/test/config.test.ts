import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ConfigError, parseConfigText, readConfigFile, settingsFromConfig } from "../src/config.js";
import { resolveSettings } from "../src/main.js";

t.test("sanlock.conf lines as sanlock reads them (key = value, comments, blanks)", async (t) => {
  const text = [
    "# sanlock configuration",
    "",
    "use_watchdog = 0",
    "quiet_fail=0",
    "renewal_history_size = 10   trailing words are ignored",
    "our_host_name = host-b",
    "uname = sanlock",
    "max_sectors_kb = ignore",
    "debug_cmd = +acquire",
    "debug_cmd = -inq_lockspace",
    "max_worker_threads = 1",
    "",
  ].join("\n");
  const { config, warnings } = parseConfigText(text, "test.conf");
  t.same(warnings, []);
  t.equal(config.use_watchdog, false);
  t.equal(config.quiet_fail, false);
  t.equal(config.renewal_history_size, 10);
  t.equal(config.our_host_name, "host-b");
  t.equal(config.max_sectors_kb, "ignore");
  t.same(config.debug_cmd, ["+acquire", "-inq_lockspace"]);
  const settings = settingsFromConfig(config);
  t.equal(settings.useWatchdog, false);
  t.equal(settings.ourHostName, "host-b");
  t.equal(settings.socketUser, "sanlock");
  t.equal(settings.maxWorkerThreads, 2, "raised to the minimum like sanlock");
});

t.test("a later line wins; unknown keys are ignored with a warning", async (t) => {
  const { config, warnings } = parseConfigText("mlock_level = 0\nmlock_level = 2\nfoo = 1\n", "c");
  t.equal(config.mlock_level, 2);
  t.same(warnings, ['line 3: unknown key "foo" ignored']);
});

t.test("a bad value is rejected naming the key, the file and the line", async (t) => {
  const cases: [string, RegExp][] = [
    ["use_watchdog = on", /^c:1: bad value for use_watchdog \("on"\)/],
    ["\nmlock_level = 5", /^c:2: bad value for mlock_level \("5"\)/],
    ["max_sectors_kb = 3", /bad value for max_sectors_kb/],
    ["debug_cmd = acquire", /bad value for debug_cmd/],
    [`our_host_name = ${"h".repeat(49)}`, /bad value for our_host_name/],
    ["logfile_priority =", /c:1: logfile_priority has no value/],
  ];
  for (const [text, message] of cases) {
    t.throws(() => parseConfigText(text, "c"), { name: "ConfigError", code: "ERR_DAEMON_CONFIG_BAD_VALUE", message }, text);
  }
  t.throws(() => parseConfigText("x".repeat(200), "c"), ConfigError, "over-long line");
});

t.test("config file: missing is empty; command line overrides it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "slts-conf-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(readConfigFile(join(dir, "absent.conf")), { config: {}, warnings: [] });
  const path = join(dir, "sanlock.conf");
  writeFileSync(path, "use_watchdog = 0\nrenewal_history_size = 7\nhigh_priority = 1\n");
  const fromFile = (await resolveSettings(["--config", path])).settings;
  t.equal(fromFile.useWatchdog, false);
  t.equal(fromFile.renewalHistorySize, 7);
  const overridden = (await resolveSettings(["--config", path, "-H", "9", "-h", "0"])).settings;
  t.equal(overridden.renewalHistorySize, 9);
  t.equal(overridden.highPriority, false);
  writeFileSync(path, "use_watchdog = maybe\n");
  await t.rejects(resolveSettings(["--config", path]), { code: "ERR_DAEMON_CONFIG_BAD_VALUE", message: /use_watchdog/ });
  const absent = await resolveSettings(["--config", join(dir, "absent.conf"), "-H", "9"]);
  t.same(
    absent,
    { settings: { ...settingsFromConfig({}), renewalHistorySize: 9 }, warnings: [] },
    "no file: the defaults and the command line, as with an empty file",
  );
});
