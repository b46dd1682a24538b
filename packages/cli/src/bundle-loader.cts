/**
 * Loads the command-line front end (cli.ts). After tsc, the build may pack it
 * with the client path it imports into one CommonJS file, dist/cli-bundle.cjs
 * (scripts/bundle-cli.mjs): loading one file instead of some thirty modules is
 * most of what is left of the start-up cost of `sanlock-ts client ...` once
 * yargs is off that path. The modules of the other commands stay separate ES
 * modules, loaded when they run. The bundle is used only while every file it was
 * made from is unchanged (size and mtime, as recorded next to it); otherwise, or
 * when there is none, the compiled modules are loaded as they are: a stale bundle
 * never runs.
 *
 * CommonJS, like main.cts, so that the entry point reaches the bundle with
 * `require` alone.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export type CliModule = typeof import("./cli.js", { with: { "resolution-mode": "import" }});

export const BUNDLE_FILE = "cli-bundle.cjs";
/** Written by scripts/bundle-cli.mjs: what the bundle was made from. */
export const BUNDLE_STAMP_FILE = "cli-bundle.stamp.json";
/** More inputs than the bundle has; a longer list is not ours. */
export const MAX_STAMP_FILES = 500;

/** One file the bundle was made from (or the bundle itself), as it was then. */
export interface StampedFile {
  /** Relative to the directory of the bundle. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

function isStampedFile(value: unknown): value is StampedFile {
  const file = value as StampedFile;
  return typeof file === "object" && file !== null && typeof file.path === "string" && typeof file.size === "number" && typeof file.mtimeMs === "number";
}

/** True when the stamp in `dir` lists the bundle and every file it lists is unchanged. */
export function bundleIsFresh(dir: URL): boolean {
  let files: unknown;
  try {
    files = (JSON.parse(readFileSync(new URL(BUNDLE_STAMP_FILE, dir), "utf8")) as { files?: unknown }).files;
  } catch {
    return false; // no stamp (no bundle was made) or an unreadable one
  }
  if (!Array.isArray(files) || files.length > MAX_STAMP_FILES || !files.every(isStampedFile)) return false;
  if (!files.some((file) => file.path === BUNDLE_FILE)) return false;
  return files.every((file) => {
    const now = statSync(new URL(file.path, dir), { throwIfNoEntry: false });
    return now !== undefined && now.size === file.size && now.mtimeMs === file.mtimeMs;
  });
}

export async function loadCli(): Promise<CliModule> {
  if (bundleIsFresh(pathToFileURL(`${__dirname}/`))) return require(join(__dirname, BUNDLE_FILE)) as CliModule;
  return import("./cli.js");
}
