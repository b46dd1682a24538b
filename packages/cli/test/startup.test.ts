// Start-up cost of the built `sanlock-ts` (issue 6): the client path, which scripts run
// over and over, must not load yargs (the biggest cost), zod, or daemon / core code.
// Structural, not a timing test: a module hook records every module the process loads.
// Needs `pnpm build` first.
import t from "tap";
import { environmentSkip } from "../../../test/support/index.js";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TOP_COMMAND_NAMES } from "../src/cli.js";
import { TOP_COMMANDS } from "../src/commands/index.js";
// bundle-loader is CommonJS (as the CLI loads it): its exports come as the default import.
import bundleLoader from "../src/bundle-loader.cjs";
import { MODULE_LOAD_LOG_IMPORT } from "./module-load-log.js";

const { BUNDLE_FILE, BUNDLE_STAMP_FILE, bundleIsFresh } = bundleLoader;

const DIST = new URL("../dist/", import.meta.url);
const CLI = fileURLToPath(new URL("main.cjs", DIST));
const COMMAND_TIMEOUT_MS = 30_000;

interface LoadedRun {
  readonly code: number;
  readonly stdout: string;
  /** Every module URL the process loaded (files and node: builtins), each once. */
  readonly urls: string[];
}

let runCount = 0;

async function runRecordingLoads(dir: string, args: string[]): Promise<LoadedRun> {
  const logPath = join(dir, `loads-${++runCount}.txt`);
  const env = { ...process.env, LOAD_LOG: logPath, SANLOCK_RUN_DIR: join(dir, "no-daemon") };
  const register = MODULE_LOAD_LOG_IMPORT;
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, ["--import", register, CLI, ...args], { env, timeout: COMMAND_TIMEOUT_MS }, (error, out) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout: out });
    });
  });
  const urls = existsSync(logPath) ? [...new Set((await readFile(logPath, "utf8")).split("\n").filter((line) => line !== ""))] : [];
  return { code, stdout, urls };
}

/** What must stay off the client path, as a pattern on module URLs. */
const NOT_ON_CLIENT_PATH: readonly [string, RegExp][] = [
  ["yargs", /\/yargs(-parser)?[@/]/],
  ["zod", /\/zod[@/]/],
  ["the daemon package", /\/packages\/daemon\/|@sanlock-ts\/daemon/],
  ["the core package", /\/packages\/core\/|@sanlock-ts\/core/],
  ["the direct-I/O commands", /\/packages\/cli\/dist\/direct\//],
  ["the yargs front end", /\/yargs-runner\.js$/],
];

t.test("the CLI is built", { skip: environmentSkip(!existsSync(CLI) && "build the CLI first (pnpm build)") }, async (t) => {
  const dir = await mkdtemp("/var/tmp/sanlock-ts-startup-");
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  t.test("client status loads no yargs, zod, daemon or core code", async (t) => {
    for (const args of [
      ["client", "status"],
      ["status", "-D"],
      ["client", "host_status", "-s", "LS"],
    ]) {
      const run = await runRecordingLoads(dir, args);
      t.equal(run.code, 1, `${args.join(" ")}: fails (no daemon), but ran`);
      t.ok(
        run.urls.some((url) => /\/dist\/(cli-bundle\.cjs|client-fast\.js)$/.test(url)),
        `${args.join(" ")}: the hook saw the client path load`,
      );
      t.ok(
        run.urls.some((url) => url === "node:net"),
        `${args.join(" ")}: and the socket module`,
      );
      for (const [what, pattern] of NOT_ON_CLIENT_PATH) {
        t.same(
          run.urls.filter((url) => pattern.test(url)),
          [],
          `${args.join(" ")}: no ${what}`,
        );
      }
    }
  });

  t.test(
    "a fresh bundle replaces the separate modules",
    { skip: environmentSkip(!bundleIsFresh(DIST) && "no fresh dist/cli-bundle.cjs (run the cli package's build script)", t) },
    async (t) => {
      const run = await runRecordingLoads(dir, ["client", "status"]);
      const cliModules = run.urls.filter((url) => url.startsWith(DIST.href));
      t.same(cliModules.map((url) => url.slice(DIST.href.length)).sort(), ["bundle-loader.cjs", "cli-bundle.cjs", "main.cjs"]);
      t.same(
        run.urls.filter((url) => url.includes("/packages/client/")),
        [],
        "the client package is inside the bundle",
      );
      t.same(
        run.urls.filter((url) => url.startsWith("file:") && !url.endsWith(".cjs")),
        [],
        "no ES module is loaded: the entry point and the bundle are CommonJS",
      );
    },
  );

  t.test(
    "the bundle holds only the client path",
    { skip: environmentSkip(!bundleIsFresh(DIST) && "no fresh dist/cli-bundle.cjs (run the cli package's build script)", t) },
    async (t) => {
      // node compiles the whole bundle on every start, so whatever a client line does not run is
      // cost: the DLM commands once pulled the core package's barrel (lease algorithms, the DLM
      // engine) in and tripled it. The core modules a client needs: the wire format and its results.
      const stamp = JSON.parse(await readFile(new URL(BUNDLE_STAMP_FILE, DIST), "utf8")) as { files: { path: string }[] };
      const inputs = stamp.files.map((file) => file.path).filter((path) => path !== BUNDLE_FILE);
      const core = inputs.filter((path) => path.includes("/core/"));
      t.ok(core.length > 0, "the wire format comes from the core package");
      t.same(
        core.filter((path) => !/\/core\/dist\/(wire\/[^/]+|results|errors|limits)\.js$/.test(path)),
        [],
        "no core module outside wire/, results, errors, limits",
      );
      t.same(
        inputs.filter((path) => /(^|\/)(dlm|lockmanager|supervise|lockmgr|direct)\//.test(path)),
        [],
        "no DLM, lock-manager, supervise or direct-I/O code",
      );
    },
  );

  t.test("commands that need yargs still get it", async (t) => {
    const run = await runRecordingLoads(dir, ["version"]);
    t.equal(run.code, 0);
    t.equal(run.stdout, "3.8.5\n");
    t.ok(
      run.urls.some((url) => /\/yargs[@/]/.test(url)),
      "version is read by yargs (the hook does see yargs)",
    );
    const odd = await runRecordingLoads(dir, ["client", "status", "-s=LS"]);
    t.ok(
      odd.urls.some((url) => url.endsWith("/yargs-runner.js")),
      "a client line outside the plain syntax goes to yargs",
    );
  });
});

t.test("cli.ts routes on the same command words as the command table", async (t) => {
  t.same([...TOP_COMMAND_NAMES].sort(), TOP_COMMANDS.map((command) => command.command.split(" ")[0]).sort());
});

t.test("a bundle is used only while every file it was made from is unchanged", async (t) => {
  const dir = await mkdtemp("/var/tmp/sanlock-ts-stamp-");
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const dirUrl = new URL(`file://${dir}/`);
  const stampFile = async (name: string): Promise<{ path: string; size: number; mtimeMs: number }> => {
    const { size, mtimeMs } = await stat(join(dir, name));
    return { path: name, size, mtimeMs };
  };
  t.equal(bundleIsFresh(dirUrl), false, "no stamp: not used");
  await writeFile(join(dir, BUNDLE_FILE), "export {};\n");
  await mkdir(join(dir, "sub"));
  await writeFile(join(dir, "sub", "input.js"), "export const a = 1;\n");
  const writeStamp = async (files: unknown): Promise<void> => writeFile(join(dir, BUNDLE_STAMP_FILE), JSON.stringify({ files }));
  await writeStamp([await stampFile("sub/input.js"), await stampFile(BUNDLE_FILE)]);
  t.equal(bundleIsFresh(dirUrl), true, "unchanged: used");
  await writeStamp([await stampFile("sub/input.js")]);
  t.equal(bundleIsFresh(dirUrl), false, "a stamp that does not list the bundle: not used");
  await writeStamp([await stampFile("sub/input.js"), await stampFile(BUNDLE_FILE), { path: "gone.js", size: 1, mtimeMs: 1 }]);
  t.equal(bundleIsFresh(dirUrl), false, "an input that is gone: not used");
  await writeStamp("garbage");
  t.equal(bundleIsFresh(dirUrl), false, "a stamp of the wrong shape: not used");
  await writeStamp([await stampFile("sub/input.js"), await stampFile(BUNDLE_FILE)]);
  const before = await stat(join(dir, "sub", "input.js"));
  await writeFile(join(dir, "sub", "input.js"), "export const a = 2;\n");
  await utimes(join(dir, "sub", "input.js"), before.atime, new Date(before.mtimeMs + 1000));
  t.equal(bundleIsFresh(dirUrl), false, "an input rebuilt since (same size, new mtime): not used");
});
