// Packs the compiled front end (dist/cli.js) with the client path it imports
// (client-fast.js and everything below it, dynamic imports included) into one
// CommonJS file, dist/cli-bundle.cjs, and records in dist/cli-bundle.stamp.json
// the size and mtime of every file it was made from; src/bundle-loader.cts uses
// the bundle only while those are unchanged. The modules cli.js imports for the
// other commands (yargs and its front end, the command table, the usage text,
// supervise, lockmgr, dlm) stay separate ES modules in dist/, loaded only when
// they run: esbuild inlines a dynamic import, and node compiles the whole file
// on every start (the DLM commands pulled the core package in and tripled the
// bundle, 460 KB against 145 KB). CommonJS, because the entry point main.cts is:
// node then starts without its ES module loader. The externals are reached only
// through import(), which CommonJS keeps. Run after tsc.
import { build } from "esbuild";
import { statSync, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const ENTRY = resolve(DIST, "cli.js");
const BUNDLE_FILE = "cli-bundle.cjs";
const STAMP_FILE = "cli-bundle.stamp.json";
/** Imports of cli.js left out of the bundle; the bundle sits in dist/ beside cli.js, so the paths stay valid. */
const LEFT_AS_FILES = new Set([
  "./yargs-runner.js",
  "./commands/index.js",
  "./usage.js",
  "./commands/info.js",
  "./supervise/run.js",
  "./lockmgr/run.js",
  "./dlm/run.js",
]);
// Never part of the client path; left as imports so that packages/cli/test/startup.test.ts sees them if they were.
// exec-holder (client command only) imports the daemon's libc module: it stays its own file, loaded by package name.
const NEVER_BUNDLED = ["yargs", "zod", "@sanlock-ts/daemon", "@sanlock-ts/daemon/*", "@sanlock-ts/cli/exec-holder"];

const leaveSeparateFiles = {
  name: "leave-separate-files",
  setup(build) {
    build.onResolve({ filter: /^\.\// }, (args) => (args.importer === ENTRY && LEFT_AS_FILES.has(args.path) ? { path: args.path, external: true } : undefined));
  },
};

const result = await build({
  entryPoints: [ENTRY],
  outfile: resolve(DIST, BUNDLE_FILE),
  absWorkingDir: DIST,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: NEVER_BUNDLED,
  plugins: [leaveSeparateFiles],
  metafile: true,
  logLevel: "warning",
});

const stamped = (absolutePath) => {
  const { size, mtimeMs } = statSync(absolutePath);
  return { path: relative(DIST, absolutePath), size, mtimeMs };
};
const inputs = Object.keys(result.metafile.inputs).map((path) => stamped(resolve(DIST, path)));
const files = [...inputs, stamped(resolve(DIST, BUNDLE_FILE))];
writeFileSync(resolve(DIST, STAMP_FILE), `${JSON.stringify({ files }, null, 1)}\n`);
console.log(`bundle-cli: ${BUNDLE_FILE} from ${inputs.length} modules`);
